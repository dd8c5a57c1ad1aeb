#!/usr/bin/env bash
# The whole test suite: set-up, lints on both sides, Rust tests, then pytest (as root, the
# privileged tests run for real). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

step() { printf '\n== %s\n' "$*" >&2; }
step "lint: ruff"
ruff check python tests benches
ruff format --check python tests benches
step "lint: mypy --strict"
mypy python/pycore
step "lint: stub matches the native module"
python3 -m mypy.stubtest pycore._native
step "lint: cargo fmt / clippy"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --all-targets --features python -- -D warnings
step "rust tests"
cargo test --quiet
step "python tests"
python3 -m pytest -q -p no:cacheprovider "$@"
