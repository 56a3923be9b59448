"""labelwise.link: record linkage, de-duplication and aggregation with sentence embeddings.

After LinkTransformer (Arora & Dell 2023, "LinkTransformer: A Unified Package for Record Linkage with Transformer
Language Models"; clean-room, no code taken from its GPL-3.0 implementation):

- :func:`link` (``left (n, ...)``, ``right (m, ...)`` -> :class:`LinkResult` with ``pairs`` ``left_id, right_id,
  score`` and ``merged``): serialise, embed, retrieve (embedding and character n-gram neighbours), score each pair
  with the hybrid scorer of :mod:`labelwise.link.score` (per-column lexical comparisons and the embedding cosine,
  Fellegi-Sunter weights fitted by EM without labels: a match probability), one-to-one by default, threshold at the
  maximum expected F1.
- :func:`choose_threshold`: the threshold maximising F1 on a few labelled pairs.
- :func:`dedupe`: ``cluster_id`` and ``representative`` per row: the table linked to itself with the same hybrid
  scorer, pairs clustered by average linkage at match probability 0.5.
- :func:`aggregate`: nearest category and score per row.
- :func:`evaluate`: precision, recall and F1 of pairs against the truth.
- :func:`fine_tune`: contrastive fine-tuning (needs the ``torch`` extra, imported when it runs).

These names are imported with the package (pandas and scipy come with them; the encoder loads when it first
embeds). Not lazily: ``dedupe``, ``aggregate`` and ``evaluate`` share their names with the modules that define
them, and a lazily exported name would be replaced by its module whenever that module is imported first.
``import labelwise`` does not import this package.
"""

from __future__ import annotations

from labelwise.link.aggregate import aggregate
from labelwise.link.dedupe import dedupe
from labelwise.link.evaluate import evaluate
from labelwise.link.finetune import fine_tune
from labelwise.link.merge import LinkResult, link
from labelwise.link.threshold import ThresholdChoice, choose_threshold, unsupervised_threshold

__all__ = ["link", "LinkResult", "choose_threshold", "unsupervised_threshold", "ThresholdChoice", "dedupe",
           "aggregate", "evaluate", "fine_tune"]
