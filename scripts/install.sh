#!/usr/bin/env bash
# Installs everything pycore and its tests need on a fresh Debian machine of this kind
# (root, Rust toolchain and Python 3.11 present), then builds and installs pycore itself.
# Idempotent: a second run only re-checks. Used by both README commands and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  busybox-static debootstrap   # offline base images
  skopeo umoci podman crun     # interop partners and speed references
  docker-registry              # the reference registry, on 127.0.0.1 in tests
  pigz zstd hyperfine wrk      # benchmark references
  nftables iproute2            # container networking (bridge, veth, published ports)
  gcc                          # tests compile small attack programs (CVE checks)
  uidmap fuse-overlayfs        # podman's helpers
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install: apt packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  "maturin>=1.5,<2" "pytest>=8" "jsonschema>=4.18" "ruff>=0.6" "mypy>=1.10" "bcrypt>=4"
# Editable install: builds the Rust extension (release profile) and the `pycore` command.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  --no-build-isolation -e .
# The container monitor as its own small program (a few MB of RSS instead of a forked Python
# interpreter's); the runtime finds it in pycore/_bin/ next to the extension.
cargo build -q --release --bin pycore-monitor
install -D -m 0755 target/release/pycore-monitor python/pycore/_bin/pycore-monitor
# Byte-compile now: an editable install has no .pyc files, and PYTHONDONTWRITEBYTECODE may be
# set, which would make every `pycore` invocation compile its modules again.
python3 -m compileall -q python/pycore
