"""Floe's real-client compatibility harness (see tests/compat/README.md)."""
