"""Alembic environment for the review database.

Migrations run through :func:`labelwise.review.store.upgrade_schema`, which hands over an open connection, so
SQLite and PostgreSQL go through the same path. To add a revision, copy the newest file in ``versions/``, give it
the next number as ``revision`` and the previous one as ``down_revision``, and update ``schema.py`` to match
(``tests/review/test_migrations.py`` fails until the two agree).
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run the review migrations through labelwise.review.store.upgrade_schema(engine).")
# render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table instead
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
