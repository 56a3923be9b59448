"""TAIL (seed paper 13) claims on generated receipts (notes 13.4), at the packaged Gemma 3 270M size or any GGUF.

Arms, all on the same test receipts (SEEN layouts and the held-out UNSEEN "invoice" layout):
  (a) regex/keyword baseline written for the seen layouts (labelwise.testing.receipts.regex_fields);
  (b) the LLM teacher with the generic instruction (field names only; JSON with the keys);
  (c) the LLM teacher with the task-aware instruction (definitions, normalisation rules, null if absent) and the
      typed JSON schema (TAIL's labels);
  (d) the distilled student trained on (c)'s labels of unlabelled training receipts (seen layouts only);
  (d') the ablation of (d) that teaches "outside" where a teacher value is not in its text;
  (e) the same student trained on the gold fields (upper bound).
Both teacher arms get the same two worked examples (a base model needs them). Field ANLS (threshold 0.5). Answers are
cached (a rerun costs nothing), so the arms' ms/doc column is the time of this run; the latency line times the
teacher without its cache and the student on the same --time-docs receipts.

    python bench/tail_extraction.py [--train 48] [--test 36] [--model path.gguf] [--threads 1] [--json out.json]
        [--save-teacher-labels tests/fixtures/tail_teacher_labels.json]
"""

from __future__ import annotations

import argparse
import json
import time

