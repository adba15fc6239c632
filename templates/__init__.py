"""Jinja templates of the device program's skeleton, one folder per target."""
