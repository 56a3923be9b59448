"""labelwise.audit."""
