"""Label a corpus with a taxonomy: an LLM labels a sample, a cheap classifier learns from it and labels the rest.

Seed paper: Wan et al., "TnT-LLM: Text Mining at Scale with Large Language Models" (KDD 2024), phase 2. The LLM
is an annotator for a sample of the corpus (through :func:`labelwise.generate.annotate.annotate`: every category
scored by log-likelihood and calibrated, or label sets written under a grammar for multi-label); a logistic
regression on sentence embeddings is trained on those pseudo-labels and then labels every row at a tiny fraction
of the cost. The label set is frozen before labelling and keeps an "Other" class, as the paper advises: dropping
the rows that fit no category would bias the classifier.

Before the classifier labels the corpus it is checked against the LLM on a held-out slice of the LLM-labelled
sample (agreement, Cohen's kappa, macro-F1); then it is refit on the whole sample. The cost figures (LLM calls per
labelled row, seconds per row for each labeller) are what tell a user whether distilling pays.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from labelwise.data.atomic import write_text_atomic
from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError, ParameterError
from labelwise.generate.taxonomy import OTHER
from labelwise.llm.backend import Backend
from labelwise.progress import ProgressCallback

CHUNK = 50_000  # rows embedded and classified at a time: memory stays bounded on millions of rows


class DistilledClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression on sentence embeddings, trained on (LLM) labels.

    encoder: a text encoder with ``encode(texts) -> (n, d)`` (default: the packaged MiniLM). multi_label: labels are
    lists of labels per row; one binary logistic regression per label, and a row gets every label with probability
    at least ``threshold`` (and always its most probable one). C: inverse regularisation strength, or "auto": chosen
    by scikit-learn's ``LogisticRegressionCV`` on the training labels themselves, as the audit's default learner
    chooses it (:func:`labelwise.audit.out_of_fold.logistic_regression_cv`: log-spaced grid, inner folds,
    log-loss; per label when multi-label). Unit-length sentence embeddings give small logits, so the usual C = 1
    underfits many classes and the rare ones vanish; which C is right depends on the data, hence the search. Fewer
    than 30 rows are too few to compare: C = 1.

    ``fit(texts (n,) str, labels, progress=None)``; ``predict_proba(texts, progress=None) -> (n, k)``;
    ``predict(texts)``; ``progress("embedding", done, total)`` while the texts are embedded. Learned: ``classes_``,
    ``model_`` (the fitted scikit-learn model), ``C_`` (float; multi-label: ``(k,)`` per label), ``encoder_`` and
    ``encoder_id_`` (the encoder used and its model id), ``binarizer_`` (multi-label).
    """

    def __init__(self, encoder=None, *, C="auto", multi_label: bool = False, threshold: float = 0.5,
                 max_iter: int = 1000, random_state: int = 0):
        self.encoder = encoder
        self.C = C
        self.multi_label = multi_label
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    def _embed(self, texts: Sequence[str], progress: Optional[ProgressCallback]) -> np.ndarray:
        from labelwise.features.base import embed

        if getattr(self, "encoder_", None) is None:  # first use, or after unpickling without the encoder
            from labelwise.features import TextEncoder

            encoder = self.encoder if self.encoder is not None else TextEncoder()
            trained_on = getattr(self, "encoder_id_", None)
            if trained_on is not None and _encoder_id(encoder) != trained_on:
                raise DataError(f"This classifier was trained on embeddings from {trained_on}, not "
                                f"{_encoder_id(encoder)}. Set model.encoder to that encoder before predicting.")
            self.encoder_ = encoder
            self.encoder_id_ = _encoder_id(encoder)
        return embed(self.encoder_, [str(t) for t in texts], progress)

    def _learner(self, n_rows: int):
        from sklearn.linear_model import LogisticRegression

        if self.C == "auto" and n_rows >= 30:
            from labelwise.audit.out_of_fold import logistic_regression_cv

            return logistic_regression_cv(n_rows=n_rows, max_iter=self.max_iter, random_state=self.random_state)
        C = 1.0 if self.C == "auto" else float(self.C)
        return LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state)

    def fit(self, texts: Sequence[str], labels, progress: Optional[ProgressCallback] = None) -> "DistilledClassifier":
        """texts: n strings; labels: (n,) labels, or n lists of labels when ``multi_label``."""
        import warnings

        from labelwise.audit.out_of_fold import suited_to

        if len(texts) != len(labels):
            raise DataError(f"{len(texts)} texts but {len(labels)} labels; give one label per text.")
        self.encoder_ = self.encoder_id_ = None  # a refit may use another encoder
        x = self._embed(texts, progress)
        if self.multi_label:
            from sklearn.multiclass import OneVsRestClassifier
            from sklearn.preprocessing import MultiLabelBinarizer

            self.binarizer_ = MultiLabelBinarizer()
            y = self.binarizer_.fit_transform([list(v) for v in labels])
            self.classes_ = np.asarray(self.binarizer_.classes_, dtype=object)
            constant = [c for j, c in enumerate(self.classes_) if y[:, j].min() == y[:, j].max()]
            if constant:
                raise DataError(f"Label(s) {', '.join(map(str, constant[:5]))} are on every row or on none; a "
                                "classifier cannot learn them. Label more rows or drop those labels.")
            model = OneVsRestClassifier(suited_to(self._learner(len(x)), y))
        else:
            y = np.asarray([str(v) for v in labels], dtype=object)
            if len(set(y)) < 2:
                raise DataError(f"Every labelled row has the label {y[0]!r}: there is nothing to learn. Label more "
                                "rows, or check the labeller (a model that always answers the same is not working).")
            model = suited_to(self._learner(len(x)), np.unique(y, return_inverse=True)[1])
        with warnings.catch_warnings():  # a rare class with fewer rows than inner folds is expected here
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            self.model_ = model.fit(x, y)
        fitted = self.model_.estimators_ if self.multi_label else [self.model_]
        chosen = np.array([float(np.ravel(m.C_ if hasattr(m, "C_") else m.C)[0]) for m in fitted])
        self.C_ = chosen if self.multi_label else float(chosen[0])
        if not self.multi_label:
            self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """(n, k) probabilities over ``classes_`` (multi-label: independent per label)."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._embed(texts, progress))

    def predict(self, texts: Sequence[str]):
        """(n,) labels, or n lists of labels when ``multi_label``."""
        return self.decide(self.predict_proba(texts))

    def decide(self, probabilities: np.ndarray):
        """Labels from (n, k) probabilities, as :meth:`predict` would give them."""
        check_is_fitted(self, "classes_")
        if not self.multi_label:
            return self.classes_[np.argmax(probabilities, axis=1)]
        out = []
        for row in probabilities:
            chosen = [self.classes_[j] for j in np.flatnonzero(row >= self.threshold)]
            out.append(chosen or [self.classes_[int(np.argmax(row))]])
        return out


def _encoder_id(encoder) -> str:
    return str(getattr(encoder, "model_id", type(encoder).__name__))


def agreement(reference, predicted, *, multi_label: bool = False) -> dict:
    """How well ``predicted`` reproduces ``reference`` (n labels each, or n label lists when ``multi_label``):
    single-label: accuracy, Cohen's kappa, macro-F1; multi-label: exact-set accuracy, micro-F1, mean Jaccard."""
    from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

    if len(reference) == 0:
        return {}
    if not multi_label:
        ref = [str(v) for v in reference]
        pred = [str(v) for v in predicted]
        return {"rows": len(ref), "accuracy": float(accuracy_score(ref, pred)),
                "cohen_kappa": float(cohen_kappa_score(ref, pred)),
                "macro_f1": float(f1_score(ref, pred, average="macro", zero_division=0))}
    ref = [set(map(str, v)) for v in reference]
    pred = [set(map(str, v)) for v in predicted]
    tp = sum(len(a & b) for a, b in zip(ref, pred))
    fp = sum(len(b - a) for a, b in zip(ref, pred))
    fn = sum(len(a - b) for a, b in zip(ref, pred))
    return {"rows": len(ref), "exact_set_accuracy": float(np.mean([a == b for a, b in zip(ref, pred)])),
            "micro_f1": float(2 * tp / max(2 * tp + fp + fn, 1)),
            "jaccard": float(np.mean([len(a & b) / max(len(a | b), 1) for a, b in zip(ref, pred)]))}


