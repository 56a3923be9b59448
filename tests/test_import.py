"""``import labelwise`` stays light, and its public names are plain names.

How long the import takes is measured, not tested: ``python bench/import_time.py --rev b4f3314 --rev .``.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import pytest

import labelwise

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "torch", "onnxruntime", "tokenizers", "fastapi", "sqlalchemy",
         "llama_cpp", "httpx", "ray")


def loaded_after(code: str) -> list:
    """The HEAVY packages in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()


def test_import_labelwise_loads_no_heavy_package():
    assert loaded_after("import labelwise; labelwise.__version__, labelwise.LabelwiseError") == []


@pytest.mark.parametrize("package", ["audit", "data", "features", "generate", "llm", "testing"])
def test_importing_a_subpackage_loads_no_heavy_package(package):
    assert loaded_after(f"import labelwise.{package}") == []


def test_confident_learning_on_arrays_needs_only_numpy():
    assert loaded_after("from labelwise.audit.label_errors import find_label_issues") == []


def test_the_audit_is_a_plain_function_and_the_package_a_plain_module():
    assert inspect.isfunction(labelwise.audit_dataset) and labelwise.audit_dataset.__name__ == "audit_dataset"
    assert labelwise.audit_dataset is labelwise.audit.audit_dataset
    assert labelwise.AuditResult is labelwise.audit.AuditResult
    assert type(labelwise.audit) is types.ModuleType
    with pytest.raises(TypeError, match="not callable"):
        labelwise.audit("train.csv")
    assert {"audit_dataset", "AuditResult", "LabelwiseError", "__version__"} <= set(labelwise.__all__)
    assert {"audit_dataset", "audit", "generate"} <= set(dir(labelwise))
