"""Typed models of the OCI image formats: parse once at the edge, never pass raw dicts on."""
