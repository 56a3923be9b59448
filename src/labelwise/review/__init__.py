"""labelwise.review: people check flagged labels; every change is an event in an append-only log.

Needs the ``review`` extra (``pip install 'labelwise[review]'``). ``store.py`` reads and writes the review database,
``project.py`` opens a project from an audit's folder and exports the decisions, ``app.py`` is the web app.
"""
