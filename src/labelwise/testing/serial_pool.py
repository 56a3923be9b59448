"""A stand-in for ``multiprocessing.Pool`` that runs ``starmap`` as a loop in this process, for calling a peer
(cleanlab's ``object_detection``, which starts a process pool per class and IoU threshold) in tests and benchmarks:
the results are the same and no process is started.

    monkeypatch.setattr(cleanlab.object_detection.filter, "Pool", SerialPool)
"""

from __future__ import annotations

__all__ = ["SerialPool"]


class SerialPool:
    """``Pool(processes)`` with ``starmap(fn, args) -> [fn(*a) for a in args]`` and a no-op ``close``."""

    def __init__(self, processes=None):
        self.processes = processes

    def starmap(self, fn, args):
        return [fn(*a) for a in args]

    def close(self):
        pass
