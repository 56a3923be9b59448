"""The unlearning methods a user would try before LAF (:mod:`labelwise.learn.unlearn.laf`), all on any classifier
``model(x) -> (B, k)`` logits. Each returns a new module; the input model is not changed.

- :func:`retrain`: fresh weights trained on the remaining rows only: the gold standard, and the most expensive.
- :func:`finetune`: keep training the original on the remaining rows (catastrophic forgetting does the rest).
- :func:`gradient_ascent`: ascend the cross-entropy of the forget rows under their labels.
- :func:`random_labels`: train on the forget rows with random wrong labels, together with the remaining rows.
- :func:`pseudo_label_finetune`: the label-free naive baseline of the LAF notes: fine-tune on the remaining rows
  with the original model's own predictions as labels.

Every one but the last needs labels (``y_remain``, ``y_forget``: ``(n,) int``). Algorithm floor.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np

from labelwise.errors import ParameterError
from labelwise.learn.estimators import _seed
from labelwise.learn.unlearn.model import as_tensor, fit_classifier, predict_proba, reinitialise
from labelwise.progress import ProgressCallback

__all__ = ["finetune", "gradient_ascent", "pseudo_label_finetune", "random_labels", "retrain"]


def retrain(model, X_remain: Any, y_remain: Any, *, epochs: int = 60, lr: float = 1e-3, weight_decay: float = 0.0,
            batch_size: int = 64, random_state: Any = 0, progress: Optional[ProgressCallback] = None):
    """``model``'s architecture with fresh weights (:func:`reinitialise`), trained on the remaining rows alone."""
    fresh = reinitialise(model, random_state)
    return fit_classifier(fresh, X_remain, y_remain, epochs=epochs, lr=lr, weight_decay=weight_decay,
                          batch_size=batch_size, random_state=random_state, progress=progress)


def finetune(model, X_remain: Any, y_remain: Any, *, epochs: int = 5, lr: float = 1e-3, batch_size: int = 64,
             random_state: Any = 0, progress: Optional[ProgressCallback] = None):
    """A copy of ``model`` trained ``epochs`` more on the remaining rows and their labels."""
    return fit_classifier(copy.deepcopy(model), X_remain, y_remain, epochs=epochs, lr=lr, batch_size=batch_size,
                          random_state=random_state, progress=progress)


def gradient_ascent(model, X_forget: Any, y_forget: Any, *, epochs: int = 5, lr: float = 1e-4,
                    batch_size: int = 64, random_state: Any = 0, progress: Optional[ProgressCallback] = None):
    """A copy of ``model`` after ``epochs`` of gradient *ascent* on the forget rows' cross-entropy (nothing holds
    the remaining rows in place: too many epochs or too high an ``lr`` wreck the model)."""
    return fit_classifier(copy.deepcopy(model), X_forget, y_forget, epochs=epochs, lr=lr, batch_size=batch_size,
                          sign=-1.0, random_state=random_state, progress=progress)


def random_labels(model, X_forget: Any, y_forget: Any, X_remain: Any, y_remain: Any, n_classes: int, *,
                  epochs: int = 5, lr: float = 1e-3, batch_size: int = 64, random_state: Any = 0,
                  progress: Optional[ProgressCallback] = None):
    """A copy of ``model`` fine-tuned on the forget rows relabelled at random (uniformly among the ``n_classes - 1``
    classes other than the row's own) together with the remaining rows and their labels."""
    rng = np.random.default_rng(_seed(random_state))
    yf = np.asarray(y_forget, dtype=np.int64)
    if n_classes < 2 or (len(yf) and (yf.min() < 0 or yf.max() >= n_classes)):
        raise ParameterError(f"random_labels needs n_classes >= 2 and y_forget in 0-{n_classes - 1}; got n_classes "
                             f"{n_classes}, labels {yf.min() if len(yf) else '-'}-{yf.max() if len(yf) else '-'}.")
    shift = rng.integers(1, n_classes, size=len(yf))  # never 0: a different class for every row
    wrong = (yf + shift) % n_classes
    X = np.concatenate([as_tensor(X_forget, "X_forget").numpy(), as_tensor(X_remain, "X_remain").numpy()])
    y = np.concatenate([wrong, np.asarray(y_remain, dtype=np.int64)])
    return fit_classifier(copy.deepcopy(model), X, y, epochs=epochs, lr=lr, batch_size=batch_size,
                          random_state=random_state, progress=progress)


def pseudo_label_finetune(model, X_remain: Any, *, epochs: int = 5, lr: float = 1e-3, batch_size: int = 64,
                          random_state: Any = 0, progress: Optional[ProgressCallback] = None):
    """A copy of ``model`` fine-tuned on the remaining rows labelled by the original model's own argmax (no labels)."""
    pseudo = predict_proba(model, X_remain).argmax(axis=1)
    return finetune(model, X_remain, pseudo, epochs=epochs, lr=lr, batch_size=batch_size,
                    random_state=random_state, progress=progress)
