"""The span-label audit workflow (labelwise.audit.spans) against a known truth: an exact case with given
probabilities, planted errors on a synthetic table with a hashing encoder, and NLU++ slots with known corruption."""

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.spans import audit_spans, bio_class_names
from labelwise.data.spans import tokenize
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.features.hashing import HashingTextEncoder


def spans_json(*spans):
    return json.dumps([{"start": a, "end": b, "label": label} for a, b, label in spans])


TEXTS = ["Ann flew to Oslo", "=Bob met Ann", "Rome"]
SPANS = [spans_json((0, 3, "PER"), (12, 16, "LOC")), spans_json((1, 4, "PER"), (9, 12, "LOC")), "[]"]


def probs_agreeing_except(texts, table_spans, overrides):
    """Probabilities 0.9 on each given tag, except {(row, token): class name}."""
    names = bio_class_names(["LOC", "PER"])
    out = []
    from labelwise.data.spans import Span, spans_to_tags
    for i, (text, cell) in enumerate(zip(texts, table_spans)):
        tags = spans_to_tags(text, [Span(s["start"], s["end"], s["label"]) for s in json.loads(cell)], tokenize(text))
        p = np.full((len(tags), len(names)), 0.1 / (len(names) - 1))
        for t, tag in enumerate(tags):
            p[t, names.index(overrides.get((i, t), tag))] = 0.9
        out.append(p)
    return out


def test_given_probabilities_exact_issue(tmp_path):
    table = pd.DataFrame({"text": TEXTS, "spans": SPANS})
    # row 1: "Ann" is labelled LOC, the model says PER
    probs = probs_agreeing_except(TEXTS, SPANS, {(1, 3): "B-PER"})
    result = audit_spans(table, spans="spans", pred_probs=probs)
    assert result.class_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    frame = result.to_frame()
    assert frame[["row", "issue", "span", "start", "end", "given_label", "suggested_label"]].values.tolist() == [
        [1, "wrong_type", "Ann", 9, 12, "LOC", "PER"]]
    assert result.token_issues == [(1, 3)]
    assert int(np.argmin(result.sentence_scores)) == 1
    # flat .npy of all tokens in order gives the same result
    np.save(tmp_path / "p.npy", np.vstack(probs))
    again = audit_spans(table, spans="spans", pred_probs=tmp_path / "p.npy")
    assert again.to_frame().equals(frame)
    out = result.save(tmp_path / "out")
    rows = pd.read_csv(out / "row_scores.csv")
    assert rows.text.tolist()[0] == "'=Bob met Ann"  # formula neutralised, worst row first
    assert json.loads((out / "summary.json").read_text())["span_issues"] == 1
    assert pd.read_csv(out / "span_issues.csv").span.tolist() == ["Ann"]


def test_jsonl_file_and_doccano_cells(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": [[s["start"], s["end"], s["label"]] for s in json.loads(c)]})
                            + "\n" for t, c in zip(TEXTS, SPANS)))
    result = audit_spans(path, pred_probs=probs_agreeing_except(TEXTS, SPANS, {}))
    assert result.span_issues == [] and result.token_issues == []
    table = pd.DataFrame({"sentence": TEXTS, "ents": [json.dumps([[s["start"], s["end"], s["label"]]
                                                                 for s in json.loads(c)]) for c in SPANS]})
    assert audit_spans(table, spans="ents", text="sentence", pred_probs=result.pred_probs).tags[0].tolist() == \
        result.tags[0].tolist()


def test_planted_errors_rank_first_with_a_hashing_encoder():
    # PER names and LOC cities from fixed lists; 8 of 160 rows have the city labelled PER
    rng = np.random.default_rng(0)
    people, cities = ["ann", "bob", "carla", "dmitri", "eva", "femi"], ["oslo", "rome", "lima", "pune", "kyiv", "doha"]
    texts, cells, planted = [], [], set()
    for i in range(160):
        person, city = rng.choice(people), rng.choice(cities)
        text = f"{person} flew to {city} today"
        c0 = len(person) + len(" flew to ")
        wrong = i % 20 == 7
        planted |= {i} if wrong else set()
        texts.append(text)
        cells.append(spans_json((0, len(person), "PER"), (c0, c0 + len(city), "PER" if wrong else "LOC")))
    texts.insert(0, "")  # an empty row is kept, not scored
    cells.insert(0, "[]")
    planted = {i + 1 for i in planted}
    result = audit_spans(pd.DataFrame({"text": texts, "spans": cells}), spans="spans",
                         encoder=HashingTextEncoder(dim=32), n_splits=4)
    assert np.isnan(result.sentence_scores[0]) and len(result.token_scores[0]) == 0
    frame = result.to_frame()
    assert set(frame.row.head(len(planted))) == planted
    assert set(frame.issue.head(len(planted))) == {"wrong_type"}
    assert set(np.argsort(result.sentence_scores)[:len(planted)].tolist()) == planted  # NaN sorts last


