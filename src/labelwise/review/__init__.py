"""labelwise.review: people check flagged labels; every change is an event in an append-only log.

Needs the ``review`` extra (``pip install 'labelwise[review]'``). The store is here; the web app is not built yet.
"""
