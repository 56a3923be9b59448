"""Field extraction without ground-truth labels: TAIL (seed paper 13, "Information Extraction from Heterogeneous
Documents without Ground Truth Labels using Synthetic Label Generation and Knowledge Distillation", Bhattacharyya and
Tripathi, WACV 2025, arXiv 2411.14957).

1. **Task-aware instruction labelling**: an LLM teacher reads each document with a prompt made from the schema (the
   task's instruction, each field's definition, its normalisation rule: dates as YYYY-MM-DD, amounts as plain
   decimals, a closed set of values; "null if absent") and answers in JSON constrained by the JSON schema derived from
   it (llama.cpp grammar or a server's structured output). An answer that does not parse or breaks the schema is
   dropped and counted, never stored; with ``n_votes > 1`` each field takes the majority of several samples and its
   confidence is their agreement. :func:`generic_instruction` is the ablation: the field names alone.
2. **Response-based distillation**: the teacher labels a subset; a cheap token tagger
   (:class:`~labelwise.generate.span_student.SpanExtractorStudent`) learns its answers and extracts every row.

:func:`extract_fields` runs both and returns an :class:`ExtractionResult` (one line per extracted value, with its
character offsets in the text where it is written there, its confidence and its source).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from labelwise.data.extraction_schema import FRAME_COLUMNS, ExtractionSchema, FieldSpec
from labelwise.errors import DataError, LLMError, ParameterError
from labelwise.generate.field_values import anls, field_anls, locate_value, normalise_value
from labelwise.generate.span_student import SpanExtractorStudent
from labelwise.progress import ProgressCallback, report

__all__ = ["TaskAwareLabeler", "ExtractionResult", "extract_fields", "task_aware_instruction", "generic_instruction",
           "answer_schema", "anls", "field_anls", "SpanExtractorStudent", "FRAME_COLUMNS"]

_RULES = {"date": "a date, written YYYY-MM-DD", "number": "a number with a decimal point, no currency sign and no "
          "thousands separator (e.g. 1234.50)", "integer": "a whole number, digits only", "string": "text"}


def _field_line(spec: FieldSpec) -> str:
    kind = f"one of {', '.join(spec.values)}" if spec.values else _RULES[spec.type]
    return f"- {spec.name} ({kind}): {spec.description or spec.name.replace('_', ' ')}"


def task_aware_instruction(schema: ExtractionSchema) -> str:
    """The task-aware instruction: the task, each field's definition and normalisation rule, and null if absent."""
    lines = [schema.instruction or f"Extract the fields of this {schema.name.replace('_', ' ')}.", "Fields:"]
    lines += [_field_line(spec) for spec in schema.fields.values()]
    lines.append("Copy text as it is printed. Write null for a field the document does not have. Answer with one JSON "
                 "object holding exactly these fields.")
    return "\n".join(lines)


def generic_instruction(schema: ExtractionSchema) -> str:
    """The ablation (no task awareness): extract the named fields as JSON, without definitions or rules."""
    return f"Extract the following information from the document as JSON: {', '.join(schema.fields)}."


