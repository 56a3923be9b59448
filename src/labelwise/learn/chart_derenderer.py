"""ChartReader's rule-free chart derenderer, scaled down (paper 15: Cheng, Dai, Li, Sun, Mitamura, Hauptmann,
"ChartReader: A Unified Framework for Chart Derendering and Comprehension without Heuristic Rules", ICCV 2023;
the notes' sections 15.2-15.3).

A small CNN (:class:`ChartKeypointNet`: a two-level encoder-decoder, stride-1 output, in place of the paper's
Hourglass-104) predicts, per pixel:

- key-point heatmaps, one per key type (:data:`KEY_TYPES`: a bar's top-left and top-right corners, a line's
  vertices), and a centre heatmap (:data:`CENTER_TYPES`: a bar's centre), trained with CornerNet's focal loss on
  Gaussian targets (:func:`keypoint_focal_loss`, alpha 2, beta 4; key term weighted 1/2, centre term 1, as the
  paper's ``GroupingLoss``);
- sub-pixel offsets for the key points and for the centres (smooth-L1 at the true cells);
- an embedding used by the grouping.

Grouping is per-(centre, key) binary classification, as in the paper, but by a small MLP over the two points'
embeddings and their relative position (:class:`PairGrouper`) instead of the paper's 6-layer transformer over all
tokens: with one series per chart a pair's evidence is local, and the MLP is what fits the CPU budget (the notes'
``grouping="nearest_x"`` alternative is not built). Its cross-entropy is weighted 10 as in the paper.

Decoding: peaks of the heatmaps (3 x 3 local maxima above ``peak_threshold``, offsets added), each centre's most
probable top corners (:func:`labelwise.assign.chart_keypoints.bar_values`), the rows calibrated to values with the
chart's given axis (no OCR: the renderer knows the axis, as the notes allow). A chart is a bar chart when its best
centre peak beats its best line-vertex peak, else a line chart (its vertices sorted by x).

:class:`KeypointDerenderer` is the scikit-learn-style estimator: ``fit(images, keypoints)``,
``predict_keypoints(images)``, ``predict_values(images, axes)``; the tables (pandas) are made by
:func:`labelwise.generate.charts.derender_charts`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from labelwise.assign.chart_keypoints import bar_values, heatmap_peaks, keypoint_targets, rows_to_values
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.progress import ProgressCallback, report

__all__ = ["CENTER_TYPES", "ChartKeypointNet", "KEY_TYPES", "KeypointDerenderer", "PairGrouper",
           "keypoint_focal_loss"]

KEY_TYPES = ("top_left", "top_right", "point")
CENTER_TYPES = ("center",)
_BAR_KEYS = (0, 1)  # the key types a bar centre groups


def keypoint_focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0
                        ) -> torch.Tensor:
    """CornerNet's focal loss on Gaussian heatmap targets (ChartReader's detection loss).

    logits, target: the same shape ``(..., H, W)``; ``target`` in [0, 1], exactly 1 at the true cells. With
    ``p = sigmoid(logits)`` clamped to [1e-4, 1 - 1e-4], the loss is ``-(1/N) sum [(1 - p)^alpha log p`` where the
    target is 1, ``(1 - y)^beta p^alpha log(1 - p)`` elsewhere``]``, N the number of cells whose target is 1 (at
    least 1). The ``(1 - y)^beta`` factor lowers the penalty near a true point.
    """
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1)
    pos_term = (1 - p) ** alpha * torch.log(p)
    neg_term = (1 - target) ** beta * p ** alpha * torch.log(1 - p)
    n = pos.sum().clamp(min=1)
    return -(torch.where(pos, pos_term, torch.zeros_like(p)).sum()
             + torch.where(pos, torch.zeros_like(p), neg_term).sum()) / n


def _block(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> list:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
            nn.GroupNorm(max(1, c_out // 8), c_out), nn.ReLU(inplace=True)]


class ChartKeypointNet(nn.Module):
    """``(B, 3, H, W)`` -> ``(B, K + C + 4 + E, H, W)``: K key logits, C centre logits, key offsets (2), centre
    offsets (2), an E-dim embedding. Encoder at 1, 1/2 and 1/4 resolution (dilations 1, 2, 4 at 1/4: about 60
    pixels of context), decoder back to full resolution with additive skips; ``H`` and ``W`` divisible by 4."""

    def __init__(self, width: int = 8, embed: int = 8, n_keys: int = len(KEY_TYPES),
                 n_centers: int = len(CENTER_TYPES)):
        super().__init__()
        w1, w2, w3 = width, 3 * width, 6 * width
        self.stem = nn.Sequential(*_block(3, w1), *_block(w1, w1))
        self.down1 = nn.Sequential(*_block(w1, w2, stride=2), *_block(w2, w2))
        self.down2 = nn.Sequential(*_block(w2, w3, stride=2), *_block(w3, w3), *_block(w3, w3, dilation=2),
                                   *_block(w3, w3, dilation=4))
        self.lat2 = nn.Conv2d(w3, w2, 1)
        self.up1 = nn.Sequential(*_block(w2, w2))
        self.lat1 = nn.Conv2d(w2, w1, 1)
        self.up0 = nn.Sequential(*_block(w1, w1))
        self.n_keys, self.n_centers, self.embed = n_keys, n_centers, embed
        self.head = nn.Conv2d(w1, n_keys + n_centers + 4 + embed, 1)
        with torch.no_grad():  # a low prior for the heatmaps (the usual focal-loss start)
            self.head.bias[:n_keys + n_centers] = -4.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.stem(x)
        f2 = self.down1(f1)
        f3 = self.down2(f2)
        u2 = self.up1(f2 + F.interpolate(self.lat2(f3), size=f2.shape[-2:], mode="bilinear", align_corners=False))
        u1 = self.up0(f1 + F.interpolate(self.lat1(u2), size=f1.shape[-2:], mode="bilinear", align_corners=False))
        return self.head(u1)

    def split(self, out: torch.Tensor) -> dict:
        """Raw output -> ``key (B, K, H, W)`` and ``center (B, C, H, W)`` logits, ``key_offset`` and
        ``center_offset`` ``(B, 2, H, W)`` in (0, 1) (a sigmoid), ``embedding (B, E, H, W)``."""
        k, c = self.n_keys, self.n_centers
        return {"key": out[:, :k], "center": out[:, k:k + c],
                "key_offset": torch.sigmoid(out[:, k + c:k + c + 2]),
                "center_offset": torch.sigmoid(out[:, k + c + 2:k + c + 4]),
                "embedding": out[:, k + c + 4:]}


class PairGrouper(nn.Module):
    """Per-(centre, key) "belongs" logit from ``[e_center, e_key, dx, dy, one-hot key type]`` (dx, dy: the key's
    position minus the centre's, in image sizes): ``(P, 2E + 2 + T)`` -> ``(P,)``; two hidden layers of 32."""

    def __init__(self, embed: int, n_types: int = len(_BAR_KEYS), hidden: int = 32):
        super().__init__()
        self.n_types = n_types
        self.mlp = nn.Sequential(nn.Linear(2 * embed + 2 + n_types, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, e_center: torch.Tensor, e_key: torch.Tensor, delta: torch.Tensor, key_type: torch.Tensor
                ) -> torch.Tensor:
        onehot = F.one_hot(key_type, self.n_types).to(e_center.dtype)
        return self.mlp(torch.cat([e_center, e_key, delta, onehot], dim=1)).squeeze(1)


def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ShapeError(f"images must be (n, H, W, 3) RGB in [0, 1], got shape {arr.shape}.")
    if arr.shape[1] % 4 or arr.shape[2] % 4:
        raise ShapeError(f"image height and width must be multiples of 4, got {arr.shape[1]} x {arr.shape[2]}.")
    if len(arr) == 0:
        raise ShapeError("images is empty: give at least one chart.")
    if not np.all(np.isfinite(arr)):
        raise DataError("images contain NaN or infinite pixels; give values in [0, 1].")
    return arr


def _points(kp: dict, name: str) -> np.ndarray:
    return np.asarray(kp.get(name, np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)


class KeypointDerenderer(BaseEstimator):
    """The learned chart derenderer (see the module): key points and centres on heatmaps, learned grouping.

    Parameters
    ----------
    width, embed : channels at full resolution (x3 and x6 below) and of the grouping embedding.
    epochs, lr, batch_size : Adam with a cosine schedule (the notes: 8 epochs at lr 2e-3 on 2,000 charts; the defaults
    are the bench's setting, 6 epochs of batches of 8 at lr 3e-3 on 1,000 charts: ``bench/chartreader.py``).
    sigma : the Gaussian targets' standard deviation in pixels (1 in the notes at 64 x 64).
    focal_alpha, focal_beta : the focal loss's exponents (2 and 4).
    key_weight, center_weight, offset_weight, group_weight : loss weights (the paper's 1/2, 1, 1 and 10).
    peak_threshold : a heatmap peak counts from this probability on; group_threshold : a corner belongs to a
    centre from this probability on.
    color_jitter : permute the RGB channels and scale the contrast at random per training image (the paper jitters
    colours).
    random_state, n_threads : as :mod:`labelwise.learn.estimators` (torch on 1 thread by default).
    """

    def __init__(self, width: int = 8, embed: int = 8, epochs: int = 6, lr: float = 3e-3, batch_size: int = 8,
                 sigma: float = 1.0, focal_alpha: float = 2.0, focal_beta: float = 4.0, key_weight: float = 0.5,
                 center_weight: float = 1.0, offset_weight: float = 1.0, group_weight: float = 10.0,
                 peak_threshold: float = 0.3, group_threshold: float = 0.5, color_jitter: bool = True,
                 random_state: Any = 0, n_threads: Optional[int] = 1):
        self.width = width
        self.embed = embed
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.sigma = sigma
        self.focal_alpha = focal_alpha
        self.focal_beta = focal_beta
        self.key_weight = key_weight
        self.center_weight = center_weight
        self.offset_weight = offset_weight
        self.group_weight = group_weight
        self.peak_threshold = peak_threshold
        self.group_threshold = group_threshold
        self.color_jitter = color_jitter
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------ targets
    def targets(self, keypoints: Sequence[dict], shape: tuple) -> dict:
        """Per-chart key points (dicts of ``(k, 2)`` pixel arrays named as :data:`KEY_TYPES` and
        :data:`CENTER_TYPES`) -> stacked targets: ``key (n, K, H, W)``, ``center (n, C, H, W)`` float32 and, for the
        offsets and the grouping, per-point lists ``key_cells``/``center_cells`` ``(m, 4)`` (chart, type, row, col),
        ``key_offsets``/``center_offsets`` ``(m, 2)``, ``pairs`` ``(chart, center index, key index, key type,
        label)`` over each bar chart's centres x top corners (label 1 for the bar's own corners)."""
        key_heat, center_heat = [], []
        kc, ko, cc, co, pairs = [], [], [], [], []
        for i, kp in enumerate(keypoints):
            kh, kcells, koffs = keypoint_targets([_points(kp, t) for t in KEY_TYPES], shape, self.sigma)
            ch, ccells, coffs = keypoint_targets([_points(kp, t) for t in CENTER_TYPES], shape, self.sigma)
            key_heat.append(kh)
            center_heat.append(ch)
            k0, c0 = sum(len(x) for x in kc), sum(len(x) for x in cc)
            kc.append(np.column_stack([np.full(len(kcells), i), kcells]))
            ko.append(koffs)
            cc.append(np.column_stack([np.full(len(ccells), i), ccells]))
            co.append(coffs)
            centers = _points(kp, "center")
            if len(centers) and len(ccells) == len(centers):
                # the bar's own corners; a point dropped off the grid breaks the index match, so skip that chart
                n_tl, n_tr = len(_points(kp, "top_left")), len(_points(kp, "top_right"))
                if (kcells[:, 0] == 0).sum() == n_tl == len(centers) and (kcells[:, 0] == 1).sum() == n_tr == n_tl:
                    for a in range(len(centers)):
                        for b in range(n_tl + n_tr):
                            pairs.append((i, c0 + a, k0 + b, b // n_tl, int(b % n_tl == a)))
        return {"key": np.stack(key_heat), "center": np.stack(center_heat),
                "key_cells": np.concatenate(kc).astype(np.int64).reshape(-1, 4),
                "key_offsets": np.concatenate(ko).astype(np.float32).reshape(-1, 2),
                "center_cells": np.concatenate(cc).astype(np.int64).reshape(-1, 4),
                "center_offsets": np.concatenate(co).astype(np.float32).reshape(-1, 2),
                "pairs": np.asarray(pairs, dtype=np.int64).reshape(-1, 5)}

    # ------------------------------------------------------------------ training
    def _check_params(self) -> None:
        for name in ("width", "embed", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.lr <= 0 or self.sigma <= 0:
            raise ParameterError(f"lr and sigma must be > 0, got lr={self.lr}, sigma={self.sigma}.")
        if not 0 < self.peak_threshold < 1 or not 0 < self.group_threshold < 1:
            raise ParameterError("peak_threshold and group_threshold must be in (0, 1).")

    def _loss(self, out: dict, batch: dict, rows: np.ndarray, img_size: float) -> torch.Tensor:
        key_t = torch.from_numpy(batch["key"][rows])
        cen_t = torch.from_numpy(batch["center"][rows])
        loss = (self.key_weight * keypoint_focal_loss(out["key"], key_t, self.focal_alpha, self.focal_beta)
                + self.center_weight * keypoint_focal_loss(out["center"], cen_t, self.focal_alpha, self.focal_beta))
        where = {int(r): j for j, r in enumerate(rows)}
        for cells_name, off_name, pred_name in (("key_cells", "key_offsets", "key_offset"),
                                                ("center_cells", "center_offsets", "center_offset")):
            cells = batch[cells_name]
            sel = np.isin(cells[:, 0], rows)
            if sel.any():
                c = cells[sel]
                b = torch.tensor([where[int(i)] for i in c[:, 0]])
                pred = out[pred_name][b, :, torch.from_numpy(c[:, 2]), torch.from_numpy(c[:, 3])]
                loss = loss + self.offset_weight * F.smooth_l1_loss(pred, torch.from_numpy(batch[off_name][sel]))
        pairs = batch["pairs"]
        sel = np.isin(pairs[:, 0], rows)
        if sel.any() and self.group_weight > 0:
            p = pairs[sel]
            cen, key = batch["center_cells"][p[:, 1]], batch["key_cells"][p[:, 2]]
            b = torch.tensor([where[int(i)] for i in p[:, 0]])
            emb = out["embedding"]
            e_c = emb[b, :, torch.from_numpy(cen[:, 2]), torch.from_numpy(cen[:, 3])]
            e_k = emb[b, :, torch.from_numpy(key[:, 2]), torch.from_numpy(key[:, 3])]
            delta = torch.from_numpy(((key[:, [3, 2]] - cen[:, [3, 2]]) / img_size).astype(np.float32))
            logit = self.grouper_(e_c, e_k, delta, torch.from_numpy(p[:, 3]))
            loss = loss + self.group_weight * F.binary_cross_entropy_with_logits(
                logit, torch.from_numpy(p[:, 4].astype(np.float32)))
        return loss

    def fit(self, images: Any, keypoints: Sequence[dict], progress: ProgressCallback | None = None
            ) -> "KeypointDerenderer":
        """Train on ``images (n, H, W, 3)`` in [0, 1] and their key points (``n`` dicts of ``(k, 2)`` pixel arrays:
        ``top_left``, ``top_right``, ``center`` for a bar chart, ``point`` for a line chart; the
        :mod:`labelwise.testing.charts` ground truth). ``progress("training", epoch, epochs)`` after each epoch."""
        self._check_params()
        x = _check_images(images)
        if len(keypoints) != len(x):
            raise ShapeError(f"keypoints has {len(keypoints)} charts, images has {len(x)}; give one dict per image.")
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        batch = self.targets(keypoints, x.shape[1:3])
        with _threads(self.n_threads), torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net_ = ChartKeypointNet(self.width, self.embed)
            self.grouper_ = PairGrouper(self.embed)
            params = list(self.net_.parameters()) + list(self.grouper_.parameters())
            opt = torch.optim.Adam(params, lr=self.lr)
            steps = int(self.epochs) * int(np.ceil(len(x) / self.batch_size))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
            self.loss_curve_ = []
            for epoch in range(int(self.epochs)):
                self.net_.train()
                total = 0.0
                order = rng.permutation(len(x))
                for start in range(0, len(x), self.batch_size):
                    rows = np.sort(order[start:start + self.batch_size])
                    xb = torch.from_numpy(x[rows]).permute(0, 3, 1, 2).contiguous()
                    if self.color_jitter:
                        xb = self._jitter(xb, rng)
                    out = self.net_.split(self.net_(xb))
                    loss = self._loss(out, batch, rows, float(x.shape[1]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
                    total += loss.item() * len(rows)
                self.loss_curve_.append(total / len(x))
                report(progress, "training", epoch + 1, int(self.epochs))
        self.image_shape_ = x.shape[1:3]
        return self

    @staticmethod
    def _jitter(xb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        out = torch.empty_like(xb)
        for i in range(len(xb)):
            perm = torch.from_numpy(rng.permutation(3))
            img = xb[i, perm]
            scale = float(rng.uniform(0.8, 1.2))
            out[i] = ((img - 0.5) * scale + 0.5 + float(rng.uniform(-0.05, 0.05))).clamp(0, 1)
        return out

    # ------------------------------------------------------------------ prediction
    def _forward(self, x: np.ndarray) -> dict:
        outs: dict = {}
        self.net_.eval()
        with torch.no_grad():
            for start in range(0, len(x), 64):
                xb = torch.from_numpy(x[start:start + 64]).permute(0, 3, 1, 2).contiguous()
                o = self.net_.split(self.net_(xb))
                o["key"], o["center"] = torch.sigmoid(o["key"]), torch.sigmoid(o["center"])
                for k, v in o.items():
                    outs.setdefault(k, []).append(v)
        return {k: torch.cat(v) for k, v in outs.items()}

    def predict_keypoints(self, images: Any) -> list:
        """``n`` dicts: for each name in :data:`KEY_TYPES` and :data:`CENTER_TYPES`, the peaks ``(m, 3)`` rows
        ``x, y, score`` (pixels, offsets added), highest first; ``"groups"``: ``{"top_left": (c, a),
        "top_right": (c, b)}`` the probability that corner j belongs to centre i; ``"max_score"``: the highest
        centre and line-vertex probabilities anywhere (which decide the chart's kind)."""
        check_is_fitted(self, "net_")
        x = _check_images(images)
        with _threads(self.n_threads):
            out = self._forward(x)
            result = []
            for i in range(len(x)):
                ko, co = out["key_offset"][i].numpy(), out["center_offset"][i].numpy()
                found = {}
                for t, name in enumerate(KEY_TYPES):
                    found[name] = heatmap_peaks(out["key"][i, t].numpy(), ko, threshold=self.peak_threshold)
                for t, name in enumerate(CENTER_TYPES):
                    found[name] = heatmap_peaks(out["center"][i, t].numpy(), co, threshold=self.peak_threshold)
                found["groups"] = self._group(out["embedding"][i], found, float(x.shape[1]))
                found["max_score"] = {"center": float(out["center"][i].max()), "point": float(out["key"][i, 2].max())}
                result.append(found)
        return result

    def _group(self, emb: torch.Tensor, found: dict, img_size: float) -> dict:
        centers = found["center"]
        groups = {}
        for t, name in enumerate(KEY_TYPES[:len(_BAR_KEYS)]):
            keys = found[name]
            if not len(centers) or not len(keys):
                groups[name] = np.zeros((len(centers), len(keys)))
                continue
            hi = np.array([emb.shape[2] - 1, emb.shape[1] - 1])  # (x, y) limits
            ci = np.clip(np.floor(centers[:, :2]).astype(np.int64), 0, hi)
            ki = np.clip(np.floor(keys[:, :2]).astype(np.int64), 0, hi)
            a, b = np.meshgrid(np.arange(len(centers)), np.arange(len(keys)), indexing="ij")
            a, b = a.ravel(), b.ravel()
            e_c = emb[:, torch.from_numpy(ci[a, 1]), torch.from_numpy(ci[a, 0])].T
            e_k = emb[:, torch.from_numpy(ki[b, 1]), torch.from_numpy(ki[b, 0])].T
            delta = torch.from_numpy(((keys[b, :2] - centers[a, :2]) / img_size).astype(np.float32))
            with torch.no_grad():
                logit = self.grouper_(e_c, e_k, delta, torch.full((len(a),), t, dtype=torch.long))
            groups[name] = torch.sigmoid(logit).numpy().reshape(len(centers), len(keys))
        return groups

    def predict_values(self, images: Any, axes: Any) -> list:
        """Charts -> values. axes: ``(n, 4)`` ``value_lo, value_hi, row_lo, row_hi`` per chart. Returns ``n`` dicts:
        ``kind`` ("bar" or "line"), ``x (k,)`` the items' pixel columns and ``value (k,)``, left to right."""
        ax = np.asarray(axes, dtype=np.float64)
        found = self.predict_keypoints(images)
        if ax.shape != (len(found), 4):
            raise ShapeError(f"axes must be (n, 4) with n = {len(found)} charts, got shape {ax.shape}.")
        result = []
        for f, a in zip(found, ax):
            if f["max_score"]["center"] >= f["max_score"]["point"]:
                xs, vals = bar_values(f["center"][:, :2], f["top_left"][:, :2], f["top_right"][:, :2],
                                      f["groups"]["top_left"], f["groups"]["top_right"], a,
                                      min_prob=self.group_threshold)
                result.append({"kind": "bar", "x": xs, "value": vals})
            else:
                pts = f["point"][np.argsort(f["point"][:, 0], kind="stable")]
                result.append({"kind": "line", "x": pts[:, 0], "value": rows_to_values(pts[:, 1], a)})
        return result
