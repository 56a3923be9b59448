"""labelwise.cli."""
