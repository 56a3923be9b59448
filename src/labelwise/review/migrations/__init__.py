"""Alembic migrations of the review database. ``labelwise.review.store.upgrade_schema`` runs them on open."""
