#!/usr/bin/env bash
# What the benchmarks need beyond scripts/install.sh: Debian's docker.io (dockerd 20.10 with
# containerd and runc) as a reference for container start. benches/run.py starts its own
# private dockerd and stops it; the package's service must never start on its own, so the
# install runs under a policy-rc.d that refuses service starts (unless one is already there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if ! dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q "install ok installed"; then
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  echo "install-bench: apt packages: docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
fi
