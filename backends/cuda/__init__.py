"""The cuda target."""
