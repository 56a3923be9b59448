"""A tiny anchor-free oriented-box detector (stride 4) trained with either heatmap label assigner (torch).

The verification detector of GGHL (paper 33, Huang et al., IEEE TIP 2022; the notes' section 4b): a small CNN that
predicts, on one stride-4 grid, an objectness logit, class logits and GGHL's box representation (the distances from
the cell centre to the horizontal box's four sides, the ORC offsets ``a1..a4`` and the area ratio ``r``). It is
trained with the joint-optimisation loss :class:`~labelwise.assign.gaussian_heatmap.JointOptimizationLoss` on the
targets of either :class:`~labelwise.assign.gaussian_heatmap.OrientedGaussianAssigner` (``assigner="gaussian"``,
OLA) or :class:`~labelwise.assign.gaussian_heatmap.CentrePointAssigner` (``assigner="centre"``, one positive per
object): the same network, loss and decoding, only the label assignment differs.

Decoding: score ``sigmoid(obj) * sigmoid(cls)`` per class; local maxima (3 x 3) above ``score_thresh``, at most
``max_dets`` per image; the box is the ORC polygon decoded from the HBB and offsets (offsets 0 when ``r > 0.9``),
turned into a long-side oriented box; rotated non-maximum suppression per class at ``nms_iou``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from labelwise.assign.box_geometry import oriented_box_iou
from labelwise.assign.gaussian_heatmap import (AXIS_ALIGNED_RATIO, CentrePointAssigner, JointOptimizationLoss,
                                               OrientedGaussianAssigner, orc_to_poly, poly_to_longside, stack_targets)
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

__all__ = ["HeatmapDetector", "HeatmapNet", "decode_boxes", "decode_detections", "rotated_nms", "split_outputs"]

ASSIGNERS = ("gaussian", "centre")


class HeatmapNet(nn.Module):
    """``(B, 3, H, W)`` -> ``(B, 1 + C + 9, H / 4, W / 4)`` raw outputs: objectness, C class logits, 4 side
    distances, 4 ORC offsets, 1 area ratio. Two stride-2 convolutions, then dilated 3x3 convolutions (dilations
    1, 2, 4, 2: about 90 pixels of context at stride 4), GroupNorm + ReLU, a 1x1 head."""

    def __init__(self, n_classes: int, width: int = 32, dilations: Sequence[int] = (1, 2, 4, 2)):
        super().__init__()
        half = max(4, width // 2)

        def block(c_in, c_out, stride=1, dilation=1):
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
                    nn.GroupNorm(max(1, c_out // 8), c_out), nn.ReLU(inplace=True)]

        layers = block(3, half, stride=2) + block(half, width, stride=2)
        for d in dilations:
            layers += block(width, width, dilation=d)
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1 + n_classes + 9, 1)
        self.n_classes = n_classes
        with torch.no_grad():  # start from a low objectness prior (the usual focal-loss initialisation)
            self.head.bias[0] = -4.0
            self.head.bias[1:1 + n_classes] = -2.0

    def forward(self, x):
        return self.head(self.body(x))


def split_outputs(raw, n_classes: int, stride: int) -> dict:
    """Raw ``(B, 1 + C + 9, H, W)`` -> the loss's dict of ``(B, H, W, ...)`` tensors: ``obj``, ``cls`` logits,
    ``ltrb = stride * exp(raw)`` pixels, ``orc = (clip(sigmoid, .01, 1) - .01) / .99``, ``ratio = relu6(raw + 3) /
    6`` (the paper's decodings)."""
    out = raw.permute(0, 2, 3, 1)
    c = n_classes
    return {"obj": out[..., 0], "cls": out[..., 1:1 + c],
            "ltrb": stride * torch.exp(out[..., 1 + c:5 + c].clamp(max=6.0)),
            "orc": (torch.sigmoid(out[..., 5 + c:9 + c]).clamp(0.01, 1) - 0.01) / 0.99,
            "ratio": F.relu6(out[..., 9 + c] + 3) / 6}


def rotated_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of oriented boxes ``(k, 5)`` by score, highest first."""
    order = np.argsort(-scores, kind="mergesort")
    kept: list[int] = []
    if len(order) == 0:
        return np.array([], dtype=np.int64)
    overlaps = oriented_box_iou(boxes, boxes)
    for i in order:
        if all(overlaps[i, j] <= iou for j in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def decode_boxes(pred: dict, stride: int, b: int, jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
    """Oriented boxes ``(k, 5)`` predicted at cells ``(jj, ii)`` of image ``b``: the HBB from the side distances,
    the ORC polygon (offsets 0 where the predicted ratio exceeds 0.9), as a long-side box."""
    px, py = (ii + 0.5) * stride, (jj + 0.5) * stride
    d = pred["ltrb"][b].numpy()[jj, ii]
    hbb = np.stack([px - d[:, 0], py - d[:, 1], px + d[:, 2], py + d[:, 3]], axis=-1)
    ratio, orc = pred["ratio"][b].numpy()[jj, ii], pred["orc"][b].numpy()[jj, ii]
    a = np.where(ratio[:, None] > AXIS_ALIGNED_RATIO, 0.0, orc)
    return poly_to_longside(orc_to_poly(hbb, a)).reshape(-1, 5)


def decode_detections(pred: dict, stride: int, *, score_thresh: float = 0.05, max_dets: int = 20,
                      nms_iou: float = 0.45) -> tuple[list, list, list]:
    """Per-image detections from one level's outputs (:func:`split_outputs`, batch B): three lists of B arrays,
    oriented boxes ``(k, 5)``, scores ``(k,)``, classes ``(k,) int64``."""
    scores = torch.sigmoid(pred["obj"])[..., None] * torch.sigmoid(pred["cls"])  # (B, H, W, C)
    s = scores.permute(0, 3, 1, 2)
    peak = (s == F.max_pool2d(s, 3, stride=1, padding=1)) & (s > score_thresh)
    all_boxes, all_scores, all_classes = [], [], []
    for b in range(s.shape[0]):
        cls, jj, ii = (t.numpy() for t in torch.nonzero(peak[b], as_tuple=True))
        sc = s[b].numpy()[cls, jj, ii]
        top = np.argsort(-sc, kind="mergesort")[: 4 * max_dets]
        cls, jj, ii, sc = cls[top], jj[top], ii[top], sc[top]
        boxes = decode_boxes(pred, stride, b, jj, ii)
        keep = np.concatenate([np.flatnonzero(cls == c)[rotated_nms(boxes[cls == c], sc[cls == c], nms_iou)]
                               for c in np.unique(cls)]) if len(cls) else np.array([], dtype=np.int64)
        keep = keep[np.argsort(-sc[keep], kind="mergesort")][:max_dets]
        all_boxes.append(boxes[keep])
        all_scores.append(sc[keep].astype(np.float64))
        all_classes.append(cls[keep].astype(np.int64))
    return all_boxes, all_scores, all_classes


def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[0] == 0:
        raise ShapeError(f"images must be (n, H, W, 3) RGB in [0, 1] with n >= 1; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise DataError(f"images hold NaN or infinite values (first in image {bad}); fix or drop that image")
    return arr


class HeatmapDetector(BaseEstimator):
    """Tiny anchor-free oriented-box detector at stride 4 (GGHL's verification experiment, paper 33).

    Parameters
    ----------
    assigner : "gaussian" (GGHL's OLA) or "centre" (the CenterNet-like centre-point baseline).
    n_classes : int or None (None: the largest class id + 1).
    tau : OLA's size exponent (``r^(1 - tau)``), 0.3.
    refine : the JOL's adaptive label refinement on (the objectness weight ``(gauss + q) / 2``) or off (``gauss``).
    soft_class_targets : the class label is one-hot (False, default) or the assigner's heat (True); see the loss.
    width : channels of the network; steps, batch_size, lr : Adam with a one-cycle schedule (10 % warm-up).
    score_thresh, max_dets, nms_iou : decoding (:func:`decode_detections`).
    random_state : seeds the initialisation and the batch order.

    ``fit(images (n, H, W, 3) float in [0, 1], boxes: n arrays (k_i, 5) oriented cx, cy, w, h, angle, classes: n
    arrays (k_i,) int)``; ``predict(images) -> (boxes, scores, classes)``, lists of ``(k, 5)``, ``(k,)``,
    ``(k,) int64`` per image. Learned: ``net_``, ``n_classes_``, ``img_size_``, ``losses_`` (per step).
    """

    stride = 4

    def __init__(self, assigner: str = "gaussian", n_classes: Optional[int] = None, tau: float = 0.3,
                 refine: bool = True, soft_class_targets: bool = False, width: int = 32, steps: int = 1500,
                 batch_size: int = 32, lr: float = 3e-3,
                 score_thresh: float = 0.05, max_dets: int = 20, nms_iou: float = 0.45, random_state: Any = 0):
        self.assigner, self.n_classes, self.tau, self.refine = assigner, n_classes, tau, refine
        self.soft_class_targets = soft_class_targets
        self.width, self.steps, self.batch_size, self.lr = width, steps, batch_size, lr
        self.score_thresh, self.max_dets, self.nms_iou = score_thresh, max_dets, nms_iou
        self.random_state = random_state

    def _assigner(self, img_size: tuple):
        if self.assigner == "gaussian":
            return OrientedGaussianAssigner(img_size=img_size, strides=(self.stride,), tau=self.tau)
        if self.assigner == "centre":
            return CentrePointAssigner(img_size=img_size, strides=(self.stride,))
        raise ParameterError(f"assigner must be one of {', '.join(ASSIGNERS)}; got {self.assigner!r}")

    def targets(self, boxes: Sequence, classes: Sequence, img_size: tuple, n_classes: int) -> list:
        """The assigner's per-image level lists for ``boxes`` / ``classes`` (what ``fit`` trains on)."""
        assigner = self._assigner(img_size)
        out = []
        for i, (b, c) in enumerate(zip(boxes, classes)):
            arr = np.asarray(b, dtype=np.float64)
            if arr.size and (arr.ndim != 2 or arr.shape[1] != 5):
                raise ShapeError(f"boxes of image {i} must be (k, 5) oriented cx, cy, w, h, angle; got shape "
                                 f"{arr.shape}")
            out.append(assigner.assign(arr.reshape(-1, 5), c, n_classes))
        return out

    def fit(self, images: Any, boxes: Sequence, classes: Sequence,
            progress: Optional[ProgressCallback] = None) -> "HeatmapDetector":
        X = _check_images(images)
        if len(boxes) != len(X) or len(classes) != len(X):
            raise ShapeError(f"boxes and classes need one entry per image ({len(X)}); got {len(boxes)} and "
                             f"{len(classes)}")
        cls_all = np.concatenate([np.asarray(c, dtype=np.int64).ravel() for c in classes] + [np.zeros(0, np.int64)])
        self.n_classes_ = int(self.n_classes) if self.n_classes is not None else int(cls_all.max(initial=0)) + 1
        self.img_size_ = (X.shape[1], X.shape[2])
        self._assigner(self.img_size_)  # validates the name
        targets = stack_targets(self.targets(boxes, classes, self.img_size_, self.n_classes_))
        x = torch.from_numpy(X).permute(0, 3, 1, 2).contiguous()
        seed = int(np.random.default_rng(self.random_state).integers(2 ** 31))
        loss_fn = JointOptimizationLoss(refine=bool(self.refine), soft_class_targets=bool(self.soft_class_targets))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            net = HeatmapNet(self.n_classes_, width=int(self.width))
            opt = torch.optim.Adam(net.parameters(), lr=float(self.lr))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(self.lr), total_steps=int(self.steps),
                                                        pct_start=0.1)
            self.losses_ = []
            net.train()
            for step in range(int(self.steps)):
                idx = torch.randint(len(x), (min(int(self.batch_size), len(x)),), generator=gen)
                batch = {key: value if key == "stride" else value[idx] for key, value in targets.items()}
                pred = split_outputs(net(x[idx]), self.n_classes_, self.stride)
                loss = loss_fn(pred, batch, max(self.img_size_))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                opt.step()
                sched.step()
                self.losses_.append(float(loss.detach()))
                report(progress, "train", step + 1, int(self.steps))
        self.net_ = net.eval()
        return self

    def predict(self, images: Any) -> tuple[list, list, list]:
        """``images (n, H, W, 3)`` -> per-image oriented boxes ``(k, 5)``, scores ``(k,)``, classes ``(k,)``."""
        check_is_fitted(self, "net_")
        x = torch.from_numpy(_check_images(images)).permute(0, 3, 1, 2).contiguous()
        out: tuple[list, list, list] = ([], [], [])
        with torch.no_grad():
            for start in range(0, len(x), 64):
                pred = split_outputs(self.net_(x[start:start + 64]), self.n_classes_, self.stride)
                for acc, part in zip(out, decode_detections(pred, self.stride, score_thresh=self.score_thresh,
                                                            max_dets=self.max_dets, nms_iou=self.nms_iou)):
                    acc.extend(part)
        return out

    def boxes_at(self, images: Any, points: Sequence) -> list:
        """The boxes the network regresses at the cells holding ``points[i] (k_i, 2)`` (x, y pixels) of each image,
        whatever their scores: ``(k_i, 5)`` per image. With the true centres as points this measures localisation
        alone, apart from scoring, peak picking and NMS."""
        check_is_fitted(self, "net_")
        x = torch.from_numpy(_check_images(images)).permute(0, 3, 1, 2).contiguous()
        if len(points) != len(x):
            raise ShapeError(f"points needs one (k, 2) array per image ({len(x)}); got {len(points)}")
        out = []
        with torch.no_grad():
            for start in range(0, len(x), 64):
                pred = split_outputs(self.net_(x[start:start + 64]), self.n_classes_, self.stride)
                gh, gw = pred["obj"].shape[1:]
                for b in range(pred["obj"].shape[0]):
                    pts = np.asarray(points[start + b], dtype=np.float64).reshape(-1, 2)
                    ii = np.clip((pts[:, 0] // self.stride).astype(int), 0, gw - 1)
                    jj = np.clip((pts[:, 1] // self.stride).astype(int), 0, gh - 1)
                    out.append(decode_boxes(pred, self.stride, b, jj, ii))
        return out
