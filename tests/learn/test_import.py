"""labelwise.learn without torch raises MissingExtraError with the install hint."""

from __future__ import annotations

import importlib
import sys

import pytest

from labelwise.errors import MissingExtraError


def test_missing_torch_raises_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    for name in [m for m in sys.modules if m == "labelwise.learn" or m.startswith("labelwise.learn.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtraError) as info:
        importlib.import_module("labelwise.learn")
    assert "pip install 'labelwise[learn]'" in str(info.value)
    assert info.value.extra == "learn"


def test_import_labelwise_does_not_import_torch():
    import subprocess

    code = "import sys, labelwise; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