@dataclass
class TaxonomyLabels:
    """The corpus labelled with a taxonomy (n rows, k classes including "Other").

    label: (n,) final labels (lists when multi-label): the classifier's on every row when distilled, else the LLM's.
    probabilities: (n, k) over ``classes``. llm_label: (n,) the LLM's label on the rows it labelled, None elsewhere.
    metrics: held-out agreement of classifier and LLM, LLM calls and seconds per row.
    """

    texts: list
    classes: list
    label: list
    probabilities: np.ndarray
    llm_label: list
    metrics: dict = field(default_factory=dict)
    classifier: Optional[DistilledClassifier] = None

    def __repr__(self) -> str:
        held = self.metrics.get("heldout_agreement", {})
        shown = f", held-out agreement {held['accuracy']:.3f}" if "accuracy" in held else ""
        return (f"TaxonomyLabels({len(self.texts):,} rows, {len(self.classes)} classes, "
                f"{self.metrics.get('llm_labelled_rows', 0):,} labelled by the LLM{shown})")

    def to_frame(self) -> pd.DataFrame:
        join = (lambda v: "; ".join(v) if isinstance(v, (list, tuple)) else v)
        return pd.DataFrame({"row": np.arange(len(self.texts)), "text": self.texts,
                             "label": [join(v) for v in self.label],
                             "probability": self.probabilities.max(axis=1),
                             "llm_label": [join(v) for v in self.llm_label],
                             "labelled_by": ["llm+classifier" if v is not None and self.classifier is not None
                                             else "llm" if v is not None else "classifier" for v in self.llm_label]})

    def save(self, directory) -> Path:
        """``annotations.csv``, ``probabilities.parquet``, ``summary.json`` and, when distilled,
        ``classifier.joblib`` (load with ``joblib.load``; it needs labelwise to unpickle)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table_atomic(self.to_frame(), directory / "annotations.csv")
        write_table_atomic(pd.DataFrame(self.probabilities, columns=[str(c) for c in self.classes]),
                           directory / "probabilities.parquet")
        summary = {"rows": len(self.texts), "classes": [str(c) for c in self.classes], **self.metrics}
        write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
        if self.classifier is not None:
            import joblib

            model = self.classifier
            kept = model.encoder, getattr(model, "encoder_", None)
            tmp = directory / ".classifier.joblib.tmp"
            try:
                model.encoder = model.encoder_ = None  # an encoder holds an ONNX session; rebuilt on first use
                joblib.dump(model, tmp)
            finally:
                model.encoder, model.encoder_ = kept
            tmp.replace(directory / "classifier.joblib")
        return directory


def taxonomy_instruction(taxonomy, allow_other: bool = True) -> str:
    """The labelling instruction: the numbered categories with their descriptions (and "Other")."""
    lines = [taxonomy.to_prompt()]
    if allow_other and OTHER not in taxonomy.names:
        lines.append(f"{len(taxonomy) + 1}. {OTHER}: fits none of the categories above.")
    use = f" ({taxonomy.use_case})" if taxonomy.use_case else ""
    return f"Classify each text into one of these categories{use}:\n" + "\n".join(lines)


def _llm_label_sets(backend: Backend, texts: list, classes: list, instruction: str, progress) -> list:
    """Multi-label LLM labelling: the model writes a set of categories under a grammar (PTEC's trie constraint)."""
    from labelwise.generate.annotate import build_prompt
    from labelwise.llm.constrained import generate_labels

    out = []
    for i, text in enumerate(texts):
        chosen = generate_labels(backend, build_prompt(text, classes, (), instruction), classes, multi=True,
                                 use_grammar=backend.supports_grammar)
        out.append(chosen or [OTHER if OTHER in classes else classes[0]])
        if progress is not None:
            progress("labelling with the LLM", i + 1, len(texts))
    return out


def label_with_taxonomy(texts: Sequence[str], taxonomy, *, backend: Optional[Backend] = None, distill: bool = True,
                        sample: int = 1000, holdout: float = 0.2, multi_label: bool = False,
                        allow_other: bool = True, calibration: str = "auto", encoder=None, C="auto",
                        random_state: int = 0, progress: Optional[ProgressCallback] = None) -> TaxonomyLabels:
    """Label ``texts`` (n strings) with the categories of ``taxonomy`` (a :class:`~labelwise.generate.taxonomy.
    Taxonomy`).

    distill=False: the LLM labels every row. distill=True (TnT-LLM phase 2): the LLM labels ``sample`` rows drawn
    at random (``random_state``), a :class:`DistilledClassifier` trained on ``1 - holdout`` of them is scored
    against the LLM on the rest, refit on all of them, and labels every row. multi_label: rows may get several
    categories (the LLM writes sets under a grammar; the classifier is one-vs-rest). calibration: for single-label
    LLM scoring, as in :func:`~labelwise.generate.annotate.annotate`.
    """
    from labelwise.generate.annotate import annotate

    texts = [" ".join(str(t).split()) for t in texts]
    n = len(texts)
    if n == 0:
        raise DataError("There are no texts to label.")
    if not 0.0 <= holdout < 1.0:
        raise DataError(f"holdout must be in [0, 1); got {holdout}.")
    if distill and sample < 1:
        raise ParameterError(f"sample (--sample) is the number of rows the LLM labels, at least 1; got {sample}.")
    classes = list(taxonomy.names) + ([OTHER] if allow_other and OTHER not in taxonomy.names else [])
    instruction = taxonomy_instruction(taxonomy, allow_other)
    if backend is None:
        from labelwise.llm.llamacpp import default_backend

        backend = default_backend()
    if encoder is None and distill:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    rng = np.random.default_rng(random_state)
    chosen = np.sort(rng.permutation(n)[: min(sample, n)]) if distill else np.arange(n)
    llm_texts = [texts[i] for i in chosen]
    calls_before = backend.usage.calls + backend.usage.cached
    started = time.perf_counter()
    if multi_label:
        llm_labels = _llm_label_sets(backend, llm_texts, classes, instruction, progress)
        llm_probs = np.array([[float(c in row) for c in classes] for row in llm_labels])
    else:
        annotation = annotate(llm_texts, labels=classes, backend=backend, instruction=instruction,
                              calibration=calibration, random_state=random_state, progress=progress)
        llm_probs = annotation.probabilities
        llm_labels = annotation.predicted
    llm_seconds = time.perf_counter() - started
    llm_calls = backend.usage.calls + backend.usage.cached - calls_before
    metrics = {"taxonomy_classes": len(classes), "llm_model": backend.model, "llm_labelled_rows": len(chosen),
               "llm_calls": llm_calls, "llm_calls_per_llm_labelled_row": llm_calls / max(len(chosen), 1),
               "llm_seconds_per_row": llm_seconds / max(len(chosen), 1), "distilled": distill,
               "multi_label": multi_label, "random_state": random_state}
    llm_label_per_row: list = [None] * n
    for i, value in zip(chosen, llm_labels):
        llm_label_per_row[int(i)] = value
    if not distill:
        metrics["llm_calls_per_row"] = llm_calls / n
        return TaxonomyLabels(texts, classes, list(llm_labels), llm_probs, llm_label_per_row, metrics)

    order = rng.permutation(len(chosen))
    n_test = int(round(holdout * len(chosen))) if len(chosen) >= 10 else 0
    test, train = order[:n_test], order[n_test:]
    make = (lambda: DistilledClassifier(encoder, C=C, multi_label=multi_label, random_state=random_state))
    if n_test:
        model = make().fit([llm_texts[i] for i in train], [llm_labels[i] for i in train], progress=progress)
        predicted = model.decide(model.predict_proba([llm_texts[i] for i in test], progress=progress))
        metrics["heldout_agreement"] = agreement([llm_labels[i] for i in test], list(predicted),
                                                 multi_label=multi_label)
    model = make().fit(llm_texts, llm_labels, progress=progress)
    started = time.perf_counter()
    probs = np.concatenate([model.predict_proba(texts[i:i + CHUNK], progress=progress) for i in range(0, n, CHUNK)])
    metrics["classifier_seconds_per_row"] = (time.perf_counter() - started) / n
    metrics["llm_calls_per_row"] = llm_calls / n
    if metrics["classifier_seconds_per_row"] > 0:
        metrics["speedup_per_row"] = metrics["llm_seconds_per_row"] / metrics["classifier_seconds_per_row"]
    full = np.zeros((n, len(classes)))
    for j, c in enumerate(model.classes_):  # classes the LLM never used get probability 0
        full[:, classes.index(str(c))] = probs[:, j]
    metrics["classifier_C"] = np.asarray(model.C_).tolist()
    metrics["classes_never_used_by_llm"] = [c for c in classes if c not in set(map(str, model.classes_))]
    labels = model.decide(probs)
    return TaxonomyLabels(texts, classes, [list(v) if multi_label else str(v) for v in labels], full,
                          llm_label_per_row, metrics, model)
