"""Containers: run options, the OCI runtime spec built from an image and those options (pure),
the container records under `<root>/containers/`, and the container service. The Rust runtime
(`pycore.native.start_container`) runs what this package prepares."""
