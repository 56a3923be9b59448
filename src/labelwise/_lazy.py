"""Names a package exports, imported on first use (PEP 562), so that ``import labelwise`` stays light.

A package's ``__init__`` declares where each public name lives instead of importing it::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "audit_dataset": "labelwise.audit.workflow",   # name -> the module that defines it
        "AuditResult": "labelwise.audit.result",
    }, submodules=("label_errors",))                   # labelwise.audit.label_errors, on attribute access

    if TYPE_CHECKING:                                  # the same names, for type checkers and IDEs
        from labelwise.audit.workflow import audit_dataset
        ...

``labelwise.audit.audit_dataset`` then imports ``labelwise.audit.workflow`` (and what it needs: pandas,
scikit-learn) the first time it is read, and stores the value in the package, so later reads cost nothing.
``tests/test_layout.py`` reads these tables as imports when it checks the floors and looks for cycles.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Iterable, Mapping


def lazy_exports(package: str, names: Mapping[str, str], *, submodules: Iterable[str] = ()
                 ) -> tuple[Callable[[str], Any], Callable[[], list], list]:
    """(``__getattr__``, ``__dir__``, ``__all__``) for the package called ``package``.

    names: public name -> the module (absolute dotted path) whose attribute of that name is exported.
    submodules: names of the package's own submodules that may be read as attributes before they are imported.
    """
    names = dict(names)
    submodules = tuple(submodules)

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # found in the module's namespace from now on
        return value

    def __dir__() -> list:
        return sorted(set(vars(sys.modules[package])) | set(names) | set(submodules))

    return __getattr__, __dir__, list(names)
