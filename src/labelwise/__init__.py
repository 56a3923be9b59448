"""labelwise: a toolkit for the whole life of a dataset's labels.

audit -> review -> generate -> learn, plus link and assign. See README.md and docs/.
"""

from labelwise.errors import LabelwiseError

__version__ = "0.1.0"

__all__ = ["LabelwiseError", "__version__"]
