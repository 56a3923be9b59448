"""A toy query-based (DETR-style) detector to check StageInteractor's label assigner (paper 2) at CPU scale (torch).

StageInteractor (Teng et al., ICCV 2023) trains a multi-stage query detector with a cross-stage label assigner
(:mod:`labelwise.assign.stage_interactor`) instead of each stage's one-to-one matching alone. The paper's detector
(AdaMixer-style, ResNet-50, 6 stages, 100 queries) is replaced here by the notes' toy one, because the claim is
about the class targets, not the network:

- a 3-convolution backbone (strides 2-2-2: a stride-4 map to sample from and a stride-8 map as the memory);
- ``n_queries`` (12) learned queries with learned initial boxes and ``n_stages`` (3) decoder stages; each stage
  samples ``n_points x n_points`` features inside the query's current box from the stride-4 map (AdaMixer's
  box-guided sampling, simplified), then runs an ``nn.TransformerDecoderLayer`` (self-attention between queries,
  cross-attention to the memory), then predicts class logits (sigmoid, no background class) and a box delta;
- iterative box refinement (each stage refines the previous stage's box, detached) and deep supervision (every
  stage is matched and trained).

Training: per stage and image, a Hungarian matching (:func:`labelwise.assign.hungarian.hungarian_assign`, focal 2 +
L1 5 + GIoU 2) of the stage's own predictions; every stage's matching is computed before any loss. The class
targets are the matches' one-hot labels (``assigner="one_to_one"``) or the cross-stage multi-hot targets
(``assigner="cross_stage"``, :func:`~labelwise.assign.stage_interactor.cross_stage_assign`); the class loss is the
multi-hot sigmoid focal loss (weight 2, normalised by ``max(positives, matches)``) and the box losses are L1 (5) and
GIoU (2) on the stage's own matches in either case. AdamW with gradient clipping at 1 and a x0.1 step at 2/3 of
the iterations (the paper's 12-epoch schedule steps at 8 and 11).

Shapes: images ``(n, H, W, 3) float`` in [0, 1]; boxes per image ``(k, 4)`` xyxy in pixels; classes ``(k,) int``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from labelwise.assign.hungarian import hungarian_assign
from labelwise.assign.stage_interactor import cross_stage_assign, focal_normalizer, sigmoid_focal_multi_hot
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.learn.label_assisted import _check_images
from labelwise.progress import ProgressCallback, report

__all__ = ["ASSIGNERS", "QueryDetector", "QueryDetectorNet", "box_cxcywh_to_xyxy", "aligned_giou"]

ASSIGNERS = ("one_to_one", "cross_stage")


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` cx, cy, w, h -> x1, y1, x2, y2."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def aligned_giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n,)`` GIoU of xyxy box pairs ``a[i]``, ``b[i]`` (``(n, 4)`` each; differentiable)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    wh = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = area_a + area_b - inter
    hull_wh = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0)
    hull = hull_wh[:, 0] * hull_wh[:, 1]
    return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(8, c_out), nn.ReLU(inplace=True))


class QueryDetectorNet(nn.Module):
    """The network: ``forward(x (B, 3, H, W)) -> (logits (L, B, N, C), boxes (L, B, N, 4))``, boxes as normalised
    cx, cy, w, h in (0, 1), one entry per stage ``L = n_stages``."""

    def __init__(self, num_classes: int, *, n_queries: int = 12, n_stages: int = 3, d_model: int = 64,
                 n_heads: int = 4, n_points: int = 4):
        super().__init__()
        self.num_classes, self.n_queries, self.n_stages, self.n_points = num_classes, n_queries, n_stages, n_points
        self.stem = nn.Sequential(_conv(3, 32), _conv(32, d_model))  # stride 4: sampled inside the boxes
        self.deep = _conv(d_model, d_model)  # stride 8: the memory of the cross-attention
        self.coord_pos = nn.Linear(2, d_model)
        self.query = nn.Embedding(n_queries, d_model)
        self.init_box = nn.Embedding(n_queries, 4)
        side = math.ceil(math.sqrt(n_queries))  # initial boxes: centres on a grid, a third of the image wide
        centres = [((i % side + 0.5) / side, (i // side + 0.5) / side) for i in range(n_queries)]
        with torch.no_grad():
            self.init_box.weight.copy_(torch.logit(torch.tensor([[cx, cy, 0.3, 0.3] for cx, cy in centres])))
        self.box_pos = nn.Sequential(nn.Linear(4, d_model), nn.ReLU(), nn.Linear(d_model, d_model))
        self.sample_proj = nn.ModuleList(nn.Linear(n_points * n_points * d_model, d_model) for _ in range(n_stages))
        self.layers = nn.ModuleList(nn.TransformerDecoderLayer(d_model, n_heads, 2 * d_model, dropout=0.0,
                                                               batch_first=True) for _ in range(n_stages))
        self.cls_heads = nn.ModuleList(nn.Linear(d_model, num_classes) for _ in range(n_stages))
        self.box_heads = nn.ModuleList(nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(),
                                                     nn.Linear(d_model, 4)) for _ in range(n_stages))
        prior = -math.log((1 - 0.01) / 0.01)  # focal-loss prior: every class starts at probability 0.01
        for head in self.cls_heads:
            nn.init.constant_(head.bias, prior)
        for head in self.box_heads:
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        u = (torch.arange(n_points, dtype=torch.float32) + 0.5) / n_points - 0.5
        self.register_buffer("offsets", torch.stack(torch.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2))

    def _memory(self, deep: torch.Tensor) -> torch.Tensor:
        b, d, h, w = deep.shape
        ys, xs = torch.meshgrid((torch.arange(h, dtype=deep.dtype) + 0.5) / h,
                                (torch.arange(w, dtype=deep.dtype) + 0.5) / w, indexing="ij")
        pos = self.coord_pos(torch.stack([xs, ys], -1).reshape(1, h * w, 2))
        return deep.flatten(2).transpose(1, 2) + pos

    def _sample(self, feat: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``(B, N, P*P*d)`` features at ``n_points x n_points`` points spread inside each ``(B, N, 4)`` cxcywh box."""
        b, n = boxes.shape[:2]
        points = boxes[..., None, :2] + self.offsets * boxes[..., None, 2:]  # (B, N, P*P, 2) in [0, 1]
        grid = (2 * points - 1).reshape(b, n * len(self.offsets), 1, 2)
        sampled = F.grid_sample(feat, grid, align_corners=False)  # (B, d, N*P*P, 1)
        return sampled.reshape(b, feat.shape[1], n, -1).permute(0, 2, 3, 1).reshape(b, n, -1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.stem(x)
        memory = self._memory(self.deep(feat))
        b = x.shape[0]
        tgt = self.query.weight[None].expand(b, -1, -1)
        box = torch.sigmoid(self.init_box.weight)[None].expand(b, -1, -1)
        all_logits, all_boxes = [], []
        for stage in range(self.n_stages):
            ref = box.detach()
            tgt = tgt + self.sample_proj[stage](self._sample(feat, ref))
            tgt = self.layers[stage](tgt + self.box_pos(ref), memory)
            all_logits.append(self.cls_heads[stage](tgt))
            box = torch.sigmoid(torch.logit(ref.clamp(1e-4, 1 - 1e-4)) + self.box_heads[stage](tgt))
            all_boxes.append(box)
        return torch.stack(all_logits), torch.stack(all_boxes)


def _check_targets(boxes: Any, classes: Any, n: int) -> tuple[list, list]:
    if len(boxes) != n or len(classes) != n:
        raise ShapeError(f"boxes and classes need one entry per image ({n}); got {len(boxes)} and {len(classes)}")
    out_boxes, out_classes = [], []
    for i, (b, c) in enumerate(zip(boxes, classes)):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 4) if np.size(b) == 0 else np.asarray(b, dtype=np.float64)
        c = np.asarray(c, dtype=np.int64).reshape(-1)
        if b.ndim != 2 or b.shape[1] != 4 or len(b) != len(c):
            raise ShapeError(f"image {i}: boxes must be (k, 4) xyxy with one class per box; got {b.shape} boxes and "
                             f"{len(c)} classes")
        if not np.isfinite(b).all() or (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
            raise DataError(f"image {i}: a box is not a finite xyxy box with x2 >= x1 and y2 >= y1")
        if len(c) and c.min() < 0:
            raise DataError(f"image {i}: class ids must be >= 0; got {int(c.min())}")
        out_boxes.append(b)
        out_classes.append(c)
    return out_boxes, out_classes


class QueryDetector(BaseEstimator):
    """Toy query-based detector trained with one-to-one or StageInteractor's cross-stage class targets (paper 2).

    Parameters
    ----------
    num_classes: C (``None``: the largest class id + 1).
    assigner: ``"one_to_one"`` (each stage's Hungarian matches are its only positives) or ``"cross_stage"``
        (:func:`~labelwise.assign.stage_interactor.cross_stage_assign`); iou_thr, filter_own, candidates: its
        settings (the paper's: 0.5, True, ``"prev_and_later"``).
    n_queries (12), n_stages (3), d_model (64), n_points (4): the network (:class:`QueryDetectorNet`).
    max_iter, batch_size, lr, weight_decay: AdamW, gradient clipping at 1, lr x0.1 at 2/3 of ``max_iter``.
    cls_w, l1_w, giou_w: the weights of the matching cost and of the losses (2, 5, 2 as in the paper).
    hflip: flip half of each batch horizontally (the only augmentation).
    random_state: seeds the initialisation, the batches and the flips (two assigners with the same seed see the
        same batches from the same initial network).
    n_threads: torch threads during fit/predict (``None``: leave as is).

    ``fit(images (n, H, W, 3), boxes [n x (k, 4) xyxy pixels], classes [n x (k,) int], callback=None,
    progress=None)``: ``callback(step, self)`` runs after every training step (e.g. to measure AP during
    training). ``predict(images, stage=-1) -> (boxes, scores, classes)``, per-image lists. Learned:
    ``num_classes_``, ``net_`` (:class:`QueryDetectorNet`), ``loss_history_`` (the training loss of each step).
    """

    def __init__(self, num_classes: Optional[int] = None, assigner: str = "one_to_one", *, iou_thr: float = 0.5,
                 filter_own: bool = True, candidates: Any = "prev_and_later", n_queries: int = 12, n_stages: int = 3,
                 d_model: int = 64, n_points: int = 4, max_iter: int = 1500, batch_size: int = 16, lr: float = 1e-3,
                 weight_decay: float = 1e-4, cls_w: float = 2.0, l1_w: float = 5.0, giou_w: float = 2.0,
                 hflip: bool = True, random_state: Any = None, n_threads: Optional[int] = None):
        self.num_classes, self.assigner, self.iou_thr, self.filter_own = num_classes, assigner, iou_thr, filter_own
        self.candidates, self.n_queries, self.n_stages, self.d_model = candidates, n_queries, n_stages, d_model
        self.n_points, self.max_iter, self.batch_size, self.lr = n_points, max_iter, batch_size, lr
        self.weight_decay, self.cls_w, self.l1_w, self.giou_w = weight_decay, cls_w, l1_w, giou_w
        self.hflip, self.random_state, self.n_threads = hflip, random_state, n_threads

    # ---- training -------------------------------------------------------------------------------------------
    def _class_targets(self, logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: list, gt_classes: list):
        """Every stage's matching first (the notes' pitfall), then the class targets ``(L, B, N, C)`` and the
        matches ``[L][B] -> (query_idx, gt_idx)``."""
        n_stages, batch = logits.shape[:2]
        xyxy = box_cxcywh_to_xyxy(boxes).detach().numpy()
        lg = logits.detach().numpy()
        cost_kw = dict(cls_w=self.cls_w, l1_w=self.l1_w, giou_w=self.giou_w)
        matches = [[hungarian_assign(lg[s, i], xyxy[s, i], gt_classes[i], gt_boxes[i], **cost_kw)
                    for i in range(batch)] for s in range(n_stages)]
        targets = np.zeros(logits.shape, dtype=np.float32)
        for i in range(batch):
            if self.assigner == "cross_stage":
                per_stage = cross_stage_assign(xyxy[:, i], [matches[s][i] for s in range(n_stages)], gt_boxes[i],
                                               gt_classes[i], self.num_classes_, iou_thr=self.iou_thr,
                                               filter_own=self.filter_own, candidates=self.candidates)
                targets[:, i] = np.stack(per_stage)
            else:
                for s in range(n_stages):
                    q, j = matches[s][i]
                    targets[s, i, q, gt_classes[i][j]] = 1.0
        return torch.from_numpy(targets), matches

    def _loss(self, logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: list, gt_classes: list) -> torch.Tensor:
        targets, matches = self._class_targets(logits, boxes, gt_boxes, gt_classes)
        xyxy = box_cxcywh_to_xyxy(boxes)
        total = logits.new_zeros(())
        for s in range(logits.shape[0]):
            n_matches = sum(len(q) for q, _ in matches[s])
            norm = focal_normalizer(targets[s], n_matches)
            total = total + self.cls_w * sigmoid_focal_multi_hot(logits[s], targets[s], normalizer=norm)
            if n_matches == 0:
                continue
            img = torch.cat([torch.full((len(q),), i, dtype=torch.long) for i, (q, _) in enumerate(matches[s])])
            qry = torch.cat([torch.from_numpy(q) for q, _ in matches[s]])
            gt = torch.cat([torch.from_numpy(gt_boxes[i][j]) for i, (_, j) in enumerate(matches[s])]).float()
            pred = xyxy[s, img, qry]
            total = total + (self.l1_w * (pred - gt).abs().sum() + self.giou_w * (1 - aligned_giou(pred, gt)).sum()
                             ) / max(n_matches, 1)
        return total

    def fit(self, images: Any, boxes: Any, classes: Any, callback: Optional[Callable[[int, "QueryDetector"], None]]
            = None, progress: Optional[ProgressCallback] = None) -> "QueryDetector":
        X = _check_images(images, channels=3)
        boxes, classes = _check_targets(boxes, classes, len(X))
        if self.assigner not in ASSIGNERS:
            raise ParameterError(f"assigner must be one of {', '.join(ASSIGNERS)}; got {self.assigner!r}")
        for name in ("max_iter", "batch_size", "n_queries", "n_stages"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"{name} must be at least 1; got {getattr(self, name)}")
        seen = max((int(c.max()) for c in classes if len(c)), default=-1) + 1
        if seen == 0:
            raise DataError("no image has a box: nothing to learn from")
        if self.num_classes is not None and seen > int(self.num_classes):
            raise DataError(f"class id {seen - 1} is outside 0..{int(self.num_classes) - 1} (num_classes="
                            f"{self.num_classes}); raise num_classes or remap the ids")
        self.num_classes_ = int(self.num_classes) if self.num_classes is not None else seen
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        height, width = X.shape[1:3]
        scale = np.array([width, height, width, height], dtype=np.float64)
        norm_boxes = [b / scale for b in boxes]
        with _threads(self.n_threads):
            torch.manual_seed(seed)
            self.net_ = QueryDetectorNet(self.num_classes_, n_queries=self.n_queries, n_stages=self.n_stages,
                                         d_model=self.d_model, n_points=self.n_points)
            opt = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, 2 * self.max_iter // 3)], gamma=0.1)
            self.loss_history_ = []
            self.net_.train()
            for step in range(1, self.max_iter + 1):
                idx = rng.integers(0, len(X), size=self.batch_size)
                flip = rng.random(self.batch_size) < 0.5 if self.hflip else np.zeros(self.batch_size, dtype=bool)
                batch = X[idx].copy()
                batch[flip] = batch[flip, :, ::-1]
                gt_b = [np.column_stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]]) if f else b
                        for b, f in zip((norm_boxes[i] for i in idx), flip)]
                gt_c = [classes[i] for i in idx]
                logits, pred = self.net_(torch.from_numpy(batch).permute(0, 3, 1, 2))
                loss = self._loss(logits, pred, gt_b, gt_c)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net_.parameters(), 1.0)
                opt.step()
                sched.step()
                self.loss_history_.append(float(loss.detach()))
                report(progress, "train detector", step, self.max_iter)
                if callback is not None:
                    callback(step, self)
        return self

    # ---- inference ------------------------------------------------------------------------------------------
    def predict(self, images: Any, stage: int = -1, batch_size: int = 64) -> tuple[list, list, list]:
        """Detections of every image from stage ``stage`` (the last by default): per image ``boxes (k, 4)`` xyxy in
        pixels, ``scores (k,)`` and ``classes (k,) int64``, every (query, class) pair with its sigmoid score
        (``k = n_queries * num_classes``, as DETR-family evaluation does), sorted by descending score."""
        check_is_fitted(self, "net_")
        X = _check_images(images, channels=3)
        if not -self.n_stages <= stage < self.n_stages:
            raise ParameterError(f"stage must be in -{self.n_stages}..{self.n_stages - 1}; got {stage}")
        height, width = X.shape[1:3]
        scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        out_boxes, out_scores, out_classes = [], [], []
        was_training = self.net_.training
        self.net_.eval()
        with _threads(self.n_threads), torch.no_grad():
            for start in range(0, len(X), batch_size):
                logits, boxes = self.net_(torch.from_numpy(X[start:start + batch_size]).permute(0, 3, 1, 2))
                prob = torch.sigmoid(logits[stage])  # (B, N, C)
                xyxy = box_cxcywh_to_xyxy(boxes[stage]) * scale
                for p, b in zip(prob, xyxy):
                    scores, order = p.flatten().sort(descending=True)
                    out_boxes.append(b[order // self.num_classes_].numpy().astype(np.float64))
                    out_scores.append(scores.numpy().astype(np.float64))
                    out_classes.append((order % self.num_classes_).numpy().astype(np.int64))
        self.net_.train(was_training)
        return out_boxes, out_scores, out_classes