def test_bad_inputs(tmp_path):
    table = pd.DataFrame({"text": TEXTS, "spans": SPANS})
    with pytest.raises(DataError, match="no column 'labels'"):
        audit_spans(table, spans="labels")
    with pytest.raises(ParameterError, match="span column"):
        audit_spans(table)
    with pytest.raises(DataError, match="row 0: the span cell is not valid JSON"):
        audit_spans(pd.DataFrame({"text": ["a b"], "spans": ["[{"]}), spans="spans")
    with pytest.raises(DataError, match="row 0"):  # "nn" cuts the token "Ann"
        audit_spans(pd.DataFrame({"text": ["Ann"], "spans": [spans_json((1, 3, "PER"))]}), spans="spans",
                    pred_probs=[np.ones((1, 3)) / 3])
    with pytest.raises(ShapeError, match=r"row 2: pred_probs has shape \(2, 5\)"):
        audit_spans(table, spans="spans", pred_probs=probs_agreeing_except(TEXTS, SPANS, {})[:2] + [np.ones((2, 5)) / 5])
    np.save(tmp_path / "flat.npy", np.ones((3, 5)) / 5)
    with pytest.raises(ShapeError, match="expected \\(9, 5\\)"):
        audit_spans(table, spans="spans", pred_probs=tmp_path / "flat.npy")
    with pytest.raises(DataError, match="no row has a token"):
        audit_spans(pd.DataFrame({"text": ["", " "], "spans": ["[]", "[]"]}), spans="spans",
                    pred_probs=[np.zeros((0, 1))] * 2)
    with pytest.raises(DataError, match="no row has a span"):
        audit_spans(pd.DataFrame({"text": ["a b"], "spans": ["[]"]}), spans="spans", encoder=HashingTextEncoder())


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
def test_nlupp_corrupted_rows_rank_first():
    # 200 banking utterances with slots; every 10th row gets one span retyped or dropped. Rows ranked by the
    # out-of-fold (MiniLM word states) row score: the corrupted ones must be at least 3x over-represented at the top.
    from labelwise.data.nlupp import load_nlupp
    from labelwise.data.spans import nlupp_spans
    from labelwise.features.text import TextEncoder

    table = load_nlupp("../shared/datasets/nlupp", domains=["banking"])
    table = table[table.slots.map(len) > 0].head(200).reset_index(drop=True)
    types = sorted({s["slot"] for slots in table.slots for s in slots})
    rng = np.random.default_rng(0)
    cells, planted = [], set()
    for i, (text, slots) in enumerate(zip(table.text, table.slots)):
        spans = [list(s) for s in nlupp_spans(text, slots, i)]
        if i % 10 == 3:
            j = int(rng.integers(len(spans)))
            if i % 20 == 3:
                spans[j][2] = str(rng.choice([t for t in types if t != spans[j][2]]))
            else:
                spans.pop(j)
            planted.add(i)
        cells.append(spans_json(*spans))
    result = audit_spans(pd.DataFrame({"text": table.text, "spans": cells}), spans="spans", encoder=TextEncoder(),
                         n_splits=3)
    top = np.argsort(result.sentence_scores, kind="stable")[:len(planted)].tolist()
    precision = len(set(top) & planted) / len(planted)
    print(f"NLU++ 200 rows, {len(planted)} corrupted: precision at {len(planted)} = {precision:.2f}")
    assert precision >= 3 * len(planted) / len(table)


@pytest.mark.filterwarnings("ignore:1 class")  # B-PER occurs once: the token audit says it cannot check it
def test_conll_file_gives_the_tags_it_holds(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text("Ann\tB-PER\nflew\tO\nto\tO\nNew\tB-LOC\nYork\tI-LOC\n\nU.S.\tB-LOC\nbank\tO\n")
    n_tokens = [5, 5]  # "U.S." is four built-in tokens: U . S .
    probs = [np.full((n, 5), 0.2) for n in n_tokens]
    result = audit_spans(path, pred_probs=probs)
    names = result.class_names
    assert [[names[t] for t in tags] for tags in result.tags] == [
        ["B-PER", "O", "O", "B-LOC", "I-LOC"], ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "O"]]
