"""labelwise.features."""
