"""LAD: label-assisted distillation for semantic segmentation.

Paper: Qiu, Chen, Li, Wan, Xue, Pu, "Make a Strong Teacher with Label Assistance: A Novel Knowledge Distillation
Approach for Semantic Segmentation", ECCV 2024 (arXiv 2407.13254). Recipe as read from the official code
(skyshoumeng/Label_Assisted_Distillation, no licence: read for understanding, nothing copied); notes in
``papers/specs/papers-01-13.md`` section 8.

A lightweight teacher is made strong by a fourth input channel holding a noised copy of the ground-truth mask:

1. :func:`encode_label_channel`: during teacher training every class id of an image (the ignore label included, as
   id ``K``) is replaced by a value drawn from N(0, 1), fresh per image and per path, so the channel says which
   pixels belong together (regions, boundaries) but not which class they are; pixel noise (std 0.03) is added and
   the result multiplied by 100. At distillation time the map is fixed, ``v_k = (k - floor((K + 1) / 2)) / 10``
   (values in-distribution for N(0, 1) draws), with pixel noise 0.02.
2. :func:`train_lad_teacher`: the dual-path consistency teacher. Two encodings of the same mask (two random maps)
   give two outputs; the loss is the cross-entropy of both paths' main and auxiliary heads (aux weight 0.4) plus
   5 x the symmetric channel-wise distillation between the two paths, so the teacher cannot simply copy the
   channel's values.
3. :func:`channel_wise_distillation` (CWD, Shu et al., ICCV 2021): per class channel, a softmax over the spatial
   positions of ``logits / tau`` (tau = 4), ``KL(teacher || student)`` summed, divided by ``N * C``, times
   ``tau ** 2``; the teacher side is detached.
4. :func:`distill_student`: the student (same network, its label channel always zero: :class:`ZeroLabelStudent`)
   trains with ``CE + 0.02 CE_aux + 3 CWD(student, teacher)`` against the frozen teacher fed the fixed encoding.
5. :func:`teacher_soft_labels`: the teacher's class probabilities given image and mask, ``(n, K, H, W)``: refined
   soft labels for the training set (a labelling product: :mod:`labelwise.generate.refined_labels` saves them).

:class:`LabelAssistedSegmenter` is the estimator (numpy in and out). Scaled down from the paper: a small dilated
FCN (:class:`labelwise.learn.segmentation_nets.DilatedFCN`) instead of DeepLabV3/PSPNet, Adam with a poly learning
rate for a few epochs instead of SGD for 40k iterations. Algorithm floor: tensors / arrays in and out, no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.learn.segmentation_nets import DilatedFCN
from labelwise.progress import ProgressCallback, report

__all__ = [
    "LabelAssistedSegmenter",
    "LabelAssistedTeacher",
    "ZeroLabelStudent",
    "channel_wise_distillation",
    "distill_student",
    "encode_label_channel",
    "fixed_label_values",
    "mean_iou",
    "teacher_soft_labels",
    "train_lad_teacher",
]

RANDOM_NOISE_STD = 0.03  # pixel noise of the teacher-training (random map) encoding
FIXED_NOISE_STD = 0.02  # pixel noise of the distillation-time (fixed map) encoding
LABEL_SCALE = 100.0


def fixed_label_values(num_classes: int) -> torch.Tensor:
    """The distillation-time map ``v_k = (k - floor((K + 1) / 2)) / 10`` for ``k = 0 .. K`` (``K``: ignore):
    ``(K + 1,) float32``. For VOC's 21 classes this is the paper's ``(k - 11) / 10``."""
    k = torch.arange(num_classes + 1, dtype=torch.float32)
    return (k - (num_classes + 1) // 2) / 10.0


def _class_index(masks: torch.Tensor, num_classes: int, ignore_index: Optional[int]) -> torch.Tensor:
    """``masks (B, H, W)`` int -> the same with ``ignore_index`` replaced by ``num_classes``; DataError for any
    other id outside ``0 .. num_classes - 1``."""
    idx = masks.long()
    if ignore_index is not None:
        idx = torch.where(idx == int(ignore_index), torch.full_like(idx, num_classes), idx)
        bad = (idx < 0) | (idx > num_classes)
    else:
        bad = (idx < 0) | (idx >= num_classes)
    if bool(bad.any()):
        raise DataError(f"mask holds class id {int(masks.long()[bad][0])} outside 0 .. {num_classes - 1}"
                        f"{'' if ignore_index is None else f' (ignore: {ignore_index})'}; remap the ids or "
                        f"set num_classes / ignore_index")
    return idx


def encode_label_channel(masks: torch.Tensor, num_classes: int, *, mode: str = "random",
                         noise_std: Optional[float] = None, scale: float = LABEL_SCALE,
                         ignore_index: Optional[int] = None,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """LAD's label channel ``E(y)``: ``masks (B, H, W)`` int class ids -> ``(B, 1, H, W) float32``.

    mode: ``"random"`` (teacher training: each image draws its own class -> N(0, 1) map, ids ``0 .. K`` with the
    ignore label as ``K``) or ``"fixed"`` (distillation and soft labels: :func:`fixed_label_values`).
    noise_std: pixel-wise Gaussian noise added before scaling (default 0.03 random, 0.02 fixed); scale: the
    factor applied last (100). ignore_index: the id of unlabelled pixels, if any (encoded as class ``K``).
    """
    if mode not in ("random", "fixed"):
        raise ParameterError(f"mode must be 'random' or 'fixed', not {mode!r}")
    if masks.ndim != 3:
        raise ShapeError(f"masks must be (B, H, W) class ids; got shape {tuple(masks.shape)}")
    idx = _class_index(masks, num_classes, ignore_index)
    b = idx.shape[0]
    if mode == "random":
        values = torch.randn(b, num_classes + 1, generator=generator)
    else:
        values = fixed_label_values(num_classes).expand(b, num_classes + 1)
    channel = torch.gather(values, 1, idx.reshape(b, -1)).reshape(b, 1, *idx.shape[1:])
    std = (RANDOM_NOISE_STD if mode == "random" else FIXED_NOISE_STD) if noise_std is None else float(noise_std)
    if std:
        channel = channel + std * torch.randn(channel.shape, generator=generator)
    return channel * float(scale)


def channel_wise_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                              tau: float = 4.0) -> torch.Tensor:
    """Channel-wise distillation loss (CWD): ``student_logits, teacher_logits (N, C, H, W)`` -> scalar.

    Each channel's ``H * W`` scores are turned into a distribution over positions (softmax of ``logits / tau`` over
    space, not over classes), ``KL(teacher || student)`` is summed over all channels and positions, divided by
    ``N * C`` and multiplied by ``tau ** 2``. The teacher is detached (no gradient flows into it).
    """
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 4:
        raise ShapeError(f"CWD needs two (N, C, H, W) score maps of one shape; got {tuple(student_logits.shape)} "
                         f"and {tuple(teacher_logits.shape)}")
    n, c = student_logits.shape[:2]
    t = teacher_logits.detach().reshape(n, c, -1) / tau
    s = student_logits.reshape(n, c, -1) / tau
    log_pt = F.log_softmax(t, dim=-1)
    kl = (log_pt.exp() * (log_pt - F.log_softmax(s, dim=-1))).sum()
    return kl / (n * c) * tau ** 2


def _heads(net: nn.Module, x: torch.Tensor, with_aux: bool):
    """``net(x)``, or ``(main, aux)`` through ``net.forward_with_aux`` when asked (``aux`` None if it has none)."""
    if not with_aux:
        return net(x)
    if hasattr(net, "forward_with_aux"):
        return net.forward_with_aux(x)
    return net(x), None


def _first_conv(net: nn.Module, in_channels: int) -> nn.Conv2d:
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            if m.in_channels != in_channels:
                raise ParameterError(f"the network's first convolution takes {m.in_channels} channels; LAD needs "
                                     f"{in_channels} (image channels + 1 label channel)")
            return m
    raise ParameterError("the network has no Conv2d layer to feed the label channel into")


class LabelAssistedTeacher(nn.Module):
    """The LAD teacher: ``net`` (any ``(B, C_img + 1, H, W) -> (B, K, H, W)`` module, optionally with
    ``forward_with_aux``) fed the image plus the encoded label channel.

    The first convolution's weights on the label channel are multiplied by ``label_init_scale`` (the channel is
    x100: a default-initialised filter would swamp the image at the start of training).
    ``forward(images (B, C_img, H, W), masks (B, H, W), mode="fixed", generator=None, with_aux=False,
    noise_std=None)`` (``noise_std=None``: the mode's default pixel noise).
    """

    def __init__(self, net: nn.Module, num_classes: int, *, image_channels: int = 3, ignore_index: Optional[int] = None,
                 label_init_scale: float = 0.01, scale: float = LABEL_SCALE):
        super().__init__()
        self.net, self.num_classes, self.image_channels = net, int(num_classes), int(image_channels)
        self.ignore_index, self.scale = ignore_index, float(scale)
        conv = _first_conv(net, self.image_channels + 1)
        with torch.no_grad():
            conv.weight[:, self.image_channels:] *= label_init_scale

    def encode(self, masks: torch.Tensor, mode: str = "fixed", generator: Optional[torch.Generator] = None,
               noise_std: Optional[float] = None) -> torch.Tensor:
        """:func:`encode_label_channel` with this teacher's classes, ignore id and scale: ``(B, 1, H, W)``."""
        return encode_label_channel(masks, self.num_classes, mode=mode, noise_std=noise_std, scale=self.scale,
                                    ignore_index=self.ignore_index, generator=generator)

    def forward(self, images: torch.Tensor, masks: torch.Tensor, mode: str = "fixed",
                generator: Optional[torch.Generator] = None, with_aux: bool = False,
                noise_std: Optional[float] = None):
        x = torch.cat([images, self.encode(masks, mode, generator, noise_std)], dim=1)
        return _heads(self.net, x, with_aux)


class ZeroLabelStudent(nn.Module):
    """The LAD student: ``net`` with the teacher's input stem (``C_img + 1`` channels) whose label channel is always
    zero (the official code's choice), so the student never sees a label.
    ``forward(images (B, C_img, H, W), with_aux=False)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor, with_aux: bool = False):
        zero = images.new_zeros((images.shape[0], 1, *images.shape[2:]))
        return _heads(self.net, torch.cat([images, zero], dim=1), with_aux)

    def forward_with_aux(self, images: torch.Tensor):
        """``(main, aux)`` logits (``aux`` None when ``net`` has no auxiliary head)."""
        return self.forward(images, with_aux=True)


def _ce(logits: torch.Tensor, target: torch.Tensor, ignore: int) -> torch.Tensor:
    return F.cross_entropy(logits, target, ignore_index=ignore)


def _loop(model: nn.Module, n: int, epochs: int, batch_size: int, lr: float, gen: torch.Generator,
          batch_loss: Callable[[torch.Tensor], torch.Tensor], stage: str,
          progress: Optional[ProgressCallback]) -> list[float]:
    """Adam with the poly schedule (power 0.9) over all steps; returns the mean loss of each epoch."""
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ParameterError(f"epochs and batch_size must be at least 1 and lr positive (got epochs={epochs}, "
                             f"batch_size={batch_size}, lr={lr})")
    steps = epochs * -(-n // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1.0 - i / steps) ** 0.9)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm, total = torch.randperm(n, generator=gen), 0.0
        for start in range(0, n, batch_size):
            loss = batch_loss(perm[start:start + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * min(batch_size, n - start)
        history.append(total / n)
        report(progress, stage, epoch, epochs)
    model.eval()
    return history


def _check_pair(images: torch.Tensor, masks: torch.Tensor) -> None:
    if images.ndim != 4 or masks.ndim != 3 or images.shape[0] != masks.shape[0] or \
            images.shape[2:] != masks.shape[1:]:
        raise ShapeError(f"images must be (n, C, H, W) and masks (n, H, W) of the same n, H, W; got "
                         f"{tuple(images.shape)} and {tuple(masks.shape)}")


def train_lad_teacher(teacher: LabelAssistedTeacher, images: torch.Tensor, masks: torch.Tensor, *,
                      epochs: int = 20, batch_size: int = 8, lr: float = 3e-3, cons_weight: float = 5.0,
                      aux_weight: float = 0.4, tau: float = 4.0, encoding: str = "random",
                      generator: Optional[torch.Generator] = None,
                      progress: Optional[ProgressCallback] = None) -> LabelAssistedTeacher:
    """Train the dual-path consistency teacher in place and return it (in eval mode).

    images: ``(n, C_img, H, W) float``; masks: ``(n, H, W) int`` (``teacher.ignore_index`` for unlabelled pixels).
    Each batch is encoded twice with independent random maps; loss ``CE(o1) + aux_weight CE(aux1) + CE(o2) +
    aux_weight CE(aux2) + cons_weight [CWD(o1, o2) + CWD(o2, o1)]`` (``cons_weight=0``: the ablation without the
    consistency term). ``encoding="fixed"`` trains on the fixed map instead: the notes' first pitfall, kept as an
    ablation (the teacher can then read each pixel's class off the channel). ``teacher.history_``: the mean loss
    of each epoch.
    """
    _check_pair(images, masks)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    k = teacher.num_classes
    target = _class_index(masks, k, teacher.ignore_index)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        x, y, t = images[b], masks[b], target[b]
        o1, a1 = teacher(x, y, mode=encoding, generator=gen, with_aux=True)
        o2, a2 = teacher(x, y, mode=encoding, generator=gen, with_aux=True)
        loss = _ce(o1, t, k) + _ce(o2, t, k)
        if a1 is not None and aux_weight:
            loss = loss + aux_weight * (_ce(a1, t, k) + _ce(a2, t, k))
        if cons_weight:
            cons = channel_wise_distillation(o1, o2, tau) + channel_wise_distillation(o2, o1, tau)
            loss = loss + cons_weight * cons
        return loss

    teacher.history_ = _loop(teacher, len(masks), epochs, batch_size, lr, gen, batch_loss, "teacher", progress)
    return teacher


def _teacher_logits(teacher: nn.Module, images: torch.Tensor, masks: torch.Tensor,
                    gen: Optional[torch.Generator]) -> torch.Tensor:
    """A LAD teacher sees the fixed label encoding; any other teacher the images alone."""
    with torch.no_grad():
        if isinstance(teacher, LabelAssistedTeacher):
            return teacher(images, masks, mode="fixed", generator=gen)
        return teacher(images)


def distill_student(student: nn.Module, teacher: Optional[nn.Module], images: torch.Tensor, masks: torch.Tensor,
                    *, epochs: int = 20, batch_size: int = 8, lr: float = 3e-3, kd_weight: float = 3.0,
                    aux_weight: float = 0.02, tau: float = 4.0, ignore_index: Optional[int] = None,
                    generator: Optional[torch.Generator] = None,
                    progress: Optional[ProgressCallback] = None) -> nn.Module:
    """Train ``student`` (e.g. a :class:`ZeroLabelStudent`, called on images alone) in place and return it.

    Loss ``CE(s) + aux_weight CE(s_aux) + kd_weight CWD(s, teacher)``, the teacher frozen: a
    :class:`LabelAssistedTeacher` is fed the fixed label encoding, any other module the images. ``teacher=None``
    or ``kd_weight=0``: cross-entropy only. images ``(n, C_img, H, W)``, masks ``(n, H, W)``; ``student.history_``:
    the mean loss of each epoch.
    """
    _check_pair(images, masks)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    if isinstance(teacher, LabelAssistedTeacher):
        ignore_index = teacher.ignore_index if ignore_index is None else ignore_index
    use_teacher = teacher is not None and kd_weight != 0
    if teacher is not None:
        teacher.eval()
    with torch.no_grad():
        k = _heads(student, images[:1], False).shape[1]  # the number of classes
    target = _class_index(masks, k, ignore_index)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        x, t = images[b], target[b]
        s, aux = _heads(student, x, True)
        loss = _ce(s, t, k)
        if aux is not None and aux_weight:
            loss = loss + aux_weight * _ce(aux, t, k)
        if use_teacher:
            loss = loss + kd_weight * channel_wise_distillation(s, _teacher_logits(teacher, x, masks[b], gen), tau)
        return loss

    student.history_ = _loop(student, len(masks), epochs, batch_size, lr, gen, batch_loss, "student", progress)
    return student


def _batched(fn: Callable[[slice], torch.Tensor], n: int, batch_size: int) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([fn(slice(i, i + batch_size)).numpy() for i in range(0, n, batch_size)])


def teacher_soft_labels(teacher: LabelAssistedTeacher, images: Any, masks: Any, *, temperature: float = 1.0,
                        noise_std: float = 0.0, batch_size: int = 64,
                        generator: Optional[torch.Generator] = None) -> np.ndarray:
    """The teacher's refined soft labels: ``softmax(logits / temperature)`` over classes given the image and the
    fixed encoding of its mask. images ``(n, C_img, H, W)``, masks ``(n, H, W)`` (tensors or arrays) ->
    ``(n, K, H, W) float32``; each pixel's probabilities sum to 1. ``noise_std``: the encoding's pixel noise,
    none by default, so that an image's soft labels do not depend on the batch it comes in (distillation uses
    0.02, a regulariser)."""
    images, masks = torch.as_tensor(images, dtype=torch.float32), torch.as_tensor(masks)
    _check_pair(images, masks)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    teacher.eval()
    return _batched(lambda s: F.softmax(teacher(images[s], masks[s], mode="fixed", generator=gen,
                                                noise_std=noise_std) / temperature, dim=1),
                    len(masks), batch_size).astype(np.float32)


def mean_iou(pred: Any, truth: Any, num_classes: int, ignore_index: Optional[int] = None) -> float:
    """Mean intersection over union: ``pred, truth (n, H, W)`` class ids; per class, intersections and unions are
    summed over the whole set; the mean is over the classes whose union is not empty. Pixels whose truth is
    ``ignore_index`` do not count."""
    pred, truth = np.asarray(pred).ravel(), np.asarray(truth).ravel()
    if pred.shape != truth.shape:
        raise ShapeError(f"pred and truth must have one shape; got {np.shape(pred)} and {np.shape(truth)}")
    keep = truth != ignore_index if ignore_index is not None else slice(None)
    pred, truth = pred[keep], truth[keep]
    inter = np.bincount(truth[pred == truth], minlength=num_classes)[:num_classes]
    union = (np.bincount(pred, minlength=num_classes)[:num_classes]
             + np.bincount(truth, minlength=num_classes)[:num_classes] - inter)
    seen = union > 0
    return float((inter[seen] / union[seen]).mean()) if seen.any() else float("nan")


def _check_images(images: Any, channels: Optional[int] = None, what: str = "images") -> np.ndarray:
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be a numeric array (n, H, W, C); it could not be read as numbers") from exc
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ShapeError(f"{what} must be (n, H, W, C) with n >= 1 (e.g. (n, H, W, 3) RGB in [0, 1]); got shape "
                         f"{arr.shape}")
    if channels is not None and arr.shape[3] != channels:
        raise ShapeError(f"{what} have {arr.shape[3]} channels; the model was fitted on {channels}")
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise DataError(f"{what} hold NaN or infinite values (first in image {bad}); fix or drop that image")
    return arr


def _check_masks(masks: Any, shape: tuple) -> np.ndarray:
    arr = np.asarray(masks)
    if arr.shape != shape:
        raise ShapeError(f"masks must be (n, H, W) = {shape} to match the images; got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise DataError(f"masks hold NaN or infinite values (first in mask "
                            f"{int(np.argwhere(~np.isfinite(arr))[0][0])}); masks are integer class ids")
        if (arr != np.round(arr)).any():
            raise DataError("masks hold non-integer values; masks are integer class ids (0 .. K-1)")
    elif arr.dtype.kind not in "iub":
        raise DataError(f"masks must be integer class ids; got dtype {arr.dtype}")
    return arr.astype(np.int64)


class LabelAssistedSegmenter(BaseEstimator):
    """Semantic segmentation by label-assisted distillation (LAD, paper 8): ``fit`` trains the dual-path teacher
    (image + noised label channel), then distils it into a student of the same network that sees images only.

    Parameters
    ----------
    num_classes: K (``None``: the largest id in the masks + 1, ``ignore_index`` excluded).
    ignore_index: mask id of unlabelled pixels (no loss; encoded as its own value in the label channel).
    width, dilations, stride: the :class:`DilatedFCN` of both teacher and student (defaults: 32 channels, first
        layer stride 2, dilations 1-2-4-2: about 40 x 40 pixels of context; the settings of ``bench/lad.py``).
    teacher_epochs, student_epochs, batch_size, lr: Adam with a poly schedule (small batches: more steps for the
        same CPU time, which is what a small network on few images needs most).
    cons_weight (5), teacher_aux_weight (0.4): the teacher loss; kd_weight (3), student_aux_weight (0.02), tau (4):
    the student loss (the official code's weights).
    random_state: seeds the networks' initialisation, the random label maps, noise and batch order.
    n_threads: torch threads during fit/predict (``None``: leave as is).

    ``fit(images (n, H, W, C) float, masks (n, H, W) int, progress=None)``; ``predict_proba(images) -> (n, K, H, W)``
    and ``predict(images) -> (n, H, W) int64`` from the student (no labels needed); ``soft_labels(images, masks) ->
    (n, K, H, W)``: the teacher's refined soft labels. Learned: ``num_classes_``, ``classes_``,
    ``n_channels_in_``, ``teacher_`` (:class:`LabelAssistedTeacher`), ``student_`` (:class:`ZeroLabelStudent`).
    """

    def __init__(self, num_classes: Optional[int] = None, ignore_index: Optional[int] = None, width: int = 32,
                 dilations: tuple = (1, 2, 4, 2), stride: int = 2, teacher_epochs: int = 20, student_epochs: int = 20,
                 batch_size: int = 8, lr: float = 3e-3, cons_weight: float = 5.0, teacher_aux_weight: float = 0.4,
                 kd_weight: float = 3.0, student_aux_weight: float = 0.02, tau: float = 4.0,
                 random_state: Any = None, n_threads: Optional[int] = None):
        self.num_classes, self.ignore_index, self.width, self.dilations = num_classes, ignore_index, width, dilations
        self.stride = stride
        self.teacher_epochs, self.student_epochs, self.batch_size, self.lr = (teacher_epochs, student_epochs,
                                                                              batch_size, lr)
        self.cons_weight, self.teacher_aux_weight = cons_weight, teacher_aux_weight
        self.kd_weight, self.student_aux_weight, self.tau = kd_weight, student_aux_weight, tau
        self.random_state, self.n_threads = random_state, n_threads

    def _net(self, in_channels: int) -> DilatedFCN:
        return DilatedFCN(in_channels, self.num_classes_, width=self.width, dilations=tuple(self.dilations),
                          stride=self.stride)

    def _masks(self, masks: Any, shape: tuple, num_classes: Optional[int]) -> np.ndarray:
        m = _check_masks(masks, shape)
        labelled = m[m != self.ignore_index] if self.ignore_index is not None else m.ravel()
        if labelled.size and labelled.min() < 0:
            raise DataError(f"masks hold the negative class id {int(labelled.min())}; ids run 0 .. K-1 (set "
                            f"ignore_index for unlabelled pixels)")
        if num_classes is not None and labelled.size and labelled.max() >= num_classes:
            first = int(np.argwhere(m == labelled.max())[0][0])
            raise DataError(f"mask {first} holds class id {int(labelled.max())}, outside 0 .. {num_classes - 1} "
                            f"(num_classes={num_classes}); raise num_classes or remap the ids")
        return m

    def fit(self, images: Any, masks: Any, progress: Optional[ProgressCallback] = None) -> "LabelAssistedSegmenter":
        X = _check_images(images)
        if self.num_classes is not None and int(self.num_classes) < 2:
            raise ParameterError(f"num_classes must be at least 2, not {self.num_classes}")
        m = self._masks(masks, X.shape[:3], self.num_classes)
        labelled = m[m != self.ignore_index] if self.ignore_index is not None else m
        if self.num_classes is None:
            if not labelled.size:
                raise DataError("every mask pixel is ignore_index: nothing to learn from")
            self.num_classes_ = max(2, int(labelled.max()) + 1)
        else:
            self.num_classes_ = int(self.num_classes)
        self.classes_ = np.arange(self.num_classes_)
        self.n_channels_in_ = X.shape[3]
        seed = _seed(self.random_state)
        x, y = torch.from_numpy(X).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(m)
        common = dict(epochs=None, batch_size=int(self.batch_size), lr=float(self.lr), tau=float(self.tau))
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):  # the caller's RNG stays untouched
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            teacher = LabelAssistedTeacher(self._net(self.n_channels_in_ + 1), self.num_classes_,
                                           image_channels=self.n_channels_in_, ignore_index=self.ignore_index)
            train_lad_teacher(teacher, x, y, **{**common, "epochs": int(self.teacher_epochs)},
                              cons_weight=float(self.cons_weight), aux_weight=float(self.teacher_aux_weight),
                              generator=gen, progress=progress)
            student = ZeroLabelStudent(self._net(self.n_channels_in_ + 1))
            distill_student(student, teacher, x, y, **{**common, "epochs": int(self.student_epochs)},
                            kd_weight=float(self.kd_weight), aux_weight=float(self.student_aux_weight),
                            ignore_index=self.ignore_index, generator=gen, progress=progress)
        self.teacher_, self.student_ = teacher, student
        return self

    def predict_proba(self, images: Any) -> np.ndarray:
        """``images (n, H, W, C)`` -> the student's class probabilities ``(n, K, H, W) float32``."""
        check_is_fitted(self, "student_")
        x = torch.from_numpy(_check_images(images, self.n_channels_in_)).permute(0, 3, 1, 2).contiguous()
        self.student_.eval()
        with _threads(self.n_threads):
            return _batched(lambda s: F.softmax(self.student_(x[s]), dim=1), len(x), 64).astype(np.float32)

    def predict(self, images: Any) -> np.ndarray:
        """``images (n, H, W, C)`` -> ``(n, H, W) int64`` class ids (the student's argmax)."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)

    def soft_labels(self, images: Any, masks: Any, temperature: float = 1.0) -> np.ndarray:
        """The teacher's refined soft labels for labelled images: ``(n, K, H, W) float32`` (see
        :func:`teacher_soft_labels`): deterministic, and an image's do not depend on the others passed with it."""
        check_is_fitted(self, "teacher_")
        X = _check_images(images, self.n_channels_in_)
        m = self._masks(masks, X.shape[:3], self.num_classes_)
        with _threads(self.n_threads):
            return teacher_soft_labels(self.teacher_, torch.from_numpy(X).permute(0, 3, 1, 2).contiguous(),
                                       torch.from_numpy(m), temperature=temperature)