def answer_schema(schema: ExtractionSchema, *, task_aware: bool = True, max_length: int = 80) -> dict:
    """The JSON schema an answer must follow: every field present, each a value of its type or null (task-aware:
    typed, dates as YYYY-MM-DD, closed sets as enums; generic: strings or null)."""
    properties = {}
    for spec in schema.fields.values():
        if not task_aware:
            prop = {"type": ["string", "null"], "maxLength": max_length}
        elif spec.values:
            prop = {"enum": [*spec.values, None]}
        elif spec.type == "date":
            prop = {"type": ["string", "null"], "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
        elif spec.type == "number":
            prop = {"type": ["number", "null"]}
        elif spec.type == "integer":
            prop = {"type": ["integer", "null"]}
        else:
            prop = {"type": ["string", "null"], "maxLength": max_length}
        properties[spec.name] = prop
    return {"type": "object", "properties": properties, "required": list(schema.fields),
            "additionalProperties": False}


class TaskAwareLabeler:
    """An LLM teacher that labels documents with a schema's fields (TAIL's task-aware instruction labelling).

    backend: a :class:`labelwise.llm.Backend`; schema: an :class:`ExtractionSchema` with ``fields``; task_aware:
    False for the generic-instruction ablation (values kept as written, not normalised); n_votes: samples per
    document (1: greedy); examples: ``[(text, {field: value})]`` worked examples put before each document (a base model
    such as the packaged Gemma 3 270M needs them); max_tokens: answer length.

    ``label`` returns one dict per document or None (dropped); ``dropped`` counts the unparseable and
    schema-invalid answers, ``confidence_`` holds per document the share of votes that agree on each field.
    """

    def __init__(self, backend, schema: ExtractionSchema, *, task_aware: bool = True, n_votes: int = 1,
                 examples: Sequence = (), max_tokens: int = 128, temperature: float = 0.7):
        if not schema.fields:
            raise ParameterError("The schema has no 'fields' to extract; TAIL labels fields (attributes are "
                                 "HyperPAVE's).")
        if n_votes < 1:
            raise ParameterError(f"n_votes must be 1 or more; got {n_votes}.")
        self.backend = backend
        self.schema = schema
        self.task_aware = task_aware
        self.n_votes = n_votes
        self.examples = list(examples)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.json_schema = answer_schema(schema, task_aware=task_aware)
        self.dropped = {"unparseable": 0, "invalid": 0}
        self.confidence_: list = []

    def prompt(self, text: str) -> str:
        """The whole prompt for ``text``: instruction, worked examples, then the document (the part that changes
        comes last, so a local model reuses the evaluated prefix)."""
        head = task_aware_instruction(self.schema) if self.task_aware else generic_instruction(self.schema)
        parts = [head, ""]
        for example_text, values in self.examples:
            answer = {name: values.get(name) for name in self.schema.fields}
            parts += ["Document:", str(example_text).strip(), "JSON: " + json.dumps(answer, ensure_ascii=False), ""]
        parts += ["Document:", str(text).strip(), "JSON:"]
        return "\n".join(parts)

    def parse(self, answer: str) -> Optional[dict]:
        """The answer as field -> value (normalised when task-aware), or None when it is not a JSON object holding
        exactly the schema's fields with values of their types (counted in ``dropped``)."""
        try:
            loaded = json.loads(answer.strip())
        except (json.JSONDecodeError, ValueError):
            self.dropped["unparseable"] += 1
            return None
        if not isinstance(loaded, dict) or set(loaded) != set(self.schema.fields):
            self.dropped["invalid"] += 1
            return None
        values = {}
        for name, spec in self.schema.fields.items():
            raw = loaded[name]
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                values[name] = None
                continue
            if isinstance(raw, (dict, list)):
                self.dropped["invalid"] += 1
                return None
            if not self.task_aware:
                values[name] = " ".join(str(raw).split())
                continue
            value = normalise_value(raw, spec.type, spec.values)
            if value is None:
                self.dropped["invalid"] += 1
                return None
            values[name] = value
        return values

    def label_one(self, text: str) -> tuple:
        """(values or None, field -> agreement) for one document."""
        prompt = self.prompt(text)
        answers = []
        for vote in range(self.n_votes):
            temperature = 0.0 if self.n_votes == 1 else self.temperature
            done = self.backend.complete(prompt, max_tokens=self.max_tokens, temperature=temperature,
                                         json_schema=self.json_schema, stop=["\n\n", "\nDocument:"], seed=vote)
            parsed = self.parse(done.text)
            if parsed is not None:
                answers.append(parsed)
        if not answers:
            return None, {}
        values, agreement = {}, {}
        for name in self.schema.fields:
            counts = Counter(a[name] for a in answers)
            value, n = counts.most_common(1)[0]
            values[name], agreement[name] = value, n / self.n_votes
        return values, agreement

    def label(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> list:
        """texts: (n,) str -> (n,) dicts field -> value, or None where every answer was dropped."""
        out, self.confidence_ = [], []
        report(progress, "teacher", 0, len(texts))
        for i, text in enumerate(texts):
            values, agreement = self.label_one(text)
            out.append(values)
            self.confidence_.append(agreement)
            report(progress, "teacher", i + 1, len(texts))
        return out


@dataclass
class ExtractionResult:
    """Fields extracted from ``texts``. Per row ``i``: ``values[i]`` (field -> value or None), ``spans[i]`` (field ->
    ``(start, end)`` in ``texts[i]`` or None), ``confidence[i]`` (field -> float in [0, 1]) and ``source[i]``
    (field -> "teacher" | "student"); ``summary``: counts, costs and settings."""

    texts: list
    fields: list
    values: list
    spans: list
    confidence: list
    source: list
    summary: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        found = sum(v is not None for row in self.values for v in row.values())
        return (f"ExtractionResult({len(self.texts)} rows, fields {', '.join(self.fields)}: {found} values; "
                f"teacher labelled {self.summary.get('teacher_rows', 0)} rows)")

    def to_frame(self):
        """One line per extracted value: ``row, kind ("field"), name, value, start, end (Int64, <NA> when the value
        is not written in the text), confidence, source``."""
        import pandas as pd

        records = []
        for row, values in enumerate(self.values):
            for name in self.fields:
                value = values.get(name)
                if value is None:
                    continue
                where = self.spans[row].get(name) or (None, None)
                records.append((row, "field", name, str(value), where[0], where[1],
                                float(self.confidence[row].get(name, 1.0)), self.source[row].get(name, "teacher")))
        frame = pd.DataFrame(records, columns=FRAME_COLUMNS)
        for column in ("start", "end"):
            frame[column] = frame[column].astype("Int64")
        frame["row"] = frame["row"].astype("int64")
        frame["confidence"] = frame["confidence"].astype("float64")
        return frame

    def save(self, directory, *, ids=None, id_name: str = "id") -> Path:
        """Write ``extractions.csv``, ``spans.jsonl`` and ``summary.json`` into ``directory`` (see
        :func:`write_extractions`)."""
        return write_extractions(directory, self.to_frame(), self.texts, self.summary, ids=ids, id_name=id_name)

    @classmethod
    def load(cls, directory) -> "ExtractionResult":
        """Read back what :meth:`save` wrote."""
        import pandas as pd

        from labelwise.data.formula import FORMULA_STARTS
        from labelwise.data.spans import read_span_jsonl

        directory = Path(directory)
        missing = [name for name in ("summary.json", "spans.jsonl", "extractions.csv")
                   if not (directory / name).is_file()]
        if missing:
            raise DataError(f"{directory} has no {missing[0]}: give the folder that labelwise extract (or "
                            "ExtractionResult.save) wrote.")
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        texts = [record.text for record in read_span_jsonl(directory / "spans.jsonl")]
        frame = pd.read_csv(directory / "extractions.csv", dtype={"value": str, "name": str}, keep_default_na=False,
                            na_values={"start": [""], "end": [""]})
        fields = list(summary["fields"])
        values = [dict.fromkeys(fields) for _ in texts]
        spans = [dict.fromkeys(fields) for _ in texts]
        confidence, source = [{} for _ in texts], [{} for _ in texts]
        for line in frame[frame["kind"] == "field"].itertuples(index=False):
            value = line.value
            if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):  # undo save's neutralisation
                value = value[1:]
            values[line.row][line.name] = value
            if pd.notna(line.start):
                spans[line.row][line.name] = (int(line.start), int(line.end))
            confidence[line.row][line.name] = float(line.confidence)
            source[line.row][line.name] = line.source
        return cls(texts, fields, values, spans, confidence, source, summary)


def write_extractions(directory, frame, texts: Sequence[str], summary: dict, *, ids=None, id_name: str = "id"
                      ) -> Path:
    """Write what ``labelwise extract`` writes into ``directory`` (created), each file atomically:

    - ``extractions.csv``: ``frame`` (columns :data:`FRAME_COLUMNS`), with ``ids[row]`` as column ``id_name`` after
      ``row`` when ``ids`` is given; values a spreadsheet would run as formulas get a leading ``'``;
    - ``spans.jsonl``: every text with the values found in it as spans labelled with their name (span JSONL, read
      by ``labelwise audit --spans``); overlapping values keep the most confident;
    - ``summary.json``: ``summary``.
    """
    from labelwise.data.atomic import write_text_atomic
    from labelwise.data.formula import neutralise_frame
    from labelwise.data.spans import Span, SpanRecord, write_span_jsonl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = frame.copy()
    if ids is not None:
        table.insert(1, id_name, [ids[r] for r in table["row"]])
    write_text_atomic(directory / "extractions.csv", neutralise_frame(table).to_csv(index=False))
    per_row: list = [[] for _ in texts]
    located = frame.dropna(subset=["start", "end"]).sort_values("confidence", ascending=False, kind="stable")
    for line in located.itertuples(index=False):
        span = Span(int(line.start), int(line.end), str(line.name))
        if all(span.end <= s.start or span.start >= s.end for s in per_row[line.row]):
            per_row[line.row].append(span)
    records = [SpanRecord(text, sorted(spans), {"row": i} if ids is None else {"row": i, id_name: _plain(ids[i])})
               for i, (text, spans) in enumerate(zip(texts, per_row))]
    write_span_jsonl(directory / "spans.jsonl", records)
    write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return directory


def _plain(value):
    """A JSON-friendly id: numpy scalars to Python, a missing id (NaN, NA, None) to null (JSON has no NaN)."""
    value = value.item() if hasattr(value, "item") else value
    try:
        missing = value is None or bool(value != value)
    except (TypeError, ValueError):  # pandas NA has no truth value
        missing = True
    return None if missing else value


def extract_fields(texts: Sequence[str], schema: ExtractionSchema, backend, *, distill: bool = True,
                   teacher_rows: Optional[int] = 200, task_aware: bool = True, n_votes: int = 1,
                   examples: Sequence = (), student: Optional[SpanExtractorStudent] = None, random_state: int = 0,
                   progress: Optional[ProgressCallback] = None) -> ExtractionResult:
    """Extract ``schema``'s fields from every text (TAIL).

    texts: (n,) str; backend: the LLM teacher (:class:`labelwise.llm.Backend`); distill: the teacher labels
    ``teacher_rows`` rows drawn at random (``random_state``; all rows when None or more than n; never an empty text,
    which gets no values) and a
    :class:`SpanExtractorStudent` (``student``, default one on the schema's fields) learns its answers and extracts
    the other rows (and the rows whose answers were dropped); without ``distill`` the teacher labels every row.
    task_aware, n_votes, examples: as :class:`TaskAwareLabeler`. Values the teacher gave keep source "teacher" and
    the share of agreeing votes as confidence; the student's have its tag probability.

    Raises :class:`LLMError` when the teacher gave no usable answer at all.
    """
    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    specs = list(schema.fields.values())
    labeler = TaskAwareLabeler(backend, schema, task_aware=task_aware, n_votes=n_votes, examples=examples)
    if teacher_rows is not None and teacher_rows < 1:
        raise ParameterError(f"teacher_rows must be 1 or more; got {teacher_rows}.")
    written = [i for i, t in enumerate(texts) if t.strip()]  # an empty text has nothing for the teacher to read
    if n and not written:
        raise DataError(f"All {n} texts are empty: there is nothing to extract; check the text column.")
    if distill and teacher_rows is not None and teacher_rows < len(written):
        picks = np.random.default_rng(random_state).choice(len(written), size=teacher_rows, replace=False)
        chosen = [written[k] for k in np.sort(picks)]
    else:
        chosen = written
    started = time.perf_counter()
    labels = labeler.label([texts[i] for i in chosen], progress=progress)
    teacher_seconds = time.perf_counter() - started
    valid = [i for i, values in zip(chosen, labels) if values is not None]
    if not valid and n:
        raise LLMError(f"The LLM ({getattr(backend, 'model', 'teacher')}) gave no usable answer for the "
                       f"{len(chosen)} rows it labelled ({labeler.dropped['unparseable']} unparseable, "
                       f"{labeler.dropped['invalid']} not of the schema); try a larger model (--model) or a "
                       "clearer schema.")
    values = [dict.fromkeys(schema.fields) for _ in texts]
    spans = [dict.fromkeys(schema.fields) for _ in texts]
    confidence, source = [{} for _ in texts], [{} for _ in texts]
    for i, answer, agreement in zip(chosen, labels, labeler.confidence_):
        if answer is None:
            continue
        for spec in specs:
            if answer[spec.name] is not None:
                values[i][spec.name] = answer[spec.name]
                spans[i][spec.name] = locate_value(texts[i], answer[spec.name], spec.type, spec.values)
                confidence[i][spec.name] = agreement.get(spec.name, 1.0)
                source[i][spec.name] = "teacher"
    summary = {"rows": n, "fields": list(schema.fields), "schema": schema.name, "task_aware": task_aware,
               "n_votes": n_votes, "examples": len(examples), "teacher": getattr(backend, "model", "?"),
               "teacher_rows": len(chosen), "teacher_usable_rows": len(valid), "teacher_dropped": dict(labeler.dropped),
               "teacher_ms_per_row": 1000 * teacher_seconds / max(len(chosen), 1), "distill": distill}
    usable = set(valid)
    rest = [i for i in range(n) if i not in usable]
    if distill and rest:
        model = student if student is not None else SpanExtractorStudent(specs, random_state=random_state)
        report(progress, "student", 0, len(rest))
        model.fit([texts[i] for i in valid], [values[i] for i in valid])
        started = time.perf_counter()
        for done, i in enumerate(rest, 1):
            for name, found in model.extract(texts[i]).items():
                if found is not None:
                    values[i][name], spans[i][name] = found[0], (found[1], found[2])
                    confidence[i][name], source[i][name] = found[3], "student"
            report(progress, "student", done, len(rest))
        summary.update(student_rows=len(rest), student_ms_per_row=1000 * (time.perf_counter() - started) / len(rest),
                       projected={k: {"found": a, "given": b} for k, (a, b) in model.projected_.items()})
    usage = getattr(backend, "usage", None)
    if usage is not None:
        summary["llm_calls"], summary["llm_cached"] = usage.calls, usage.cached
    return ExtractionResult(texts, list(schema.fields), values, spans, confidence, source, summary)
