"""`labelwise audit` out of core as a user meets it: when it switches (a Parquet folder, --out-of-core, a file larger
than --memory-limit in memory), the note saying so, the files written, and one-line refusals of what it cannot do."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A folder of three Parquet files (2,400 rows, 3 classes told apart by their words, 5% of labels moved) and the
    probabilities of a model that knows the true classes."""
    folder = tmp_path_factory.mktemp("ooc-cli")
    rng = np.random.default_rng(0)
    words = np.array("card transfer refund cash limit pin fee account top up exchange rate".split())
    true = rng.integers(0, 3, 2400)
    given = true.copy()
    moved = rng.random(2400) < 0.05
    given[moved] = (true[moved] + 1) % 3
    text = [" ".join(rng.choice(words[c * 4:c * 4 + 4], 5)) + f" n{i}" for i, c in enumerate(true)]
    frame = pd.DataFrame({"text": text, "category": np.array(["a", "b", "c"])[given]})
    (folder / "parts").mkdir()
    for i in range(3):
        frame.iloc[i * 800:(i + 1) * 800].to_parquet(folder / "parts" / f"{i}.parquet", index=False)
    probs = np.full((2400, 3), 0.05)
    probs[np.arange(2400), true] = 0.9
    np.save(folder / "probs.npy", probs)
    frame.to_csv(folder / "table.csv", index=False)
    return folder, moved


def test_a_parquet_folder_is_audited_out_of_core(parts, capsys):
    folder, moved = parts
    out = folder / "audit"
    code = main(["audit", str(folder / "parts"), "--label", "category", "--text", "text", "--pred-probs",
                 str(folder / "probs.npy"), "--encoder", "hashing", "--memory-limit", "400MB", "--out", str(out),
                 "--quiet"])
    assert code == 0
    printed = capsys.readouterr()
    assert "note: auditing out of core" in printed.err + printed.out
    assert "is a Parquet dataset folder" in printed.err + printed.out
    issues = pd.read_parquet(out / "issues.parquet")
    assert len(issues) == 2400
    np.testing.assert_array_equal(issues["is_label_issue"].to_numpy(), moved)  # the model knows the truth
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["out_of_core"] is True
    assert {"per_class.csv", "noise_matrix.csv", "issues.csv", "top_suggestions.parquet"} <= {
        p.name for p in out.iterdir()}


def test_a_file_too_large_for_the_memory_limit_goes_out_of_core(parts, capsys, monkeypatch):
    from labelwise.cli import audit_out_of_core

    folder, _ = parts
    monkeypatch.setitem(audit_out_of_core.MEMORY_PER_FILE_BYTE, ".csv", 10_000.0)  # as if the CSV were huge
    code = main(["audit", str(folder / "table.csv"), "--label", "category", "--text", "text", "--pred-probs",
                 str(folder / "probs.npy"), "--encoder", "hashing", "--memory-limit", "400MB", "--out",
                 str(folder / "big"), "--quiet"])
    assert code == 0
    printed = capsys.readouterr()
    assert "would take about" in printed.err + printed.out and "over the memory limit" in printed.err + printed.out


@pytest.mark.parametrize("option", [["--compare-to", "other.csv"], ["--report"], ["--llm-judge"],
                                    ["--features", "text"], ["--multi-label"]])
def test_options_the_out_of_core_audit_lacks_are_refused(parts, capsys, option):
    folder, _ = parts
    code = main(["audit", str(folder / "parts"), "--label", "category", "--text", "text", "--out",
                 str(folder / "refused"), *option])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert f"{option[0]} is not supported by the out-of-core audit" in err and "\n" not in err


def test_tfidf_and_a_bad_memory_limit_are_refused(parts, capsys):
    folder, _ = parts
    assert main(["audit", str(folder / "parts"), "--label", "category", "--text", "text", "--encoder", "tfidf",
                 "--out", str(folder / "refused")]) == 2
    assert "use --encoder minilm" in capsys.readouterr().err
    assert main(["audit", str(folder / "table.csv"), "--label", "category", "--memory-limit", "a lot", "--out",
                 str(folder / "refused")]) == 2
    assert "--memory-limit takes a size" in capsys.readouterr().err
