"""labelwise.audit: find what is wrong with a dataset's labels.

``labelwise.audit(table, label=..., text=...)`` runs the whole audit and returns an :class:`AuditResult`;
the algorithms live in submodules (``labelwise.audit.label_errors`` for confident learning, ...).

This package is also callable: ``labelwise.audit(...)`` and ``labelwise.audit.label_errors`` are both what a
user expects to type, so the module object forwards calls to :func:`audit`.
"""

from __future__ import annotations

import sys
import types

from labelwise.audit import label_errors
from labelwise.audit.result import AuditResult
from labelwise.audit.workflow import audit

__all__ = ["audit", "AuditResult", "label_errors"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs) -> AuditResult:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
