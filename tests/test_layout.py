"""The layout the code holds to (DESIGN.md, "Three floors"), read from the source with ``ast``.

Every import counts: at the top of a module, inside a function, under ``if TYPE_CHECKING:``, and every name a
package exports lazily (``labelwise._lazy.lazy_exports``). Then:

- every module of ``labelwise`` has a floor (``FLOORS`` below), and imports only go down or stay level;
- no import cycles between modules;
- the library never imports its test fixtures (``labelwise.testing``) or the tests;
- algorithm modules import no pandas;
- every import of a labelwise module names one that exists (a renamed module leaves no stale import behind,
  not even inside a function);
- a package never exports lazily a name that is also one of its submodules (the import system would replace the
  name by the module whenever the module is imported first).
"""

from __future__ import annotations

import ast
import importlib
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import labelwise

BASE, ALGORITHMS, WORKFLOWS, INTERFACES, TESTING = range(5)
FLOOR_NAMES = ("base", "algorithms", "workflows", "interfaces", "testing")

# A module's floor: its own entry, else the nearest "package.*" entry above it. "pkg" is the package's __init__.
FLOORS = {
    # base: shared by every floor; imports nothing else of labelwise
    "labelwise.errors": BASE,
    "labelwise.progress": BASE,
    "labelwise._lazy": BASE,
    # algorithms: arrays in, arrays out (numpy, torch; texts as lists of strings); no I/O, no pandas, no printing.
    # An encoder or LLM backend reaches them as an argument, never by import.
    "labelwise.neighbours": ALGORITHMS,  # the kNN index shared by audit, generate and link
    "labelwise.token_states": ALGORITHMS,  # padded per-token / per-patch vectors, the set-level learners' input
    "labelwise.neighbours.*": ALGORITHMS,
    "labelwise.sharded_neighbours": ALGORITHMS,  # the same search over shards of the stored rows, top-k merged
    "labelwise.audit.label_errors": ALGORITHMS,
    "labelwise.audit.confident_counts": ALGORITHMS,  # confident learning's mergeable counts (map + merge)
    "labelwise.scale": ALGORITHMS,  # the package __init__ imports nothing
    # the one read-only array I/O allowed at this floor (memmap / .npy / Parquet chunks), so that
    # label_errors.find_label_issues keeps cleanlab's signature and still takes a path for pred_probs
    "labelwise.scale.chunks": ALGORITHMS,
    "labelwise.audit.duplicates": ALGORITHMS,
    "labelwise.audit.outliers": ALGORITHMS,
    "labelwise.audit.label_shift": ALGORITHMS,
    "labelwise.audit.label_shift.*": ALGORITHMS,
    "labelwise.audit.out_of_fold": ALGORITHMS,
    "labelwise.audit.minibatch_logistic": ALGORITHMS,  # multinomial logistic regression by minibatch Adam
    "labelwise.audit.disk_rows": ALGORITHMS,  # rows of a .npy on disk, read a block at a time (pages released)
    "labelwise.audit.memory_budget": ALGORITHMS,  # --memory-limit and the batch sizes derived from it
    "labelwise.audit.multilabel": ALGORITHMS,  # cleanlab.multilabel_classification mirrored (filter, rank)
    "labelwise.audit.multilabel.*": ALGORITHMS,  # ... and label cardinality / co-occurrence (structure)
    "labelwise.audit.multilabel.dataset": WORKFLOWS,  # its pandas tables (cleanlab's dataset module)
    "labelwise.learn": ALGORITHMS,
    "labelwise.learn.*": ALGORITHMS,
    "labelwise.learn.light_labels": ALGORITHMS,  # HeLlO: low-rank label projector instead of stored soft labels
    "labelwise.link.assign": ALGORITHMS,
    "labelwise.assign": ALGORITHMS,  # (vision) coarse labels -> training targets: mattes, blended mattes, metrics
    "labelwise.assign.*": ALGORITHMS,
    "labelwise.assign.folders": WORKFLOWS,  # a folder of images and masks -> a folder of mattes (the convert CLI)
    "labelwise.audit.segmentation": ALGORITHMS,  # cleanlab.segmentation mirrored (filter, rank)
    "labelwise.audit.segmentation.*": ALGORITHMS,
    "labelwise.audit.segmentation.summary": WORKFLOWS,  # its pandas table (cleanlab's summary module)
    "labelwise.audit.object_detection": ALGORITHMS,  # cleanlab.object_detection mirrored (filter, rank, summary)
    "labelwise.audit.object_detection.*": ALGORITHMS,
    "labelwise.audit.multiannotator": WORKFLOWS,  # cleanlab.multiannotator mirrored: its names (lazily) and tables
    "labelwise.audit.multiannotator.*": ALGORITHMS,  # CROWDLAB, ActiveLab, Dawid-Skene, agreement on arrays
    "labelwise.audit.multiannotator.quality": WORKFLOWS,  # cleanlab's signatures and pandas tables
    "labelwise.audit.token_classification": ALGORITHMS,  # cleanlab.token_classification mirrored (filter, rank)
    "labelwise.audit.token_classification.*": ALGORITHMS,
    "labelwise.audit.privacy.inversion": ALGORITHMS,  # LOKT label-only model inversion and its baselines (torch)
    "labelwise.link.clustering": ALGORITHMS,  # average-linkage clusters of weighted pairs; expected pairwise F1
    "labelwise.link.compare": ALGORITHMS,  # comparison levels of candidate pairs
    "labelwise.link.fellegi_sunter": ALGORITHMS,  # m/u/lambda by EM
    "labelwise.link.expected": ALGORITHMS,  # expected precision/recall/F1 from match probabilities
    "labelwise.link.score": ALGORITHMS,  # candidates and the hybrid pair scorer shared by link and dedupe
    "labelwise.generate.evaluate": ALGORITHMS,
    "labelwise.generate.instructions": ALGORITHMS,
    "labelwise.generate.taxonomy_categories": ALGORITHMS,
    "labelwise.generate.taxonomy_check": ALGORITHMS,
    "labelwise.generate.taxonomy_prompts": ALGORITHMS,
    "labelwise.generate.field_values": ALGORITHMS,  # extracted values: normalisation, location in text, ANLS
    "labelwise.generate.marker_search": ALGORITHMS,  # Codec's marker search over any scorer given as an argument
    "labelwise.generate.select": ALGORITHMS,  # active selection: uncertainty, margin, entropy, k-center, RAD
    "labelwise.generate.node_selection": ALGORITHMS,  # LLM-GNN: C-density, PageRank, DA selection, post-filter
    # workflows: tables, paths, models and servers in; result objects out
    "labelwise": WORKFLOWS,
    "labelwise.cachefile": WORKFLOWS,  # the self-healing SQLite file behind the embedding and LLM caches
    "labelwise.multilabel_compare": WORKFLOWS,  # every multi-label learner on one table, same features and splits
    "labelwise.adapt_stream": WORKFLOWS,  # a fitted classifier corrected for label shift, batch by batch, on a table
    "labelwise.unlearning": WORKFLOWS,  # train a classifier on a table, save it (safetensors), make it forget rows
    "labelwise.audit": WORKFLOWS,
    "labelwise.audit.out_of_core": WORKFLOWS,  # the audit of tables larger than memory
    "labelwise.audit.changes": WORKFLOWS,  # what a review round changed: two audits of the same rows compared
    "labelwise.data.batches": WORKFLOWS,  # a table's label and text columns in record batches, checked per batch
    "labelwise.audit.*": WORKFLOWS,
    "labelwise.data": WORKFLOWS,
    "labelwise.data.*": WORKFLOWS,
    "labelwise.data.columns": WORKFLOWS,  # what a column holds (text, category, number, id), read from pandas values
    "labelwise.features": WORKFLOWS,
    "labelwise.features.*": WORKFLOWS,
    "labelwise.llm": WORKFLOWS,
    "labelwise.llm.*": WORKFLOWS,
    "labelwise.generate": WORKFLOWS,
    "labelwise.generate.*": WORKFLOWS,
    "labelwise.link": WORKFLOWS,
    "labelwise.link.*": WORKFLOWS,
    "labelwise.review": WORKFLOWS,
    "labelwise.review.*": WORKFLOWS,
    "labelwise.review.informative": WORKFLOWS,  # the queue most informative first, refit on a worker thread
    "labelwise.review.reaudit": WORKFLOWS,  # audit again with the reviewed labels (labelwise audit --reviewed)
    "labelwise.scale.executor": WORKFLOWS,  # the heavy stages' interface, run here (LocalExecutor) or on Ray
    "labelwise.scale.cluster": WORKFLOWS,  # connecting to a Ray cluster ("auto", HOST:PORT, ray://), clear errors
    "labelwise.scale.federated_flower": WORKFLOWS,  # FedLabel's Flower strategy and client, shards, checkpoint
    "labelwise.scale.ray_executor": WORKFLOWS,  # the stages on Ray: Ray Data actors, fold tasks, shard tasks
    "labelwise.scale.ray_llm": WORKFLOWS,  # LLM calls on a pool of Ray actors, behind the Backend interface
    # interfaces: the command line, the web app, the report
    "labelwise.__main__": INTERFACES,
    "labelwise.demo": INTERFACES,
    "labelwise.cli": INTERFACES,
    "labelwise.cli.*": INTERFACES,
    "labelwise.report": INTERFACES,
    "labelwise.report.*": INTERFACES,
    "labelwise.review.app": INTERFACES,
    # fakes and fixtures for tests and examples: they may import anything; nothing in the library imports them
    "labelwise.testing": TESTING,
    "labelwise.testing.*": TESTING,
}


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list = field(default_factory=list)  # (labelwise module, line); lazily exported modules included
    outside: list = field(default_factory=list)  # (top-level name of any other package, line)
    missing: list = field(default_factory=list)  # (labelwise module that does not exist, line)
    lazy_names: list = field(default_factory=list)  # names the package exports with lazy_exports
    names: list = field(default_factory=list)  # (labelwise module, name, line) of each absolute "from ... import"


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _constant_strings(node) -> list:
    items = node.elts if isinstance(node, (ast.Tuple, ast.List)) else []
    return [e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def scan(root: Path) -> dict:
    """Every module under the package folder ``root``, with the imports it makes anywhere in its source."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        name, is_package = _module_name(path, root)
        modules[name] = Module(name, path, is_package)
    top = root.name
    for module in modules.values():
        package = module.name if module.is_package else module.name.rpartition(".")[0]

        def add(target: str, line: int) -> None:
            if target == top or target.startswith(top + "."):
                (module.imports if target in modules else module.missing).append((target, line))
            else:
                module.outside.append((target.split(".")[0], line))

        for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module
                for alias in node.names:  # "from pkg import submodule" imports the submodule
                    add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source, node.lineno)
                    if not node.level and source.split(".")[0] == top:
                        module.names.append((source, alias.name, node.lineno))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == \
                    "lazy_exports" and len(node.args) >= 2 and isinstance(node.args[1], ast.Dict):
                for key, value in zip(node.args[1].keys, node.args[1].values):
                    module.lazy_names.append(key.value)
                    add(value.value, node.lineno)
                for keyword in node.keywords:
                    if keyword.arg == "submodules":
                        for sub in _constant_strings(keyword.value):
                            add(f"{module.name}.{sub}", node.lineno)
    return modules


def floor_of(name: str):
    if name in FLOORS:
        return FLOORS[name]
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        key = ".".join(parts[:i]) + ".*"
        if key in FLOORS:
            return FLOORS[key]
    return None


def up_imports(modules: dict) -> list:
    """``importer (floor) line -> imported (floor)`` for every import that goes up a floor."""
    found = []
    for m in modules.values():
        for target, line in m.imports:
            if floor_of(target) > floor_of(m.name):
                found.append(f"{m.name} ({FLOOR_NAMES[floor_of(m.name)]}) line {line} -> {target} "
                             f"({FLOOR_NAMES[floor_of(target)]})")
    return found


def cycles(modules: dict) -> list:
    """One import cycle (a list of module names, first == last) per strongly connected group of modules."""
    graph = {name: sorted({t for t, _ in m.imports if t != name}) for name, m in modules.items()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for group in groups:  # a shortest way back to the group's first module, for the message
        start = min(group)
        paths, seen = [[start]], {start}
        while paths:
            path = paths.pop(0)
            nxt = [w for w in graph[path[-1]] if w in group]
            if start in nxt:
                found.append(path + [start])
                break
            for w in nxt:
                if w not in seen:
                    seen.add(w)
                    paths.append(path + [w])
    return found


MODULES = scan(Path(labelwise.__file__).resolve().parent)
LIBRARY = {name: m for name, m in MODULES.items() if floor_of(name) != TESTING}


def test_every_module_has_a_floor():
    unplaced = [name for name in MODULES if floor_of(name) is None]
    assert not unplaced, f"add these modules to FLOORS in tests/test_layout.py (and DESIGN.md): {unplaced}"


def test_imports_only_go_down_the_floors():
    assert not up_imports(MODULES), "imports going up a floor:\n" + "\n".join(up_imports(MODULES))


def test_no_import_cycles():
    found = cycles(MODULES)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_library_never_imports_its_test_fixtures_or_the_tests():
    bad = [f"{m.name} line {line} -> {target}" for m in LIBRARY.values() for target, line in m.imports
           if floor_of(target) == TESTING]
    bad += [f"{m.name} line {line} -> {top}" for m in LIBRARY.values() for top, line in m.outside
            if top in ("tests", "conftest")]
    assert not bad, "the library imports test code:\n" + "\n".join(bad)


def test_algorithms_import_no_pandas():
    bad = [f"{m.name} line {line}" for m in MODULES.values() if floor_of(m.name) == ALGORITHMS
           for top, line in m.outside if top == "pandas"]
    assert not bad, "algorithm modules importing pandas (arrays in, arrays out):\n" + "\n".join(bad)


def test_every_import_names_a_module_that_exists():
    bad = [f"{m.name} line {line}: {target}" for m in MODULES.values() for target, line in m.missing]
    assert not bad, "imports of labelwise modules that do not exist:\n" + "\n".join(bad)


def test_every_imported_name_exists():
    """A name moved or renamed leaves no ``from labelwise.x import old_name`` behind, not even inside a function
    that no test happens to call (the imports are resolved here, every optional extra installed)."""
    stale = []
    for importer, module, name, line in ((m.name, *entry) for m in MODULES.values() for entry in m.names):
        try:
            target = importlib.import_module(module)
        except ImportError as err:  # an optional extra missing here: that module's own tests say so
            if getattr(err, "name", None) and not str(err.name).startswith("labelwise"):
                continue
            raise
        if not hasattr(target, name) and f"{module}.{name}" not in MODULES:
            stale.append(f"{importer} line {line}: from {module} import {name}")
    assert not stale, "imports of names that do not exist:\n" + "\n".join(stale)


def test_no_lazily_exported_name_is_also_a_submodule():
    bad = [f"{m.name}.{name}" for m in MODULES.values() for name in m.lazy_names if f"{m.name}.{name}" in MODULES]
    assert not bad, f"these names are both a lazy export and a module (rename one): {bad}"


@pytest.mark.parametrize("package", sorted(name for name, m in MODULES.items() if m.lazy_names))
def test_every_lazy_export_resolves_and_is_listed(package):
    module = importlib.import_module(package)
    for name in MODULES[package].lazy_names:
        assert not isinstance(getattr(module, name), types.ModuleType), f"{package}.{name} is a module"
        assert name in module.__all__ and name in dir(module)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name


def _plant(tmp_path: Path, files: dict) -> dict:
    root = tmp_path / "labelwise"
    for rel, source in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(source))
    return scan(root)


def test_the_checks_find_planted_cycles_up_imports_and_stale_paths(tmp_path):
    """The scanner sees imports inside functions, under TYPE_CHECKING and in lazy tables."""
    planted = _plant(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "cli/__init__.py": "",
        "cli/main.py": "from labelwise.audit import workflow\n",
        "audit/__init__.py": ("from labelwise._lazy import lazy_exports\n"
                              "__getattr__, __dir__, __all__ = lazy_exports(__name__, {'run': 'labelwise.audit.workflow'},"
                              " submodules=('label_errors',))\n"),
        "audit/label_errors.py": ("import numpy\n"
                                  "def f():\n    from labelwise.audit.workflow import run\n"
                                  "def g():\n    import pandas\n    from labelwise.audit.renamed import x\n"),
        "audit/workflow.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from labelwise.audit import label_errors\nimport labelwise.cli.main\n"),
    })
    assert planted["labelwise.audit"].lazy_names == ["run"]
    assert {t for t, _ in planted["labelwise.audit"].imports} == {"labelwise.audit.workflow",
                                                                  "labelwise.audit.label_errors"}
    assert cycles(planted) == [["labelwise.audit.label_errors", "labelwise.audit.workflow",
                                "labelwise.audit.label_errors"]]  # one group (with cli.main), its shortest cycle
    ups = up_imports(planted)
    assert "labelwise.audit.label_errors (algorithms) line 3 -> labelwise.audit.workflow (workflows)" in ups
    assert "labelwise.audit.workflow (workflows) line 4 -> labelwise.cli.main (interfaces)" in ups
    assert planted["labelwise.audit.label_errors"].missing == [("labelwise.audit.renamed", 6)]
    assert ("pandas", 5) in planted["labelwise.audit.label_errors"].outside
