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

from pycore.digest import Digest
from pycore.structs import struct

STORE_VERSION = "1"


@struct(frozen=True, slots=True)
class Layout:
    """Paths of one store root. Pure: builds paths, never touches the disk. Paths are strings
    (pathlib, with the re, urllib and ipaddress it loads, would cost every CLI start)."""

    root: str

    @property
    def version_file(self) -> str:
        return f"{self.root}/VERSION"

    @property
    def lock_file(self) -> str:
        return f"{self.root}/lock"

    @property
    def tmp(self) -> str:
        return f"{self.root}/tmp"

    @property
    def blobs(self) -> str:
        return f"{self.root}/blobs/sha256"

    def blob(self, digest: Digest) -> str:
        return f"{self.blobs}/{digest.hex}"

    @property
    def downloads(self) -> str:
        """Partial registry downloads; not under `tmp/`, whose sweep would lose them."""
        return f"{self.root}/downloads"

    def download(self, digest: Digest) -> str:
        return f"{self.downloads}/{digest.hex}"

    @property
    def layers(self) -> str:
        return f"{self.root}/layers"

    def layer(self, diff_id: Digest) -> str:
        return f"{self.layers}/{diff_id.hex}"

    @property
    def images_dir(self) -> str:
        return f"{self.root}/images"

    @property
    def image_index(self) -> str:
        return f"{self.images_dir}/index.json"

    @property
    def containers(self) -> str:
        return f"{self.root}/containers"

    def container(self, container_id: str) -> str:
        return f"{self.containers}/{container_id}"

    @property
    def volumes(self) -> str:
        return f"{self.root}/volumes"

    @property
    def build_cache(self) -> str:
        return f"{self.root}/build-cache"

    def all_dirs(self) -> tuple[str, ...]:
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
