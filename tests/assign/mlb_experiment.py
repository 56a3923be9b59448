"""The MLB experiment of the paper-28 notes (section 4), shared by tests/assign/test_matte_blending.py (small budget)
and bench/mlb_blending.py (the notes' sizes).

Domains, from :func:`labelwise.testing.synthetic_mattes.synthetic_mattes` (fine objects: a blob body with hair
strands, a share with blurred edges): the matte-labelled set ``D_m`` on smooth backgrounds (the composited
"synthetic" domain), the segmentation set ``D_s`` on cluttered backgrounds (the "natural" domain) with only
``S = alpha > 0.5`` given, and a natural-domain test set with true alphas. Separate seeds per set.

Arms (the same student network and steps): (a) ``D_m`` only; (b) ``D_m`` + ``D_s`` with the raw ``S``; (c) MLB:
``D_m`` + ``D_s`` with the teacher's blended labels; (d) reference: ``D_m`` + ``D_s`` with the true alphas;
(e) teacher-free band: ``D_m`` + ``D_s`` with ``S`` feathered inside :func:`band_from_segmentation`.
Metrics: MAD x 1e3 on the whole test set, MAD x 1e3 inside the true transition band (``0.05 < alpha < 0.95``), and
the background false-positive area (% of true-background pixels predicted above 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy import ndimage

from labelwise.assign.matte_blending import (
    MatteLabelBlending,
    band_from_segmentation,
    blend_matte_label,
    boundary_label_from_matte,
)
from labelwise.testing.synthetic_mattes import synthetic_mattes

ARMS = ("a: D_m only", "b: + D_s raw S", "c: + D_s MLB labels", "d: + D_s true alpha (ref.)",
        "e: + D_s band fallback")


@dataclass
class Domains:
    xm: np.ndarray  # (n_m, H, W, 3) smooth backgrounds
    mm: np.ndarray  # (n_m, H, W) true mattes
    xs: np.ndarray  # (n_s, H, W, 3) cluttered backgrounds
    ss: np.ndarray  # (n_s, H, W) S = alpha > 0.5
    ms: np.ndarray  # (n_s, H, W) true alphas of D_s (arm d only)
    xt: np.ndarray  # (n_test, H, W, 3) cluttered backgrounds
    mt: np.ndarray  # (n_test, H, W) true alphas


def domains(n_m: int, n_s: int, n_test: int, size: int, seed: int) -> Domains:
    """The three sets for one seed (disjoint generator seeds)."""
    dm = synthetic_mattes(n_m, size, fine_fraction=1.0, background_kind="smooth", seed=1000 * seed + 1)
    ds = synthetic_mattes(n_s, size, fine_fraction=1.0, background_kind="cluttered", seed=1000 * seed + 2)
    dt = synthetic_mattes(n_test, size, fine_fraction=1.0, background_kind="cluttered", seed=1000 * seed + 3)
    return Domains(dm.images, dm.alphas, ds.images, (ds.alphas > 0.5).astype(np.float32), ds.alphas,
                   dt.images, dt.alphas)


def _mad(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Mean absolute difference x 1e3 over every pixel of every image (inside ``mask`` when given), pooled: an image
    with a wide band weighs more. ``labelwise.assign.matting_metrics.mad`` averages per image instead (the matting
    papers' convention); the two agree without a mask (images of one size), and the figures in docs/assign.md were
    measured with this pooled form."""
    diff = np.abs(pred.astype(np.float64) - gt)
    return float(1e3 * (diff[mask].mean() if mask is not None else diff.mean()))


def scores(pred: np.ndarray, gt: np.ndarray) -> dict:
    """``mad``, ``band_mad`` (inside 0.05 < gt < 0.95) and ``bg_fp`` (% of gt == 0 pixels predicted > 0.5)."""
    band = boundary_label_from_matte(gt) > 0
    background = gt == 0
    return {"mad": _mad(pred, gt), "band_mad": _mad(pred, gt, band),
            "bg_fp": float(100 * (pred[background] > 0.5).mean())}


def band_fallback_labels(segs: np.ndarray, width_px: int = 2) -> np.ndarray:
    """Arm (e)'s labels: ``S`` box-blurred over ``2 width_px + 1`` pixels inside the teacher-free band."""
    smooth = ndimage.uniform_filter(segs, size=(1, 2 * width_px + 1, 2 * width_px + 1), mode="nearest")
    return blend_matte_label(segs, smooth.clip(0, 1), band_from_segmentation(segs, width_px))


def run_arms(d: Domains, params: dict, seed: int, arms=ARMS,
             log: Callable[[str], None] = lambda s: None) -> dict:
    """``{arm: scores}`` on the test set plus ``{"labels " + kind: scores}`` of each D_s training label against the
    true alphas, and ``"teacher"``: the teacher's own matte on the test set."""
    out = {}
    mlb = MatteLabelBlending(random_state=seed, **params)
    needs_teacher = any(a.startswith("c") for a in arms)
    if needs_teacher:
        mlb.fit_teacher(d.xm, d.mm)
        out["teacher"] = scores(mlb.predict_teacher(d.xt)[0], d.mt)
        log("teacher")
    targets = {"b": d.ss, "d": d.ms, "e": band_fallback_labels(d.ss)}
    for arm in arms:
        key = arm[0]
        est = MatteLabelBlending(random_state=seed, **params)
        if key == "a":
            est.fit_student(d.xm, d.mm)
        elif key == "c":
            est = mlb.fit_student(d.xm, d.mm, d.xs, d.ss)
            targets["c"] = est.blended_labels_
        else:
            est.fit_student(d.xm, d.mm, d.xs, seg_targets=targets[key])
        out[arm] = scores(est.predict(d.xt), d.mt)
        log(arm)
    for key, name in (("b", "raw S"), ("c", "MLB blended"), ("e", "band fallback")):
        if key in targets:
            out["labels: " + name] = scores(targets[key], d.ms)
    return out
