"""labelwise: a toolkit for the whole life of a dataset's labels.

    import labelwise
    result = labelwise.audit_dataset("train.csv", label="category", text="text")
    result.to_frame()            # one row per input row: given, suggested, quality, is_label_issue

audit -> review -> generate -> learn, plus link and assign. See README.md and docs/.

``import labelwise`` is light: the names below and the subpackages audit, data, features, generate, link and llm load
on first use (``labelwise._lazy``), so pandas and scikit-learn come with the first audit, not with the import. The
interfaces (``labelwise.report``, ``labelwise.review``, ``labelwise.cli``) and ``labelwise.learn`` (torch) are
imported by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports
from labelwise.errors import LabelwiseError

__version__ = "0.1.0"

__getattr__, __dir__, _lazy_names = lazy_exports(__name__, {
    "audit_dataset": "labelwise.audit.workflow",
    "AuditResult": "labelwise.audit.result",
}, submodules=("audit", "data", "features", "generate", "link", "llm"))

__all__ = [*_lazy_names, "LabelwiseError", "__version__"]

if TYPE_CHECKING:
    from labelwise.audit.result import AuditResult
    from labelwise.audit.workflow import audit_dataset
