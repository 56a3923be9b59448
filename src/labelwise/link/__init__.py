"""labelwise.link: record linkage, de-duplication and aggregation with sentence embeddings.

After LinkTransformer (Arora & Dell 2023, "LinkTransformer: A Unified Package for Record Linkage with Transformer
Language Models"; clean-room, no code taken from its GPL-3.0 implementation):

- :func:`link` (``left (n, ...)``, ``right (m, ...)`` -> :class:`LinkResult` with ``pairs`` ``left_id, right_id,
  score`` and ``merged``): serialise, embed, retrieve, threshold, optionally one-to-one.
- :func:`choose_threshold`: the threshold maximising F1 on a few labelled pairs.
- :func:`dedupe`: ``cluster_id`` and ``representative`` per row.
- :func:`aggregate`: nearest category and score per row.
- :func:`evaluate`: precision, recall and F1 of pairs against the truth.
- :func:`fine_tune`: contrastive fine-tuning (needs the ``torch`` extra).

Names load on first access, so ``import labelwise.link`` imports no scipy, scikit-learn or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "link": "labelwise.link.merge",
    "LinkResult": "labelwise.link.merge",
    "choose_threshold": "labelwise.link.threshold",
    "unsupervised_threshold": "labelwise.link.threshold",
    "ThresholdChoice": "labelwise.link.threshold",
    "dedupe": "labelwise.link.dedupe",
    "aggregate": "labelwise.link.aggregate",
    "evaluate": "labelwise.link.evaluate",
    "serialise": "labelwise.link.serialise",
    "fine_tune": "labelwise.link.finetune",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labelwise.link' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
