"""Everything under the root: blobs, layers, the image index, locks and crash repair."""
