"""pycore test suite: unit/ (no root), integration/ (real store, CLI), interop/ (peers)."""
