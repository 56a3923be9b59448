"""The README's snippets run as written, on small tables a user brings (made here with the README's column names).

- Every ```python block of README.md runs, in order, in one namespace, in a folder holding those tables.
- Every `labelwise ...` command of README.md (in ```bash blocks and in inline code) runs in that folder, in the
  order written, and exits 0. `.venv/bin/labelwise` is this interpreter's `python -m labelwise`. Options written in
  [brackets] are optional and left out. `labelwise review` serves until stopped: it runs with `--port` on a free
  port added, must print its login links on stdout, and stops with Ctrl-C (exit 130). A command name alone
  (`labelwise review` in a sentence) is not a command line. Not run: commands with `...`
  (an elided command line), the ones that need an LLM (annotate, taxonomy, extract of fields, --llm-judge,
  project-spans, learn head), which tests/cli/test_cli_taxonomy.py, tests/cli/test_cli_extract.py,
  tests/cli/test_cli_learn_head.py, tests/cli/test_cli_project_spans.py and tests/llm cover, and the ones with `--ray`,
  which
  tests/scale/test_cli_ray.py runs against its two-node test cluster (here `auto` could join another cluster on
  the machine), and `labelwise federate` (a server that waits for clients on other machines), which
  tests/scale/test_federated_flower.py runs as a server and clients on loopback. A command written twice runs once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
NEEDS_LLM = ("labelwise annotate", "labelwise taxonomy", "labelwise extract", "--llm-judge", "labelwise project-spans",
             "labelwise learn head")
NO_LLM = ("--transfer-from", "--known")  # annotate --transfer-from needs MiniLM only; extract --known (attributes) too
NEEDS_CLUSTER = "--ray"
NEEDS_PEERS = "labelwise federate"  # a Flower server waits for its clients on other machines (HOST:8080)

WORDS = {
    "card_arrival": "card arrive delivery post mail week waiting",
    "refund": "refund money back return charged twice payment",
    "password": "password reset login locked account access code",
    "exchange_rate": "exchange rate currency euro dollar conversion fee",
}


def user_tables(folder: Path) -> None:
    """train.csv and test.csv (text, category), train_parquet/ (train.csv's rows in two Parquet files), tickets.csv (body),
    tagged.csv (text, tags: one or two labels as 'a|b'), pilot.csv (text, expert: labels on half the rows, llm: a
    cheap labeller's on all), left.csv and right.csv (title, authors),
    DBLP2.csv (Latin-1, as the real one) and ACM.csv (id, title, authors, venue, year), data.csv (name, address),
    images/ and masks/ (12 digit scenes, 32x32 PNGs, and their masks of digit (1) vs background (0)), instances.json
    and detections.json (COCO box labels of 40 box scenes with errors, and a detector's boxes), items.csv
    (description, price, brand, sku: the label transfer's table), slots.csv (text, spans: the span audit's table),
    products.csv and attributes.yaml (title, values, also_viewed: the attribute values' table and schema), nodes.csv
    and edges.csv (id, text; source, target: a text graph of three topics), model.joblib, heldout.csv and new.csv
    (`shift_tables`)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        category = list(WORDS)[i % 4]
        words = rng.choice(WORDS[category].split(), size=4, replace=False)
        rows.append({"text": f"{' '.join(words)} please help {i}", "category": category})
    frame = pd.DataFrame(rows)
    frame.iloc[:96].to_csv(folder / "train.csv", index=False)
    frame.iloc[96:].to_csv(folder / "test.csv", index=False)
    (folder / "train_parquet").mkdir(exist_ok=True)
    for i, part in enumerate((frame.iloc[:48], frame.iloc[48:96])):
        part.to_parquet(folder / "train_parquet" / f"part-{i}.parquet", index=False)
    frame.rename(columns={"text": "body"})[["body"]].to_csv(folder / "tickets.csv", index=False)
    tags = ["|".join(sorted({c, list(WORDS)[(i // 4) % 4]})) for i, c in enumerate(frame["category"])]
    frame.assign(tags=tags)[["text", "tags"]].to_csv(folder / "tagged.csv", index=False)
    weak = frame["category"].replace({"exchange_rate": "refund"})  # a cheap labeller with a systematic error
    frame.assign(expert=frame["category"].where(frame.index < 60), llm=weak)[["text", "expert", "llm"]].to_csv(
        folder / "pilot.csv", index=False)
    titles = [f"{' '.join(rng.choice(WORDS[c].split(), size=3, replace=False))} study {i}"
              for i, c in enumerate(list(WORDS) * 5)]
    authors = [f"author {i}" for i in range(len(titles))]
    pd.DataFrame({"title": titles, "authors": authors}).to_csv(folder / "left.csv", index=False)
    pd.DataFrame({"title": [t.upper() for t in titles[::-1]], "authors": authors[::-1]}).to_csv(
        folder / "right.csv", index=False)
    papers = pd.DataFrame({"id": [f"p{i}" for i in range(len(titles))], "title": titles,
                           "authors": [f"Jos\u00e9 M\u00fcller {i}" for i in range(len(titles))],
                           "venue": ["VLDB", "SIGMOD"] * (len(titles) // 2), "year": 1999 + np.arange(len(titles)) % 4})
    papers.to_csv(folder / "DBLP2.csv", index=False, encoding="latin-1")
    papers.assign(id=range(100, 100 + len(titles)), title=[t.title() for t in titles]).iloc[::-1].to_csv(
        folder / "ACM.csv", index=False)
    shops = [{"name": f"{w.title()} Shop {i}", "address": f"{i} {w.title()} Street"} for i, w in
             enumerate(WORDS["refund"].split() + WORDS["password"].split())]
    pd.DataFrame(shops + shops[:4]).to_csv(folder / "data.csv", index=False)
    kinds = {"toys": "a wooden toy train for children", "books": "a paperback novel about a detective",
             "garden": "a garden hose and watering can for plants"}
    items = [{"description": f"{text} {i}", "price": 5.0 + 10 * k + rng.normal(), "brand": f"{name}co",
              "sku": f"{name[:2].upper()}-{i:04d}"} for i in range(60) for k, (name, text) in [list(
                  enumerate(kinds.items()))[i % 3]]]
    pd.DataFrame(items).to_csv(folder / "items.csv", index=False)
    from labelwise.testing.text_graph import make_text_graph

    graph = make_text_graph(120, 3, random_state=0)  # nodes.csv (id, text) and edges.csv (source, target): label-graph
    pd.DataFrame({"id": [f"n{i}" for i in range(120)], "text": graph.texts}).to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame({"source": [f"n{i}" for i in graph.edges[:, 0]], "target": [f"n{j}" for j in graph.edges[:, 1]]}).to_csv(
        folder / "edges.csv", index=False)
    slots = []
    for i in range(40):  # slots.csv (text, spans): the span audit's table, names and cities, every 10th city mislabelled
        name, city = ["ann", "bob", "eva", "omar"][i % 4], ["oslo", "lima", "rome"][i % 3]
        start = len(name) + len(" flies to ")
        spans = [{"start": 0, "end": len(name), "label": "PER"},
                 {"start": start, "end": start + len(city), "label": "PER" if i % 10 == 3 else "LOC"}]
        slots.append({"text": f"{name} flies to {city} on day {i}", "spans": json.dumps(spans)})
    pd.DataFrame(slots).to_csv(folder / "slots.csv", index=False)
    from labelwise.testing.catalog import make_catalog

    catalog = make_catalog(90, random_state=0)  # products.csv: every third row without its values
    known = catalog.known()
    pd.DataFrame({"title": catalog.texts, "values": ["" if i % 3 == 0 else "; ".join(known[i]) for i in range(90)],
                  "also_viewed": ["; ".join(map(str, v)) for v in catalog.also_view]}).to_csv(
        folder / "products.csv", index=False)
    (folder / "attributes.yaml").write_text(yaml.safe_dump({"attributes": catalog.attributes}), encoding="utf-8")
    shift_tables(folder, frame)
    scene_folders(folder)
    from tests.audit.box_files import write_scene_files

    write_scene_files(folder, names=("instances.json", "detections.json"))


def shift_tables(folder: Path, frame: pd.DataFrame) -> None:
    """model.joblib (a TF-IDF + logistic regression pipeline fitted on train.csv's rows, as a user would save theirs),
    heldout.csv (test.csv's rows: the source mix) and new.csv (a stream whose mix leans to refunds): `labelwise adapt`'s
    files."""
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)).fit(frame["text"][:96],
                                                                                     frame["category"][:96])
    joblib.dump(model, folder / "model.joblib")
    frame.iloc[96:].to_csv(folder / "heldout.csv", index=False)
    rows = [i for i in range(120) if frame["category"][i] == "refund" or i % 3 == 0]
    frame.iloc[rows].to_csv(folder / "new.csv", index=False)


def scene_folders(folder: Path) -> None:
    """images/ and masks/: the segmentation labels of the README's `labelwise audit-images` example (two classes,
    which the out-of-fold pixel model learns in seconds)."""
    from PIL import Image

    from labelwise.data.images import write_mask
    from labelwise.testing.digit_scenes import digit_scenes

    scenes = digit_scenes(12, size=32, seed=0)
    (folder / "images").mkdir(exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    for i, (image, mask) in enumerate(zip(scenes.images, scenes.masks)):
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / "images" / f"scene{i:02d}.png")
        write_mask(folder / "masks" / f"scene{i:02d}.png", mask > 0)


def python_blocks(text: str) -> list[str]:
    return [match.group(2) for match in FENCE.finditer(text) if match.group(1) == "python"]


def readme_commands(text: str) -> list[str]:
    """Every `labelwise ...` command line of the README, in order: from shell blocks, then from inline code."""
    commands = []
    for match in FENCE.finditer(text):
        if match.group(1) in ("bash", "console", "sh", "shell"):
            for line in match.group(2).splitlines():
                line = " ".join(shlex.split(line, comments=True)) if line.strip() else ""
                if re.match(r"(\.venv/bin/)?labelwise ", line):
                    commands.append(line)
    prose = FENCE.sub("", text)
    for match in re.finditer(r"`((?:\.venv/bin/)?labelwise [^`]+)`", prose):
        line = " ".join(match.group(1).split())  # as rendered: a line break in inline code is a space
        if len(line.split()) > 2:  # `labelwise review` alone names a command; it is not a command line
            commands.append(line)
    return commands


def test_the_readme_has_what_this_test_reads():
    text = README.read_text(encoding="utf-8")
    assert len(python_blocks(text)) >= 1
    commands = readme_commands(text)
    assert any(c.startswith(".venv/bin/labelwise audit") for c in commands)
    assert any("labelwise review" in c for c in commands) and any("labelwise link" in c for c in commands)


@pytest.mark.model  # the snippet embeds texts with the packaged MiniLM model
def test_readme_python_snippets_run(tmp_path, monkeypatch):
    user_tables(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for block in python_blocks(README.read_text(encoding="utf-8")):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code


def _run(command: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return run.returncode, run.stdout, run.stderr


def _serve_and_stop(command: list[str], cwd: Path) -> tuple[int, str, str]:
    """`labelwise review`: wait for its login links on stdout, then Ctrl-C."""
    from tests.review.servers import free_port

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(command + ["--port", str(free_port())], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("/login?token=" in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
        return code, "".join(lines) + proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.model  # the commands embed texts with the packaged MiniLM model (the default encoder)
@pytest.mark.slow
def test_readme_commands_run_on_a_table_a_user_brings(tmp_path):
    user_tables(tmp_path)
    failures, skipped, seen = [], [], set()
    for written in readme_commands(README.read_text(encoding="utf-8")):
        needs_llm = any(part in written for part in NEEDS_LLM) and not any(part in written for part in NO_LLM)
        if "..." in written or needs_llm:
            skipped.append(written)
            continue
        if NEEDS_CLUSTER in written.split() or NEEDS_PEERS in written or written.removeprefix(".venv/bin/") in seen:
            continue
        seen.add(written.removeprefix(".venv/bin/"))
        line = re.sub(r"\s*\[[^\]]*\]", "", written)  # [--optional parts] left out
        args = shlex.split(line)
        args = [sys.executable, "-m", "labelwise"] + args[1:]
        if args[3:4] == ["review"]:
            code, out, err = _serve_and_stop(args, tmp_path)
            ok = code == 130 and "/login?token=" in out and err.splitlines()[-1:] == ["interrupted"]
        else:
            code, out, err = _run(args, tmp_path)
            ok = code == 0
        if not ok:
            failures.append(f"{written}\n  exit {code}\n  stdout: {out[-800:]}\n  stderr: {err[-800:]}")
    assert not failures, "\n\n".join(failures)
    assert len(skipped) <= 10, f"more README commands are left out than expected: {skipped}"

