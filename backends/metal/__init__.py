"""The metal target."""
