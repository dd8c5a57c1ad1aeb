#!/usr/bin/env bash
# The main job on a fresh machine: install pycore, make a base image offline from Debian's
# busybox-static, list it, and run a real container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PYCORE_ROOT="${PYCORE_ROOT:-/var/lib/pycore}"
pycore image bootstrap busybox
pycore images
if pycore run --help >/dev/null 2>&1; then
  pycore run --rm busybox echo "hello from a pycore container"
fi
