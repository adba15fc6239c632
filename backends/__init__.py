"""Targets: each a dialect for the C-family printer, a toolchain check and (later) a loader."""
