"""Cross-modal label transfer: a frozen text teacher labels a table, a student on other columns learns to.

CLIP2Scene (Chen et al., CVPR 2023, seed paper 36) moved a frozen image-text model's labels to point clouds
without annotation; here the two "modalities" are two views of the rows of one table:

1. **Teacher** (frozen, zero-shot): the teacher columns, joined into one text per row, are embedded with
   :class:`labelwise.features.text.TextEncoder` (MiniLM, cached), and so is every class prompt. Each class's
   prototype is the mean of its prompts' embeddings (prompt ensembling: ``templates`` filled with the label name,
   or your own ``class_prompts``). A row's teacher probabilities are the softmax of its cosines to the prototypes
   over ``tau``, **calibrated** against the prompts' label bias (the notes' pitfall: one class-name prompt can pull
   most rows): ``calibration="mean"`` (the default) divides by the mean probabilities over the rows themselves,
   ``"domain"`` by those of random in-domain texts (domain-context calibration, Fei et al. 2023, seed paper 32,
   :mod:`labelwise.llm.calibration`), ``"none"`` keeps them.
2. **Student**: the student columns become numbers (:class:`StudentView`: free text as TF-IDF -> truncated SVD,
   codes and glyphs as character n-grams -> SVD, numbers and categories through
   :class:`labelwise.features.TabularEncoder`) and a :class:`labelwise.learn.prototype_distill.PrototypeDistiller`
   learns the teacher's frozen prototypes from them (semantic consistency, alignment to the teacher embedding,
   optionally switchable self-training). Rows with an empty teacher text, and the ``drop_low_margin`` share of
   rows with the least sure teacher, are left out of the semantic term (misaligned or ambiguous pairs inject
   noise).
3. The result labels **new rows from the student columns alone** (:meth:`TransferResult.predict`), and its
   :meth:`TransferResult.features` are the student's embeddings, a start for label-efficient fine-tuning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from labelwise.data.atomic import atomic_path, write_text_atomic
from labelwise.data.columns import ID, TEXT, profile_column
from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError, MissingExtraError, ParameterError
from labelwise.features.tabular import TabularEncoder
from labelwise.llm.calibration import calibrate, random_domain_texts
from labelwise.progress import ProgressCallback

__all__ = ["TransferResult", "StudentView", "transfer_labels", "class_prompts_for", "prompt_prototypes",
           "teacher_probabilities", "DEFAULT_TEMPLATES", "CALIBRATIONS"]

#: Prompt templates ensembled per class (``{}``: the label name, underscores as spaces).
DEFAULT_TEMPLATES = ("{}", "This is about {}.", "A message about {}.", "The topic is {}.")
CALIBRATIONS = ("domain", "mean", "none")


def class_prompts_for(labels: Sequence[str], templates: Sequence[str] = DEFAULT_TEMPLATES) -> list[list[str]]:
    """``(K,)`` label names -> one list of prompts per label: every template filled with the name (``_`` -> space)."""
    if not templates or any("{}" not in t for t in templates):
        raise ParameterError(f"Each prompt template needs a '{{}}' where the label goes; got {list(templates)!r}.")
    return [[t.format(str(label).replace("_", " ").strip()) for t in templates] for label in labels]


def prompt_prototypes(prompts: Sequence[Sequence[str]], encoder: Any,
                      progress: Optional[ProgressCallback] = None) -> np.ndarray:
    """``K`` lists of prompts -> ``(K, d) float32``: the mean of each class's normalised prompt embeddings,
    normalised (prompt ensembling)."""
    flat = [p for group in prompts for p in group]
    if any(len(group) == 0 for group in prompts):
        raise ParameterError("Every class needs at least one prompt.")
    vectors = np.asarray(encoder.encode(flat, progress=progress), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    ends = np.cumsum([len(group) for group in prompts])
    means = np.stack([vectors[e - len(g):e].mean(axis=0) for g, e in zip(prompts, ends)])
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def teacher_probabilities(embeddings: np.ndarray, prototypes: np.ndarray, tau: float = 0.07) -> np.ndarray:
    """``embeddings: (n, d)``, ``prototypes: (K, d)`` (both normalised) -> ``(n, K)`` softmax of cosine / tau."""
    logits = np.asarray(embeddings, dtype=np.float64) @ np.asarray(prototypes, dtype=np.float64).T / tau
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _margins(probs: np.ndarray) -> np.ndarray:
    """``(n, K)`` -> ``(n,)`` top-1 minus top-2 probability."""
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2]


class StudentView(TransformerMixin, BaseEstimator):
    """The student columns of a table -> ``(n, p) float32``.

    A column of free text (:func:`labelwise.data.columns.profile_column` kind ``text``) becomes word 1-2-gram TF-IDF,
    a column of strings that are all different but not words (kind ``id``: codes, emoticons, part numbers) character
    1-3-gram TF-IDF; each is reduced by truncated SVD to at most ``svd_dim`` columns. Every other column goes through
    :class:`labelwise.features.TabularEncoder` (numbers standardised, categories one-hot). Learned: ``text_``
    (column -> (vectorizer, svd)), ``tabular_`` (the TabularEncoder or None), ``n_features_out_``.
    """

    def __init__(self, columns: Sequence[str], svd_dim: int = 256, random_state: int = 0):
        self.columns, self.svd_dim, self.random_state = columns, svd_dim, random_state

    def _texts(self, frame: pd.DataFrame, column: str) -> list[str]:
        return ["" if v is None or v != v else str(v) for v in frame[column]]

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "StudentView":
        self.text_, rest = {}, []
        for column in self.columns:
            kind = profile_column(frame[column]).kind
            if kind in (TEXT, ID) and not pd.api.types.is_numeric_dtype(frame[column].dtype):
                words = kind == TEXT
                vectorizer = TfidfVectorizer(analyzer="word" if words else "char", ngram_range=(1, 2) if words
                                             else (1, 3), sublinear_tf=True, min_df=1, max_features=50_000,
                                             dtype=np.float32)
                tfidf = vectorizer.fit_transform(self._texts(frame, column))
                k = max(1, min(self.svd_dim, tfidf.shape[1] - 1, len(frame) - 1))
                svd = TruncatedSVD(k, random_state=self.random_state).fit(tfidf)
                self.text_[column] = (vectorizer, svd)
            else:
                rest.append(column)
        self.tabular_ = TabularEncoder(columns=rest).fit(frame) if rest else None
        self.n_features_out_ = self.transform(frame.iloc[:1]).shape[1]
        if self.n_features_out_ == 0:
            raise DataError(f"The student columns {list(self.columns)} carry nothing usable (every one is empty or "
                            "constant); choose other --to columns.")
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "text_")
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise DataError(f"The table lacks the student columns {absent}; it has {list(frame.columns)}.")
        parts = [svd.transform(vec.transform(self._texts(frame, c))) for c, (vec, svd) in self.text_.items()]
        if self.tabular_ is not None:
            parts.append(self.tabular_.transform(frame))
        return np.hstack(parts).astype(np.float32) if parts else np.zeros((len(frame), 0), np.float32)


@dataclass
class TransferResult:
    """What :func:`transfer_labels` learned and labelled.

    labels: ``(K,)`` class names. teacher_proba, student_proba: ``(n, K)`` on the table's rows (the teacher's
    calibrated). has_teacher: ``(n,)`` bool, rows with a teacher text. used: ``(n,)`` bool, rows the student learned
    the teacher's labels from. prior: ``(K,)`` the calibration prior. view, distiller: the fitted student.
    heldout: ``(n,)`` bool, rows with a teacher text kept out of the student's training to measure how well it
    agrees with the teacher on rows it has not seen (``summary()["heldout_agreement"]``).
    ``predict(frame)`` / ``predict_proba(frame)`` / ``features(frame)`` need only the student columns.
    """

    labels: list
    teacher_proba: np.ndarray
    student_proba: np.ndarray
    has_teacher: np.ndarray
    used: np.ndarray
    prior: np.ndarray
    view: StudentView
    distiller: Any
    settings: dict = field(default_factory=dict)
    heldout: Optional[np.ndarray] = None

    @property
    def teacher_labels(self) -> np.ndarray:
        """``(n,) int``, ``-1`` where the row has no teacher text."""
        return np.where(self.has_teacher, self.teacher_proba.argmax(axis=1), -1)

    @property
    def student_labels(self) -> np.ndarray:
        """``(n,) int``, the student's annotation-free labels."""
        return self.student_proba.argmax(axis=1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """``(m, K)`` the student's probabilities for new rows (only the student columns are read)."""
        return self.distiller.predict_proba(self.view.transform(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """``(m,)`` class names for new rows, annotation-free."""
        return np.asarray(self.labels, dtype=object)[self.predict_proba(frame).argmax(axis=1)]

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        """``(m, d)`` the student's normalised embeddings of new rows: features for label-efficient fine-tuning."""
        return self.distiller.transform(self.view.transform(frame))

    def to_frame(self) -> pd.DataFrame:
        """One row per table row: the teacher's and the student's label, probability and margin, and whether the
        two agree. ``label`` is the teacher's where the row has a teacher text, else the student's."""
        names = np.asarray(self.labels, dtype=object)
        teacher, student = self.teacher_proba.argmax(axis=1), self.student_labels
        return pd.DataFrame({
            "row": np.arange(len(student)),
            "label": np.where(self.has_teacher, names[teacher], names[student]),
            "labelled_by": np.where(self.has_teacher, "teacher", "student"),
            "teacher_label": np.where(self.has_teacher, names[teacher], None),
            "teacher_probability": np.where(self.has_teacher, self.teacher_proba.max(axis=1), np.nan),
            "teacher_margin": np.where(self.has_teacher, _margins(self.teacher_proba), np.nan),
            "student_label": names[student],
            "student_probability": self.student_proba.max(axis=1),
            "student_margin": _margins(self.student_proba),
            "agree": self.has_teacher & (teacher == student),
        })

    def summary(self) -> dict:
        """Counts and settings; ``student_teacher_agreement`` is over every row with a teacher text (the student saw
        most of them), ``heldout_agreement`` over the held-out ones only (None when none were held out)."""
        has = self.has_teacher
        held = np.zeros_like(has) if self.heldout is None else self.heldout
        agree = self.teacher_labels == self.student_labels
        return {"rows": int(len(has)), "rows_with_teacher_text": int(has.sum()), "rows_learned_from": int(
                self.used.sum()), "labels": [str(x) for x in self.labels],
                "student_teacher_agreement": float(agree[has].mean()) if has.any() else None,
                "heldout_rows": int(held.sum()), "heldout_agreement": float(agree[held].mean()) if held.any() else None,
                "calibration_prior": self.prior.round(6).tolist(), **self.settings}

    def __repr__(self) -> str:
        summary = self.summary()
        agree, where = summary["heldout_agreement"], "held-out rows"
        if agree is None:
            agree, where = summary["student_teacher_agreement"], "rows with a teacher text"
        return (f"TransferResult({len(self.used):,} rows, {len(self.labels)} labels, student agrees with the teacher "
                f"on {agree:.1%} of the {where})" if agree is not None else
                f"TransferResult({len(self.used):,} rows, {len(self.labels)} labels)")

    def save(self, directory) -> Path:
        """``annotations.csv`` (:meth:`to_frame`), ``summary.json`` and ``transfer.joblib`` (read by :meth:`load`)."""
        import joblib

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table_atomic(self.to_frame(), directory / "annotations.csv")
        write_text_atomic(directory / "summary.json", json.dumps(self.summary(), indent=2, default=str) + "\n")
        with atomic_path(directory / "transfer.joblib") as tmp:
            joblib.dump(self, tmp)
        return directory

    @classmethod
    def load(cls, directory) -> "TransferResult":
        """The result :meth:`save` wrote into ``directory`` (it needs labelwise and torch to unpickle)."""
        import joblib

        path = Path(directory) / "transfer.joblib"
        if not path.is_file():
            raise DataError(f"{path} does not exist: give the folder that `labelwise annotate --transfer-from` or "
                            "TransferResult.save wrote.")
        result = joblib.load(path)
        if not isinstance(result, cls):
            raise DataError(f"{path} does not hold a TransferResult (it holds a {type(result).__name__}).")
        return result


def _teacher_texts(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One text per row: the non-empty values of the teacher columns, joined by ``". "``."""
    values = frame[list(columns)].astype(object).to_numpy()
    return [". ".join(str(v).strip() for v in row if v is not None and v == v and str(v).strip()) for row in values]


def _check_columns(frame: pd.DataFrame, teacher_columns: Sequence[str], student_columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"transfer_labels takes a pandas DataFrame, got {type(frame).__name__}.")
    if not teacher_columns or not student_columns:
        raise ParameterError("Give at least one teacher column (the text the teacher reads) and one student column.")
    absent = [c for c in [*teacher_columns, *student_columns] if c not in frame.columns]
    if absent:
        raise DataError(f"Columns {absent} are not in the table; it has {list(frame.columns)}.")


def transfer_labels(data: pd.DataFrame, *, teacher_columns: Sequence[str], student_columns: Sequence[str],
                    labels: Optional[Sequence[str]] = None,
                    class_prompts: Optional[Mapping[str, Sequence[str]]] = None,
                    templates: Sequence[str] = DEFAULT_TEMPLATES, encoder: Any = None, calibration: str = "mean",
                    tau: float = 0.07, drop_low_margin: float = 0.0, lambda_align: float = 1.0,
                    self_training: bool = False, epochs: int = 30, hidden: int = 512, svd_dim: int = 256,
                    holdout: float = 0.2, random_state: int = 0, n_threads: Optional[int] = 1,
                    progress: Optional[ProgressCallback] = None) -> TransferResult:
    """Label ``data``'s rows with a zero-shot text teacher and train a student on other columns to do the same.

    data: the table. teacher_columns: text columns the teacher reads (joined per row). student_columns: the columns
    the student learns from (any kinds; a teacher column here is read in the student's own representation, e.g.
    the same text as TF-IDF). labels: ``(K,)`` class names, filled into ``templates``; or class_prompts:
    ``{label: [prompt, ...]}`` written by you. encoder: anything with ``encode(texts) -> (n, d)`` normalised
    (default: the packaged MiniLM :class:`TextEncoder`, cached). calibration: ``"mean"`` (default: the best teacher
    on both sets of ``bench/clip2scene.py``), ``"domain"`` or ``"none"`` (see the module). drop_low_margin: the
    share of rows with the smallest teacher margin left out of the semantic term. lambda_align, self_training
    (off by default: no gain in the bench), epochs, hidden, tau: :class:`PrototypeDistiller`'s. svd_dim:
    :class:`StudentView`'s. holdout: the share of the rows with a teacher text (at random, at least 10 rows, when
    there are 50 or more) the student does not learn from, to measure its agreement with the teacher on unseen rows;
    their final label is still the teacher's. n_threads: torch threads for the student (default 1: the student is a
    small MLP that more threads do not speed up, and oversubscribed cores slow it down many times; None: torch's
    default). progress: ``progress(stage, done, total)`` while embedding and distilling.
    Returns a :class:`TransferResult`.
    """
    try:
        from labelwise.learn.prototype_distill import PrototypeDistiller  # torch: only when a student is trained
    except ImportError as exc:
        raise MissingExtraError("torch", "learn", "the label-transfer student") from exc

    _check_columns(data, teacher_columns, student_columns)
    if class_prompts is not None and labels is not None:
        raise ParameterError("Give the classes one way: labels=[...] (filled into templates) or class_prompts={...}.")
    if class_prompts is not None:
        names, prompts = [str(k) for k in class_prompts], [list(v) for v in class_prompts.values()]
    elif labels is not None:
        names = list(dict.fromkeys(str(x) for x in labels))
        prompts = class_prompts_for(names, templates)
    else:
        raise ParameterError("Give the classes: labels=[...] or class_prompts={label: [prompts]}.")
    if len(names) < 2:
        raise ParameterError(f"Label transfer needs at least two classes; got {names}.")
    if calibration not in CALIBRATIONS:
        raise ParameterError(f"calibration must be one of {CALIBRATIONS}; got {calibration!r}.")
    if not 0 <= drop_low_margin < 1:
        raise ParameterError(f"drop_low_margin must be in [0, 1); got {drop_low_margin}.")
    if not 0 <= holdout < 1:
        raise ParameterError(f"holdout must be in [0, 1); got {holdout}.")
    if len(data) < 2 * len(names):
        raise DataError(f"The table has {len(data)} rows: too few to learn {len(names)} classes from (at least "
                        f"{2 * len(names)}).")
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()

    texts = _teacher_texts(data, teacher_columns)
    has_teacher = np.array([bool(t) for t in texts])
    if not has_teacher.any():
        raise DataError(f"The teacher columns {list(teacher_columns)} are empty in every row.")
    prototypes = prompt_prototypes(prompts, encoder)
    feats = np.full((len(texts), prototypes.shape[1]), np.nan, dtype=np.float32)  # NaN: no teacher text
    feats[has_teacher] = encoder.encode([t for t in texts if t], progress=progress)
    raw = teacher_probabilities(np.nan_to_num(feats), prototypes, tau)
    if calibration == "domain":
        noise = random_domain_texts([t for t in texts if t], n_draws=20, random_state=random_state)
        prior = teacher_probabilities(encoder.encode(noise), prototypes, tau).mean(axis=0)
    elif calibration == "mean":
        prior = raw[has_teacher].mean(axis=0)
    else:
        prior = np.full(len(names), 1.0 / len(names))
    teacher = calibrate(raw, prior)

    targets = np.where(has_teacher, teacher.argmax(axis=1), -1)
    if drop_low_margin > 0:
        margin = np.where(has_teacher, _margins(teacher), np.inf)  # rows without a text sort last
        targets[np.argsort(margin, kind="stable")[:int(round(drop_low_margin * has_teacher.sum()))]] = -1
    heldout = np.zeros(len(texts), dtype=bool)
    n_held = int(round(holdout * has_teacher.sum())) if has_teacher.sum() >= 50 else 0
    if n_held >= 10:
        rows = np.flatnonzero(has_teacher)
        heldout[np.random.default_rng(random_state).choice(rows, size=n_held, replace=False)] = True
        targets[heldout] = -1
    train_feats = feats.copy()
    train_feats[heldout] = np.nan  # held-out rows give the student neither their label nor their teacher features
    view = StudentView(student_columns, svd_dim=svd_dim, random_state=random_state).fit(data)
    X = view.transform(data)
    distiller = PrototypeDistiller(prototypes, hidden=hidden, tau=tau, lambda_align=lambda_align,
                                   self_training=self_training, epochs=epochs, random_state=random_state,
                                   n_threads=n_threads)
    distiller.fit(X, train_feats, targets, progress=progress)
    settings = {"teacher_columns": list(teacher_columns), "student_columns": list(student_columns),
                "prompts": {n: p for n, p in zip(names, prompts)}, "calibration": calibration, "tau": tau,
                "drop_low_margin": drop_low_margin, "holdout": holdout, "lambda_align": lambda_align,
                "self_training": self_training,
                "epochs": epochs, "encoder": getattr(encoder, "model_id", type(encoder).__name__)}
    return TransferResult(names, teacher, distiller.predict_proba(X), has_teacher, targets >= 0, prior, view,
                          distiller, settings, heldout)
