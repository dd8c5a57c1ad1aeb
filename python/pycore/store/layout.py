"""The only place paths under the root are built.

```
VERSION  lock  tmp/
blobs/sha256/<hex>        manifests, configs, compressed layers; immutable, read-only
layers/<diff-id-hex>/     unpacked layers (overlay whiteout format); appear by rename
images/index.json         reference -> manifest digest; rewritten by rename
downloads/<hex>           partial blob downloads, kept across crashes so a pull resumes
containers/<id>/  volumes/<name>/_data  build-cache/
```
"""

from __future__ import annotations

from pathlib import Path

from pycore.digest import Digest
from pycore.structs import struct

STORE_VERSION = "1"


@struct(frozen=True, slots=True)
class Layout:
    """Paths of one store root. Pure: builds paths, never touches the disk."""

    root: Path

    @property
    def version_file(self) -> Path:
        return self.root / "VERSION"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    def blob(self, digest: Digest) -> Path:
        return self.blobs / digest.hex

    @property
    def downloads(self) -> Path:
        """Partial registry downloads; not under `tmp/`, whose sweep would lose them."""
        return self.root / "downloads"

    def download(self, digest: Digest) -> Path:
        return self.downloads / digest.hex

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    def layer(self, diff_id: Digest) -> Path:
        return self.layers / diff_id.hex

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def image_index(self) -> Path:
        return self.images_dir / "index.json"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    def container(self, container_id: str) -> Path:
        return self.containers / container_id

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def build_cache(self) -> Path:
        return self.root / "build-cache"

    def all_dirs(self) -> tuple[Path, ...]:
        """Directories that exist in every initialised store."""
        return (
            self.tmp,
            self.blobs,
            self.layers,
            self.images_dir,
            self.downloads,
            self.containers,
            self.volumes,
            self.build_cache,
        )
