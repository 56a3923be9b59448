"""Self-teaching from soft labels: FILTER's ``kd_kl_loss`` and the teacher ensemble (Fang, Wang, Gan, Sun, Liu,
"FILTER: An Enhanced Fusion Method for Cross-lingual Language Understanding", AAAI 2021).

FILTER trains a first model on unreliable hard labels (labels projected onto translated text), then a second one
whose loss on those rows is ``(1 - alpha) * CE(hard labels) + alpha * kd_kl_loss(student, teacher)``: the KL
divergence towards the first model's soft labels, tempered by ``temperature`` and scaled by ``temperature**2``.
The loss takes any soft teacher: another model's logits, the average of several (:func:`ensemble_logits`), or
label probabilities from elsewhere (an LLM's label scores) with ``teacher_is_probs=True``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from labelwise.errors import ParameterError, ShapeError

__all__ = ["ensemble_logits", "ensemble_soft_labels", "kd_kl_loss"]

_TINY = 1e-12


def _teacher_log_probs(teacher: torch.Tensor, temperature: float, teacher_is_probs: bool) -> torch.Tensor:
    """log softmax(teacher logits / T); probabilities count as logits ``log p`` (so T = 1 keeps them as they are)."""
    z = torch.log(teacher.clamp_min(_TINY)) if teacher_is_probs else teacher
    return F.log_softmax(z / temperature, dim=-1)


def kd_kl_loss(student_logits: torch.Tensor, teacher: torch.Tensor, mask: Optional[torch.Tensor] = None,
               temperature: float = 1.0, teacher_is_probs: bool = False) -> torch.Tensor:
    """FILTER's self-teaching loss: ``T**2 * KL(p_teacher || p_student)`` averaged over the unmasked positions.

    ``student_logits: (..., k)``; ``teacher: (..., k)`` logits, or probabilities with ``teacher_is_probs=True``
    (each row sums to 1; tempered as ``softmax(log p / T)``); ``mask: (...)`` bool, True where a position counts
    (padding False); ``p_x = softmax(z_x / T)``. Returns a scalar; the teacher is detached (no gradient reaches
    it). A mask with no True position gives 0. As in the paper's code, ``KLDivLoss(reduction="batchmean")`` over the
    selected positions times ``T**2``, the factor that keeps the gradient's size independent of ``T``.
    """
    if temperature <= 0:
        raise ParameterError(f"temperature must be > 0, got {temperature}.")
    if student_logits.shape != teacher.shape:
        raise ShapeError(f"student_logits {tuple(student_logits.shape)} and teacher {tuple(teacher.shape)} must "
                         f"have the same shape (..., k).")
    k = student_logits.shape[-1]
    s = student_logits.reshape(-1, k)
    t = teacher.detach().reshape(-1, k).to(s.dtype)
    if mask is not None:
        if tuple(mask.shape) != tuple(student_logits.shape[:-1]):
            raise ShapeError(f"mask {tuple(mask.shape)} must be student_logits' shape without the last axis "
                             f"{tuple(student_logits.shape[:-1])}.")
        keep = mask.reshape(-1).to(torch.bool)
        s, t = s[keep], t[keep]
    if s.shape[0] == 0:
        return student_logits.sum() * 0.0
    log_q = F.log_softmax(s / temperature, dim=-1)
    log_p = _teacher_log_probs(t, temperature, teacher_is_probs)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return kl.mean() * temperature ** 2


def ensemble_logits(teacher_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """The mean of several teachers' logits ``(..., k)`` each (FILTER averages the logits of several first-round
    runs before softening them); detached."""
    if len(teacher_logits) == 0:
        raise ParameterError("ensemble_logits needs at least one teacher's logits.")
    shape = tuple(teacher_logits[0].shape)
    for i, z in enumerate(teacher_logits):
        if tuple(z.shape) != shape:
            raise ShapeError(f"teacher {i}'s logits have shape {tuple(z.shape)}, teacher 0's {shape}; give every "
                             f"teacher's logits on the same positions.")
    return torch.stack([z.detach() for z in teacher_logits]).mean(0)


def ensemble_soft_labels(teacher_logits: Sequence[torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
    """Soft labels ``(..., k)``: ``softmax(mean of the teachers' logits / T)``, FILTER's ``p~``.

    With the default ``T = 1`` they feed :func:`kd_kl_loss` as ``teacher_is_probs=True`` at any loss temperature
    and give the same loss as passing :func:`ensemble_logits` (``log softmax(z)`` is ``z`` up to a constant); soft
    labels made at ``T != 1`` would be tempered twice there."""
    if temperature <= 0:
        raise ParameterError(f"temperature must be > 0, got {temperature}.")
    return F.softmax(ensemble_logits(teacher_logits) / temperature, dim=-1)
