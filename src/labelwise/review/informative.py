"""The review queue ordered by what is most informative to label next, refit in the background as decisions arrive.

A model is refit on the audit's features with the labels as reviewed so far (a reviewer's decision overrides the
given label), and the rows nobody has reviewed yet are ranked by an active-selection strategy of
:mod:`labelwise.generate.select` (``margin`` by default: the rows whose two most probable classes are closest first).
The probabilities are out-of-fold, as in the audit, so a row's own (possibly wrong) label does not make the model
sure of it. With several reviewers per item a row counts as reviewed once all its reviewers have answered (labelled
with their majority vote), so the order never tells a reviewer that someone else answered an item still in their queue.

:class:`InformativeOrder` runs the refits on one worker thread. A decision only counts
(:meth:`~InformativeOrder.decided`); the refit starts after every ``refit_every`` decisions, or ``refit_seconds``
after the first decision since the last refit, whichever comes first. Decisions that arrive during a refit wait for
the next one: at most one refit is ever pending (a queue of one), so a burst of decisions costs one refit, and no
request ever waits for one. Until the first refit is done, and after a refit fails (logged on the
``labelwise.review`` logger, never shown as a crash), the queue is in label-quality order. The order lives in memory
only; a restarted server refits once at start. A refit shares the server's process (and its GIL): pages are
answered while it runs, though they may be slower meanwhile.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from labelwise.audit.result import AuditResult
from labelwise.errors import DataError, ParameterError

logger = logging.getLogger("labelwise.review")

#: the strategies of labelwise.generate.select that rank rows (rad draws a sample, random informs nothing)
ORDER_STRATEGIES = ("margin", "least_confidence", "entropy", "k_center")
#: how many rows k_center ranks (its greedy picks cost a pass over every row each); the rest follow by label quality
K_CENTER_HEAD = 500


def _check_strategy(strategy: str) -> None:
    if strategy not in ORDER_STRATEGIES:
        raise ParameterError(f"--strategy for the review order must be one of {', '.join(ORDER_STRATEGIES)}; got "
                             f"{strategy!r}.")


def rank_for_review(pred_probs, reviewed, label_quality, *, strategy: str = "margin", embeddings=None,
                    random_state=0) -> np.ndarray:
    """The review order of the audited rows: ``(n,) int`` positions, a permutation of ``range(n)``.

    pred_probs: (n, k) float, the refit model's probabilities; reviewed: (n,) bool, rows a person decided;
    label_quality: (n,) float from the audit; embeddings: (n, d) float, for ``k_center``. The rows not reviewed come
    first, in the order :func:`labelwise.generate.select.select_next` picks them with ``strategy`` (``k_center``:
    its first :data:`K_CENTER_HEAD` picks, seeded with the reviewed rows), then any left unranked by label quality,
    then the reviewed rows by label quality.
    """
    from labelwise.generate.select import select_next

    _check_strategy(strategy)
    reviewed = np.asarray(reviewed, dtype=bool)
    quality = np.asarray(label_quality, dtype=np.float64)
    labelled = np.flatnonzero(reviewed)
    free = len(reviewed) - len(labelled)
    budget = min(free, K_CENTER_HEAD) if strategy == "k_center" else free
    head = select_next(pred_probs, embeddings, strategy=strategy, budget=budget, labelled=labelled,
                       random_state=random_state)
    by_quality = np.argsort(quality, kind="stable")
    taken = np.zeros(len(reviewed), dtype=bool)
    taken[head] = True
    rest = by_quality[~taken[by_quality] & ~reviewed[by_quality]]
    return np.concatenate([head, rest, by_quality[reviewed[by_quality]]]).astype(np.int64)


def check_refittable(audit: AuditResult, strategy: str = "margin") -> None:
    """Raise ParameterError for a strategy that does not rank rows, DataError for an audit no model can be refit on
    (multi-label; no features, as with your own ``--pred-probs``; the table gone and no texts kept)."""
    from labelwise.audit.feature_space import ENCODERS

    _check_strategy(strategy)
    settings = audit.settings or {}
    if audit.multi_label:
        raise DataError("The informative order needs a single-label audit; this one is multi-label. Use --order "
                        "quality.")
    if not any(settings.get(key) for key in ("text_columns", "feature_columns", "embedding_column")):
        raise DataError("This audit has no features to refit a model on (it used your own --pred-probs). Audit with "
                        "--text, --features or --embeddings, or use --order quality.")
    table_at_hand = audit.source_path is not None and Path(audit.source_path).is_file()
    texts_suffice = (audit.texts is not None and settings.get("encoder") in ENCODERS
                     and not settings.get("feature_columns") and not settings.get("embedding_column"))
    if not table_at_hand and not texts_suffice:
        raise DataError(f"The audited table {audit.source_path or audit.source} is not at hand to rebuild the "
                        "features from. Put it back where it was audited, or use --order quality.")


def audit_features(audit: AuditResult, progress=None):
    """``(X, kind)``: the audit's features again (``X`` (n, d) dense or sparse, one row per audited row; ``kind`` as
    :func:`labelwise.audit.out_of_fold.default_classifier` takes it), rebuilt from the audited table with the audit's
    settings (text embeddings come from the embedding cache the audit filled), or from the texts the audit kept when
    the table has moved. Raises DataError when neither is possible (:func:`check_refittable`)."""
    from labelwise.audit.feature_space import features_for, text_encoder

    check_refittable(audit)
    settings = audit.settings or {}
    encoder = settings.get("encoder") or "minilm"
    if audit.source_path is not None and Path(audit.source_path).is_file():
        from labelwise.data import load_labelled_table

        table = load_labelled_table(audit.source_path, label=audit.label_column, text=settings.get("text_columns"),
                                    features=settings.get("feature_columns"),
                                    embeddings=settings.get("embedding_column"),
                                    delimiter=settings.get("label_delimiter"),
                                    drop_missing=(audit.n_input_rows or audit.n_rows) > audit.n_rows,
                                    encoding=settings.get("encoding"), sep=settings.get("sep"))
        if not np.array_equal(np.asarray(table.row_ids), audit.row_ids):
            raise DataError(f"{audit.source_path} has changed since the audit (other rows). Audit it again.")
        space = features_for(table, encoder, progress)
        return space.X, space.kind
    if encoder == "tfidf":
        from labelwise.features import TfidfEncoder

        return TfidfEncoder().fit_transform(audit.texts), "sparse"
    from labelwise.features.base import embed

    return embed(text_encoder(encoder), audit.texts, progress), "dense"


def refit_probabilities(X, labels: np.ndarray, n_classes: int, kind: str, random_state=0) -> np.ndarray:
    """Out-of-fold probabilities ``(n, k) float`` of the audit's kind of classifier on ``labels: (n,) int``, with a
    fixed regularisation (no inner search: a refit must come back while the reviewers are still at it)."""
    from labelwise.audit.out_of_fold import LARGE_TABLE_ROWS, default_classifier, out_of_fold_probabilities
    from labelwise.audit.workflow import feasible_folds

    counts = np.bincount(labels, minlength=n_classes)
    folds = feasible_folds(None, len(labels), counts, "label", "the reviewed labels", [])
    model = default_classifier(kind, n_rows=max(len(labels), LARGE_TABLE_ROWS), random_state=random_state)
    return out_of_fold_probabilities(X, labels, n_classes=n_classes, classifier=model, n_folds=folds,
                                     random_state=random_state)


@dataclass(frozen=True)
class OrderState:
    """One refit's order: ``rank`` (data row -> place in the queue, 0 first), the strategy, when it was refit
    (UTC), how many rows had a reviewer's decision then, and the refit's number (1 for the first)."""

    rank: dict
    strategy: str
    refit_at: _dt.datetime
    n_reviewed: int
    refit: int

    def describe(self) -> str:
        return (f"most informative first ({self.strategy}, model refit at {self.refit_at:%H:%M:%S} UTC on the labels "
                f"with {self.n_reviewed:,} reviewer decisions)")


class InformativeOrder:
    """Keeps the review queue's informative order fresh on a worker thread (see the module's docstring).

    store, project_id: the review project; audit: its audit (rows, classes, label quality). strategy: one of
    :data:`ORDER_STRATEGIES`. features: ``() -> (X, kind)`` (default :func:`audit_features` of ``audit``, computed
    on the worker at its first refit); fit: ``(X, labels (n,) int, n_classes, kind) -> (n, k) float``
    probabilities (default :func:`refit_probabilities`).
    """

    def __init__(self, store, project_id: int, audit: AuditResult, *, strategy: str = "margin",
                 refit_every: int = 10, refit_seconds: float = 30.0,
                 features: Optional[Callable[[], tuple]] = None, fit: Optional[Callable] = None, random_state=0):
        _check_strategy(strategy)
        if refit_every < 1 or not refit_seconds > 0:
            raise ParameterError(f"refit every 1 or more decisions and after more than 0 seconds; got {refit_every} "
                                 f"and {refit_seconds}.")
        self.store, self.project_id, self.audit = store, project_id, audit
        self.strategy, self.refit_every, self.refit_seconds = strategy, refit_every, refit_seconds
        self.random_state = random_state
        self._features = features or (lambda: audit_features(audit))
        self._fit = fit or (lambda X, y, k, kind: refit_probabilities(X, y, k, kind, random_state))
        self._X = None
        self._state: Optional[OrderState] = None
        self.error: Optional[str] = None  # why the last refit failed, None after a good one
        self.refits = 0  # refits attempted so far, good or failed
        self._pending = 0  # decisions since the last refit began
        self._first_pending = None  # time.monotonic() of the first of them
        self._changed = threading.Condition()
        self._stop = False
        self._thread: Optional[threading.Thread] = None

    # ---- what the app calls ------------------------------------------------------------------------------------

    def current(self) -> Optional[OrderState]:
        """The order to show, or None: show label-quality order (no refit done yet, or the last one failed)."""
        return self._state

    def decided(self) -> None:
        """Count a reviewer's decision; wakes the worker when ``refit_every`` have arrived. Never waits for a refit."""
        with self._changed:
            self._pending += 1
            if self._first_pending is None:
                self._first_pending = time.monotonic()
            self._changed.notify_all()

    def start(self) -> "InformativeOrder":
        """Start the worker; its first refit begins at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="labelwise-refit", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker: it ends after the refit in progress, if any (waited for up to ``timeout`` seconds; the
        thread is a daemon, so a longer one never holds the process)."""
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_refit(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until ``count`` refits have been attempted (for tests and scripts); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.refits >= count, timeout)

    # ---- the worker --------------------------------------------------------------------------------------------

    def _due(self, now: float) -> bool:
        return self._pending >= self.refit_every or (
            self._first_pending is not None and now - self._first_pending >= self.refit_seconds)

    def _run(self) -> None:
        first = True
        while True:
            with self._changed:
                while not (self._stop or first or self._due(time.monotonic())):
                    waited = None if self._first_pending is None else max(
                        self.refit_seconds - (time.monotonic() - self._first_pending), 0.01)
                    self._changed.wait(waited)
                if self._stop:
                    return
                first = False
                self._pending, self._first_pending = 0, None
            self._refit_once()

    def _refit_once(self) -> None:
        try:
            state = self._refit()
            error = None
        except Exception as err:  # any failure: fall back to label-quality order, say why in the log
            state, error = None, f"{type(err).__name__}: {err}"
            logger.warning("labelwise review: the informative order's refit failed (%s); the queue is in label-quality "
                           "order until a refit succeeds.", error)
            logger.debug("refit failure", exc_info=True)
        with self._changed:
            self._state, self.error = state, error
            self.refits += 1
            self._changed.notify_all()

    def _refit(self) -> OrderState:
        audit = self.audit
        if self._X is None:
            self._X = self._features()
        X, kind = self._X
        snapshot = self.store.export_snapshot(self.project_id)
        index = {name: j for j, name in enumerate(audit.classes)}
        labels = np.array(audit.given, dtype=np.int64)
        reviewed = np.zeros(audit.n_rows, dtype=bool)
        decided, now = _reviewed_labels(snapshot, self.store, self.project_id, list(audit.classes))
        for i, row in enumerate(audit.row_ids.tolist()):
            if row in decided:
                reviewed[i] = True
                current = now.get(row)
                if current and current[0] in index:  # several labels (a single-label audit): the first
                    labels[i] = index[current[0]]
        probs = np.asarray(self._fit(X, labels, len(audit.classes), kind))
        dense = None
        if self.strategy == "k_center":
            from scipy import sparse

            dense = X.toarray() if sparse.issparse(X) else np.asarray(X)
        order = rank_for_review(probs, reviewed, audit.label_quality, strategy=self.strategy, embeddings=dense,
                                random_state=self.random_state)
        rows = audit.row_ids[order].tolist()
        return OrderState({row: place for place, row in enumerate(rows)}, self.strategy,
                          _dt.datetime.now(_dt.timezone.utc), int(reviewed.sum()), self.refits + 1)


def _reviewed_labels(snapshot, store, project_id: int, classes: list) -> tuple[set, dict]:
    """(the data rows that count as reviewed, row -> their labels now) for a refit. With one reviewer per item: the
    rows with a decision and their current labels. With several: only the rows every assigned reviewer has answered,
    labelled with the majority vote of the answers (:func:`labelwise.review.consensus.review_consensus`); a row one
    reviewer answered stays unreviewed, so its place in another reviewer's queue says nothing of that answer."""
    if snapshot.reviewers_per_item <= 1:
        return set(snapshot.last_decisions()), snapshot.current
    from labelwise.review.consensus import review_consensus

    done = store.answered_by_all(project_id)
    answers = {row: by for row, by in snapshot.answers().items() if row in done}
    found = review_consensus(answers, classes)
    return done, {int(row): [label] for row, label in zip(found.rows, found.consensus)}
