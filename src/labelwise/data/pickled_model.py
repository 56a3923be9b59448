"""A fitted model a user saved with joblib (or pickle), read back for ``labelwise adapt`` and the privacy audit's
target. Loading such a file runs code stored in it: callers say so in their help, and load only paths the user named."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from labelwise.errors import DataError


def load_pickled_model(path, *, missing: str) -> Any:
    """The object joblib loads from ``path``. DataError (one line) with ``missing`` when there is no such file, or
    naming the failure when the file cannot be unpickled (not a pickle, truncated, a module it needs is absent)."""
    import joblib

    path = Path(os.fspath(path))
    if not path.is_file():
        raise DataError(missing)
    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - a pickle can fail in any way; each is a bad file for the user
        reason = " ".join(str(exc).split())[:120]
        raise DataError(f"{path} is not a model saved with joblib or pickle ({type(exc).__name__}: {reason}). Save "
                        "a fitted scikit-learn classifier or pipeline with joblib.dump(model, 'model.joblib').") from None
