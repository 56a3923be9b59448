"""labelwise.data."""
