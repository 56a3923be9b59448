"""labelwise.scale: running the heavy stages past one machine's memory or on more than one machine.

Modules (each imported on its own; this package imports nothing):

- ``labelwise.scale.chunks``: probabilities on disk or in Arrow (a memmap, an ``.npy`` path, a Parquet file or
  directory, a ``pyarrow`` dataset or table) read in row chunks with bounded memory; the streaming confident
  learning in :mod:`labelwise.audit.label_errors` reads through it.
"""
