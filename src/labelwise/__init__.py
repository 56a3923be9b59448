"""labelwise: a toolkit for the whole life of a dataset's labels.

    import labelwise
    result = labelwise.audit("train.csv", label="category", text="text")
    result.to_frame()            # one row per input row: given, suggested, quality, is_label_issue

audit -> review -> generate -> learn, plus link and assign. See README.md and docs/.
"""

from labelwise import audit
from labelwise.audit import AuditResult
from labelwise.errors import LabelwiseError

__version__ = "0.1.0"

__all__ = ["audit", "AuditResult", "LabelwiseError", "__version__"]
