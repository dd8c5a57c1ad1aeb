"""Helpers shared by the whole test suite: image builders, schema validation."""
