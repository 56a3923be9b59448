"""labelwise.review: people check flagged labels; every change is an event in an append-only log.

Needs the ``review`` extra (``pip install 'labelwise[review]'``). ``store`` (the database: ``database``, ``items``,
``accounts``, ``snapshot``), ``app`` (the web app), ``project`` (an audit folder as a project; the export). The
security model and what an export guarantees: ``docs/review.md``.
"""
