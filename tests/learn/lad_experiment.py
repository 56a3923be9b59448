"""The LAD experiment of the paper notes (papers-01-13.md, section 8.4), shared by tests/learn/test_label_assisted.py
and bench/lad.py so that the test runs a smaller version of exactly what the benchmark prints.

Data: digit scenes (:func:`labelwise.testing.digit_scenes.digit_scenes`, 32 x 32, 2-3 handwritten digits on a
noise-textured background, 11 classes); training and test scenes draw their digits from disjoint pools
(:func:`split_digits`, 2/3 : 1/3, split by the seed). ``digits`` restricts the digits drawn (the test uses fewer
classes to learn within its budget). Every network is the same :class:`DilatedFCN` (4 input channels: RGB + label
channel, zero for every net but the LAD teachers), trained with the same loop, batch order seed and epochs.

Arms:
- (a) student trained with cross-entropy only. It is also the plain teacher of (b): a teacher of the same
  lightweight network trained without labels in its input is exactly (a)'s model (so it is trained once);
- (b) plain teacher -> CWD student;
- (c) LAD teacher (label channel, dual-path consistency, cons_weight 5) -> CWD student;
- (c') LAD teacher without the consistency term (cons_weight 0, still two random encodings per batch) -> CWD
  student;
- (c1) a diagnostic, not in the paper: the LAD teacher of (c) with the label channel x1 instead of x100.
Teacher mIoU on the test scenes: the LAD teachers see the test masks through the fixed encoding (their setting), the
plain teacher sees images only. Student mIoU: images only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from labelwise.learn.label_assisted import (
    LabelAssistedTeacher,
    ZeroLabelStudent,
    distill_student,
    mean_iou,
    train_lad_teacher,
)
from labelwise.learn.segmentation_nets import DilatedFCN
from labelwise.testing.digit_scenes import NUM_CLASSES, digit_scenes
from labelwise.testing.mosaics import load_digit_pool, split_digits

ARMS = ("a", "b", "c", "c'", "c1")


@dataclass(frozen=True)
class Config:
    n_train: int = 500
    n_test: int = 200
    teacher_epochs: int = 20
    student_epochs: int = 20
    width: int = 32
    stride: int = 2
    dilations: tuple = (1, 2, 4, 2)
    lr: float = 3e-3
    batch_size: int = 8
    digits: Optional[Sequence[int]] = None  # None: all ten


@dataclass
class SeedResult:
    seed: int
    teacher: dict = field(default_factory=dict)  # arm -> teacher mIoU (b, c, c')
    student: dict = field(default_factory=dict)  # arm -> student mIoU (a, b, c, c')
    seconds: dict = field(default_factory=dict)
    reads_label: dict = field(default_factory=dict)  # LAD teacher (c) fed another scene's mask / a zero channel


def scenes(cfg: Config, seed: int):
    """Training and test scenes for one seed: disjoint digit pools."""
    _, digits = load_digit_pool()
    pools = split_digits((0.67, 0.33), seed=seed)
    if cfg.digits is not None:
        pools = [p[np.isin(digits[p], list(cfg.digits))] for p in pools]
    return (digit_scenes(cfg.n_train, pool=pools[0], seed=1000 + seed),
            digit_scenes(cfg.n_test, pool=pools[1], seed=2000 + seed))


def _tensors(s):
    return torch.from_numpy(s.images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(s.masks)


def run_seed(cfg: Config, seed: int, arms: Sequence[str] = ARMS, log=None) -> SeedResult:
    import time

    train, test = scenes(cfg, seed)
    x, y = _tensors(train)
    xt, yt = _tensors(test)
    out = SeedResult(seed)

    def net(offset: int) -> DilatedFCN:
        torch.manual_seed(seed * 100 + offset)  # each arm's nets start from their own, reproducible weights
        return DilatedFCN(4, NUM_CLASSES, width=cfg.width, stride=cfg.stride, dilations=cfg.dilations)

    def gen() -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    common = dict(batch_size=cfg.batch_size, lr=cfg.lr)

    def student(teacher, offset: int):
        s = ZeroLabelStudent(net(offset))
        distill_student(s, teacher, x, y, epochs=cfg.student_epochs, generator=gen(), **common)
        with torch.no_grad():
            return s, mean_iou(s(xt).argmax(1).numpy(), test.masks, NUM_CLASSES)

    def lad_teacher(cons: float, offset: int, scale: float = 100.0):
        t = LabelAssistedTeacher(net(offset), NUM_CLASSES, scale=scale)
        train_lad_teacher(t, x, y, epochs=cfg.teacher_epochs, cons_weight=cons, generator=gen(), **common)
        with torch.no_grad():
            return t, mean_iou(t(xt, yt, mode="fixed", generator=gen()).argmax(1).numpy(), test.masks, NUM_CLASSES)

    t0 = time.perf_counter()
    plain = None
    if "a" in arms or "b" in arms:
        plain, out.student["a"] = student(None, 1)
        out.teacher["b"] = out.student["a"]
        out.seconds["a"] = time.perf_counter() - t0
    for arm, cons, offset, scale in (("c", 5.0, 3, 100.0), ("c'", 0.0, 5, 100.0), ("c1", 5.0, 3, 1.0)):
        if arm in arms:
            t1 = time.perf_counter()
            teacher, out.teacher[arm] = lad_teacher(cons, offset, scale)
            if arm == "c":  # does the teacher read the label channel? the same test scenes, wrong or no label
                with torch.no_grad():
                    wrong = teacher(xt, yt.roll(1, 0), mode="fixed", generator=gen()).argmax(1).numpy()
                    zero = teacher.net(torch.cat([xt, torch.zeros_like(xt[:, :1])], 1)).argmax(1).numpy()
                out.reads_label = {"other mask": mean_iou(wrong, test.masks, NUM_CLASSES),
                                   "zero channel": mean_iou(zero, test.masks, NUM_CLASSES)}
            out.student[arm] = student(teacher, offset + 1)[1]
            out.seconds[arm] = time.perf_counter() - t1
    if "b" in arms:
        t1 = time.perf_counter()
        out.student["b"] = student(plain, 2)[1]
        out.seconds["b"] = time.perf_counter() - t1
    if log is not None:
        log(f"seed {seed}: teacher " + ", ".join(f"{k} {v:.3f}" for k, v in out.teacher.items())
            + "; student " + ", ".join(f"{k} {v:.3f}" for k, v in out.student.items())
            + f" ({time.perf_counter() - t0:.0f} s)")
    return out
