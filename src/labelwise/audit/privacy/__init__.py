"""labelwise.audit.privacy: what a model leaks about its training data through its predicted labels alone.

:func:`privacy_audit` runs LOKT's label-only model inversion (seed paper 20, Nguyen et al., NeurIPS 2023) and its
baselines against a model of yours, reached only through its hard labels (a callable, a fitted scikit-learn model
file, or your own HTTP endpoint), and measures how recognisable the reconstructions of each private class are.
The algorithms are in :mod:`labelwise.audit.privacy.inversion` (arrays), the target access in
:mod:`labelwise.audit.privacy.target`. For auditing your own models; see docs/privacy.md.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from labelwise.audit.privacy.inversion import (DEFAULT_MAX_QUERIES, DEFAULT_MAX_SECONDS, InversionAudit,
                                               label_only_inversion)
from labelwise.audit.privacy.target import HttpLabelTarget, load_model_target, open_target
from labelwise.errors import DataError

__all__ = ["privacy_audit", "privacy_arrays", "label_only_inversion", "InversionAudit", "HttpLabelTarget",
           "load_model_target", "open_target"]


def privacy_arrays(data, public, *, label: str, features: Optional[Sequence[str]] = None,
                   embeddings: Optional[str] = None, encoding: Optional[str] = None, sep: Optional[str] = None):
    """The model's inputs from two tables: ``(X_private: (n, d), codes: (n,) int, classes, X_public: (m, d))``.

    data: the private table the model was trained on (path or DataFrame) with its ``label`` column; public: rows of
    the same kind the model never saw (the attacker's data; its labels, if any, are not read). The inputs are the
    numeric ``features`` columns, in that order, or the vectors of the ``embeddings`` column."""
    from labelwise.data import read_table
    from labelwise.data.dataset import parse_embeddings

    if (features is None) == (embeddings is None):
        raise DataError("the privacy audit reads the model's inputs from numeric --features columns or one "
                        "--embeddings column: give exactly one of them.")
    frames = []
    for name, source, needed in (("data", data, [label]), ("public data", public, [])):
        frame = read_table(source, encoding=encoding, sep=sep)
        wanted = needed + (list(features) if features is not None else [embeddings])
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataError(f"the {name} {str(source)[:200]} has no column {missing[0]!r}; its columns: "
                            f"{', '.join(map(str, frame.columns[:20]))}.")
        frames.append(frame)
    arrays = []
    for frame, source in zip(frames, (data, public)):
        if embeddings is not None:
            arrays.append(parse_embeddings(frame[embeddings], column=embeddings, source=str(source)).astype(float))
            continue
        try:
            block = frame[list(features)].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"the privacy audit needs numeric --features; a column of {str(source)[:200]} is not "
                            "numeric.") from None
        if not np.isfinite(block).all():
            row = int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise DataError(f"row {row} of {str(source)[:200]} has a missing or infinite feature; fill or drop it.")
        arrays.append(block)
    labels = frames[0][label]
    if labels.isna().any():
        raise DataError(f"row {int(np.flatnonzero(labels.isna())[0])} of the data has no label in {label!r}; the "
                        "privacy audit needs every training row's class.")
    classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
    return arrays[0], codes.astype(np.int64), list(classes), arrays[1]


def privacy_audit(data, public, target, *, label: str, features: Optional[Sequence[str]] = None,
                  embeddings: Optional[str] = None, encoding: Optional[str] = None, sep: Optional[str] = None,
                  max_queries: int = DEFAULT_MAX_QUERIES, max_seconds: float = DEFAULT_MAX_SECONDS,
                  timeout: float = 10.0, random_state: int = 0, **settings) -> InversionAudit:
    """Audit ``target`` (a callable, a model file path or an http(s) URL: :func:`open_target`) trained on the
    table ``data`` with LOKT and its baselines, the attacker holding ``public``; see :func:`privacy_arrays` and
    :func:`~labelwise.audit.privacy.inversion.label_only_inversion` (``settings``)."""
    X_private, codes, classes, X_public = privacy_arrays(data, public, label=label, features=features,
                                                         embeddings=embeddings, encoding=encoding, sep=sep)
    if len(classes) < 2:
        raise DataError("the privacy audit needs a model of at least 2 classes; the data's label column has one.")
    is_url = isinstance(target, str) and target.lower().startswith("http")
    options = {"timeout": timeout, "max_seconds": max_seconds} if is_url else {}
    return label_only_inversion(open_target(target, **options), X_public, X_private, codes, classes=classes,
                                max_queries=max_queries, max_seconds=max_seconds, random_state=random_state,
                                **settings)
