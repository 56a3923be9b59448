"""labelwise.audit: find what is wrong with a dataset's labels.

:func:`audit_dataset` (also ``labelwise.audit_dataset``) runs the whole audit on a table and returns an
:class:`AuditResult`; :func:`audit_images` does the same for segmentation labels (a folder of images and masks, or a
COCO file) and returns a :class:`SegmentationAuditResult`; :func:`audit_boxes` for box labels (a COCO file or YOLO
folder and a detector's boxes) returns a :class:`BoxAuditResult`; the algorithms live in submodules, on arrays:
``labelwise.audit.label_errors`` for confident learning (cleanlab's names and signatures), ``duplicates``,
``outliers``, ``label_shift``, ``segmentation``, ...

Names load on first use, so ``import labelwise.audit.label_errors`` imports numpy and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "audit_dataset": "labelwise.audit.workflow",
    "AuditResult": "labelwise.audit.result",
    "audit_images": "labelwise.audit.images",
    "SegmentationAuditResult": "labelwise.audit.images",
    "audit_boxes": "labelwise.audit.boxes",
    "BoxAuditResult": "labelwise.audit.boxes",
}, submodules=("label_errors",))

if TYPE_CHECKING:
    from labelwise.audit import label_errors
    from labelwise.audit.boxes import BoxAuditResult, audit_boxes
    from labelwise.audit.images import SegmentationAuditResult, audit_images
    from labelwise.audit.result import AuditResult
    from labelwise.audit.workflow import audit_dataset