from labelwise.data.extraction_schema import schema_from_dict
from labelwise.generate.extraction import TaskAwareLabeler
from labelwise.generate.field_values import field_anls
from labelwise.generate.span_student import SpanExtractorStudent
from labelwise.testing.receipts import RECEIPT_SCHEMA, SEEN, UNSEEN, make_receipts, regex_fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=48, help="unlabelled training receipts the teacher labels")
    parser.add_argument("--test", type=int, default=36, help="test receipts (2/3 seen layouts, 1/3 the unseen one)")
    parser.add_argument("--model", default=None, help="a GGUF file (default: the packaged Gemma 3 270M)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="write the figures here too")
    parser.add_argument("--time-docs", type=int, default=4, help="test receipts the teacher labels again without the "
                        "cache, to time it beside the student")
    parser.add_argument("--save-teacher-labels", default=None, metavar="PATH",
                        help="write the teacher's labels of the training receipts (the claim test's cached teacher)")
    args = parser.parse_args()

    from labelwise.llm import open_backend

    schema = schema_from_dict(RECEIPT_SCHEMA)
    fields = list(schema.fields)
    demos = make_receipts(2, templates=("classic", "kassenbon"), seed=99)
    examples = list(zip(demos.texts, demos.gold))
    train = make_receipts(args.train, templates=SEEN, seed=1)
    n_unseen = args.test // 3
    seen_test = make_receipts(args.test - n_unseen, templates=SEEN, seed=2)
    unseen_test = make_receipts(n_unseen, templates=UNSEEN, seed=3)
    test_texts, gold = seen_test.texts + unseen_test.texts, seen_test.gold + unseen_test.gold
    parts = {"seen": range(len(seen_test)), "unseen": range(len(seen_test), len(test_texts)),
             "all": range(len(test_texts))}
    backend = open_backend(args.model, threads=args.threads)
    rows, extra = {}, {}

    def score(name, preds, seconds, n_docs):
        rows[name] = {part: field_anls([preds[i] for i in idx], [gold[i] for i in idx], fields)
                      for part, idx in parts.items()}
        rows[name]["ms_per_doc"] = 1000 * seconds / max(n_docs, 1)
        print(f"  done: {name}: field ANLS seen {rows[name]['seen']['mean']:.3f}, unseen "
              f"{rows[name]['unseen']['mean']:.3f}", flush=True)

    started = time.perf_counter()
    score("(a) regex baseline", [regex_fields(t) for t in test_texts], time.perf_counter() - started, len(test_texts))
    for name, aware in (("(b) teacher, generic instruction", False), ("(c) teacher, task-aware (TAIL)", True)):
        labeler = TaskAwareLabeler(backend, schema, task_aware=aware, examples=examples)
        calls = backend.usage.calls
        started = time.perf_counter()
        preds = labeler.label(test_texts)
        seconds = time.perf_counter() - started
        score(name, preds, seconds, len(test_texts))
        rows[name]["dropped"] = dict(labeler.dropped)
        rows[name]["fresh_calls"] = backend.usage.calls - calls  # 0 when every answer came from the cache
    labeler = TaskAwareLabeler(backend, schema, task_aware=True, examples=examples)
    teacher_labels = labeler.label(train.texts)
    extra["teacher_train"] = {"rows": len(train), "usable": sum(v is not None for v in teacher_labels),
                              "dropped": labeler.dropped,
                              "anls_vs_gold": field_anls(teacher_labels, train.gold, fields)}
    if args.save_teacher_labels:
        with open(args.save_teacher_labels, "w", encoding="utf-8") as out:
            json.dump({"teacher": backend.model, "made_by": "bench/tail_extraction.py --save-teacher-labels",
                       "receipts": {"n": len(train), "templates": list(SEEN), "seed": 1}, "examples_seed": 99,
                       "texts": train.texts, "labels": teacher_labels}, out, indent=1, ensure_ascii=False)
            out.write("\n")
    for name, labels, mask in (("(d) student on teacher labels", teacher_labels, True),
                               ("(d') same, unfound values taught as O", teacher_labels, False),
                               ("(e) student on gold", train.gold, True)):
        student = SpanExtractorStudent(list(schema.fields.values()), mask_unfound=mask).fit(train.texts, labels)
        started = time.perf_counter()
        preds = student.predict(test_texts)
        score(name, preds, time.perf_counter() - started, len(test_texts))
        rows[name]["projected"] = student.projected_

    # latency on this machine, teacher and student on the same receipts: the teacher without its answer cache
    timed = test_texts[: args.time_docs]
    fresh = open_backend(args.model, threads=args.threads, use_cache=False)
    started = time.perf_counter()
    TaskAwareLabeler(fresh, schema, task_aware=True, examples=examples).label(timed)
    teacher_ms = 1000 * (time.perf_counter() - started) / max(len(timed), 1)
    student = SpanExtractorStudent(list(schema.fields.values())).fit(train.texts, teacher_labels)
    started = time.perf_counter()
    student.predict(timed)
    student_ms = 1000 * (time.perf_counter() - started) / max(len(timed), 1)
    extra["latency"] = {"docs": len(timed), "teacher_ms_per_doc": teacher_ms, "student_ms_per_doc": student_ms}

    print(f"TAIL on generated receipts: teacher {backend.model}; {len(train)} training receipts (seen layouts), "
          f"test {len(seen_test)} seen + {len(unseen_test)} unseen-layout receipts")
    print(f"{'arm':<40}{'seen':>7}{'unseen':>8}{'all':>7}  {'merchant':>8}{'date':>6}{'total':>6}{'curr.':>6}"
          f"{'ms/doc':>10}")
    for name, row in rows.items():
        a = row["all"]
        print(f"{name:<40}{row['seen']['mean']:>7.3f}{row['unseen']['mean']:>8.3f}{a['mean']:>7.3f}  "
              f"{a['merchant']:>8.2f}{a['date']:>6.2f}{a['total']:>6.2f}{a['currency']:>6.2f}"
              f"{row['ms_per_doc']:>10.1f}")
    print(f"teacher labels of the training receipts: {extra['teacher_train']['usable']}/{len(train)} usable, "
          f"field ANLS vs gold {extra['teacher_train']['anls_vs_gold']['mean']:.3f}; dropped "
          f"{extra['teacher_train']['dropped']}")
    print(f"latency on {len(timed)} receipts, this machine, {args.threads} thread(s): teacher {teacher_ms:,.0f} ms/doc "
          f"(no cache), student {student_ms:.1f} ms/doc: {teacher_ms / max(student_ms, 1e-9):,.0f}x faster")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"model": backend.model, "rows": rows, **extra}, out, indent=2)


if __name__ == "__main__":
    main()
