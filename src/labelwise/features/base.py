"""The text-encoder interface and the parameter protocol encoders share.

Callers that need text embeddings take any :class:`TextEmbedder` and never branch on which one they hold:
:class:`~labelwise.features.text.TextEncoder` (the packaged MiniLM model, meaning), or
:class:`~labelwise.features.hashing.HashingTextEncoder` (shared words, no model). They call :func:`embed`, which hands ``progress`` to the
encoder's ``encode`` (an encoder of your own whose ``encode`` takes only the texts works too).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from labelwise.errors import ParameterError, ShapeError
from labelwise.progress import ProgressCallback

__all__ = ["TextEmbedder", "Params", "embed"]


class Params:
    """scikit-learn's parameter protocol without importing scikit-learn (for encoders that need no fitting).

    ``__init__`` stores each argument untouched under its own name and does nothing else; ``get_params`` and
    ``set_params`` read and write them, so :func:`sklearn.base.clone` works. State derived from the parameters is
    built on first use and dropped by :meth:`_forget` when ``set_params`` changes them.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        parameters = inspect.signature(cls.__init__).parameters.values()
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return sorted(p.name for p in parameters if p.name != "self" and p.kind not in variadic)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments as stored: ``{name: value}``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Params":
        """Change constructor arguments; state derived from the old ones is rebuilt on next use."""
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ParameterError(f"{type(self).__name__} has no parameter {name!r}; it has {', '.join(names)}.")
            setattr(self, name, value)
        self._forget()
        return self

    def _forget(self) -> None:
        """Drop state derived from the parameters (nothing by default)."""

    def __repr__(self) -> str:
        """The class and the parameters that differ from their defaults, as scikit-learn shows estimators."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        def unchanged(name: str, value: Any) -> bool:
            default = defaults[name]
            return value is default or (type(value) is type(default) and value == default)

        changed = [f"{name}={value!r}" for name, value in self.get_params().items() if not unchanged(name, value)]
        return f"{type(self).__name__}({', '.join(changed)})"


def embed(encoder: Any, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
    """``encoder.encode(texts)`` as a ``(n, d) float32`` array, with ``progress`` passed on when ``encode`` takes it
    (every labelwise encoder does). Raises :class:`ShapeError` when the encoder does not return one row per text."""
    try:
        parameters = inspect.signature(encoder.encode).parameters.values()
    except (TypeError, ValueError):  # a builtin or C extension without a signature
        parameters = []
    takes_progress = any(p.name == "progress" or p.kind == p.VAR_KEYWORD for p in parameters)
    vectors = encoder.encode(texts, progress=progress) if takes_progress else encoder.encode(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ShapeError(f"The encoder returned shape {vectors.shape} for {len(texts)} texts; it must return one "
                         "vector per text, (n, dim).")
    return vectors


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything that turns texts into an ``(n, dim) float32`` matrix."""

    @property
    def model_id(self) -> str:
        """Stable id of what produces the vectors (a cache key part)."""
        ...

    @property
    def dim(self) -> int:
        """Number of columns ``encode`` returns."""
        ...

    def encode(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32``; ``progress("embedding", done, total)`` as it goes."""
        ...
