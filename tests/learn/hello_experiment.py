"""The notes' HeLlO experiment (paper 10, section 10.4) at any size: shared by the claim test (small) and
``bench/hello_light_labels.py`` (full size).

One seed, one distilled set: ``ipc`` rows per class chosen from the training features by per-class k-means (the
centres themselves, or with ``real_rows`` the real row nearest each centre, as RDED selects real patches). Every
student is the same MLP trained for ``epochs`` on the same augmented views of that set (mixup + noise in feature
space, the same seed), differing only in its labels:

- ``hard``: the class of each synthetic row (mixed one-hot on mixed views);
- ``heavy``: the teacher's soft label stored for every view of every epoch (FKD style);
- ``head``: the zero-storage head alone (rank 0: only the logit scale and bias fitted to the teacher);
- ``rank{r}``: HeLlO's projector (low-rank head delta + adapter) fitted to the teacher on the training rows;
- ``rank{r}_refined``: the same projector on the synthetic rows after the image-level correction;
- ``rank{r}_noinit``: the projector of rank ``r`` with a zero head instead of the text / prototype head.

Label storage is float16: ``epochs * n_syn * K * 2`` bytes for ``heavy``, the fitted factors for the projectors
(the head ``W_0`` is recomputable from the class names or the synthetic rows; the encoder is public). A prototype
head is the mean of the synthetic rows *before* refinement, which the refined set no longer holds, so the
``_refined`` arms with a prototype head also store ``W_0`` (``K * d * 2`` bytes); a text head stays free.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.cluster import KMeans

from labelwise.learn.light_labels import (
    FeatureAugmenter,
    LightLabelProjector,
    OnlineLabelStudent,
    class_prototypes,
    heavy_soft_labels,
    refine_synthetic,
    stored_soft_label_bytes,
)


def synthetic_set(X: np.ndarray, y: np.ndarray, ipc: int, *, real_rows: bool, random_state: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``ipc`` rows per class: per-class k-means centres, or the real rows nearest them -> ``(K * ipc, d)``,
    ``(K * ipc,)``."""
    rows, labels = [], []
    for k in np.unique(y):
        Xk = X[y == k]
        centres = KMeans(ipc, n_init=3, random_state=random_state).fit(Xk).cluster_centers_
        for c in centres:
            rows.append(Xk[np.argmin(((Xk - c) ** 2).sum(1))] if real_rows else c)
            labels.append(k)
    return np.asarray(rows, dtype=np.float32), np.asarray(labels)


def run_arms(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, teacher, *, head=None,
             ipc: int = 5, ranks=(0, 4), refine_ranks=(4,), noinit_ranks=(), epochs: int = 300,
             projector_epochs: int = 20, refine_steps: int = 100, batch_size: int = 16, real_rows: bool = False,
             seed: int = 0, augment: FeatureAugmenter | None = None) -> dict:
    """One seed of the experiment -> a flat dict: ``{arm}_acc`` (student test accuracy), ``{arm}_bytes`` (label
    storage), ``rank{r}_agree`` (projector vs teacher argmax on the test rows), ``{arm}_s`` (seconds)."""
    augment = augment or FeatureAugmenter(noise=0.1, mixup_prob=1.0)
    Xs, ys = synthetic_set(Xtr, ytr, ipc, real_rows=real_rows, random_state=seed)
    K = int(ytr.max()) + 1
    W0 = class_prototypes(Xs, ys, K) if head is None else head
    # prototypes of the rows before refinement cannot be recomputed from the refined rows: stored with them
    refined_head_bytes = W0.size * 2 if head is None else 0
    teacher_pred = _teacher_argmax(teacher, Xte)
    row: dict = {"seed": seed, "ipc": ipc, "n_syn": len(Xs), "epochs": epochs}

    def student(labels, X=Xs) -> float:
        model = OnlineLabelStudent(epochs=epochs, batch_size=batch_size, augment=augment, random_state=seed)
        return float((model.fit(X, labels).predict(Xte) == yte).mean())

    def timed(arm: str, labels, nbytes: int, X=Xs) -> None:
        t0 = time.perf_counter()
        row[f"{arm}_acc"] = student(labels, X)
        row[f"{arm}_bytes"] = int(nbytes)
        row[f"{arm}_s"] = round(time.perf_counter() - t0, 2)

    timed("hard", ys, len(ys))  # one byte per row is enough for K <= 256 classes
    heavy = heavy_soft_labels(Xs, teacher, augment=augment, epochs=epochs, random_state=seed)
    heavy_bytes = stored_soft_label_bytes(len(Xs), K, epochs)
    assert heavy.nbytes == heavy_bytes
    timed("heavy", heavy, heavy_bytes)
    for r in sorted(set(ranks) | set(refine_ranks) | set(noinit_ranks)):
        for arm, init in ((f"rank{r}" if r else "head", W0), (f"rank{r}_noinit", None)):
            if init is None and r not in noinit_ranks:
                continue
            projector = LightLabelProjector(init, rank=r, augment=augment, epochs=projector_epochs,
                                            random_state=seed).fit(Xtr, teacher)
            row[f"{arm}_agree"] = float((projector.predict(Xte) == teacher_pred).mean())
            if r in ranks or init is None:
                timed(arm, projector, projector.storage_bytes())
            if r in refine_ranks and init is not None:
                Xr = refine_synthetic(Xs, projector, teacher, augment=augment, steps=refine_steps,
                                      random_state=seed)
                timed(f"{arm}_refined", projector, projector.storage_bytes() + refined_head_bytes, Xr)
    return row


def _teacher_argmax(teacher, X: np.ndarray) -> np.ndarray:
    import torch

    if isinstance(teacher, torch.nn.Module):
        with torch.no_grad():
            return teacher(torch.from_numpy(X.astype(np.float32))).argmax(1).numpy()
    return np.asarray(teacher.predict_proba(X)).argmax(1)
