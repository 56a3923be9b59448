"""The OpenAI-compatible backend against a small server on loopback that misbehaves on purpose: 429 and 503
before answering, a body that is not JSON, and prompt log-probabilities for label scoring (echo + logprobs)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("httpx", reason="the HTTP backend needs httpx (the llm extra)")
uvicorn = pytest.importorskip("uvicorn", reason="the fake server runs on uvicorn (dev extra)")
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse  # noqa: E402

from labelwise.llm.backend import LLMError  # noqa: E402
from labelwise.llm.openai_http import OpenAIBackend  # noqa: E402
from labelwise.llm.scoring import label_probabilities  # noqa: E402


def _server():
    app = FastAPI()
    state = {"completions": 0, "requests": []}

    @app.get("/v1/models")
    def models():
        return {"data": [{"id": "tiny-model"}]}

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await request.json()
        state["requests"].append(body)
        state["completions"] += 1
        if state["completions"] == 1:
            return JSONResponse({"error": "slow down"}, status_code=429)
        if state["completions"] == 2:
            return PlainTextResponse("<html>bad gateway</html>", status_code=503)
        if body["prompt"].startswith("broken"):
            return PlainTextResponse("not json at all")
        if body.get("echo"):  # one "token" per character: log-prob -1 for each, -0.5 for "o"
            text = body["prompt"]
            return {"choices": [{"text": text + "!", "logprobs": {
                "text_offset": list(range(len(text) + 1)),
                "token_logprobs": [None] + [(-0.5 if ch == "o" else -1.0) for ch in text[1:]] + [-3.0]}}],
                "usage": {"prompt_tokens": len(text), "completion_tokens": 1}}
        return {"choices": [{"text": " pin", "finish_reason": "stop"}], "usage": {"prompt_tokens": 7,
                                                                                 "completion_tokens": 1}}

    return app, state


@pytest.fixture()
def server():
    app, state = _server()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1", state
    srv.should_exit = True
    thread.join(timeout=10)


def test_retries_then_completes_and_counts_tokens(server, monkeypatch):
    url, state = server
    monkeypatch.setattr("labelwise.llm.backend.time.sleep", lambda s: None)
    backend = OpenAIBackend(base_url=url, use_cache=False, prompt_price=1.0, completion_price=2.0)
    assert backend.model == "tiny-model"  # the server's first model
    answer = backend.complete("Text: my pin\nLabel:", max_tokens=3)
    assert answer.text == " pin" and state["completions"] == 3 and backend.usage.retries == 2
    assert state["requests"][-1]["temperature"] == 0.0 and state["requests"][-1]["seed"] == 0
    assert backend.usage.prompt_tokens == 7 and backend.usage.cost == pytest.approx((7 * 1 + 1 * 2) / 1000)
    with pytest.raises(LLMError, match="failed after"):
        backend.complete("broken prompt")  # never JSON: retried, then a clear error, never a crash
    assert backend.usage.malformed >= 1


def test_label_scoring_sums_the_continuation_tokens(server, monkeypatch):
    url, state = server
    monkeypatch.setattr("labelwise.llm.backend.time.sleep", lambda s: None)
    backend = OpenAIBackend(base_url=url, model="tiny-model", use_cache=False)
    logprobs, counts = backend.score("Label:", [" no", " yes"])
    assert counts == [3, 4] and logprobs == [-2.5, -4.0]  # " no": -1 -1 -0.5 ; " yes": four characters at -1
    probs = label_probabilities(backend, ["Label:"], ["no", "yes"])
    assert probs[0].argmax() == 0


def test_no_server_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LABELWISE_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LLMError, match="base_url"):
        OpenAIBackend(use_cache=False)


@pytest.mark.model
def test_annotate_and_the_audit_judge_from_the_command_line(server, monkeypatch, tmp_path):
    import pandas as pd

    from labelwise.cli.main import main

    url, state = server
    monkeypatch.setattr("labelwise.llm.backend.time.sleep", lambda s: None)
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABELWISE_LLM_CACHE", raising=False)  # this test's answers in its own folder too
    pd.DataFrame({"body": ["a", "bb", "ccc"]}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["annotate", str(tmp_path / "t.csv"), "--text", "body", "--labels", "no,yes", "--server", url,
                 "--calibration", "none", "--out", str(tmp_path / "ann"), "--quiet"]) == 0
    out = pd.read_csv(tmp_path / "ann" / "annotations.csv")
    assert out["label"].tolist() == ["no"] * 3  # " no" scores -2.5, " yes" -4.0 on this server
    assert main(["annotate", str(tmp_path / "t.csv"), "--text", "body", "--labels", "no", "--server", url]) == 2
    assert main(["annotate", str(tmp_path / "t.csv"), "--text", "nope", "--labels", "a,b", "--server", url]) == 2

    rng = __import__("numpy").random.default_rng(0)
    frame = pd.DataFrame({"text": [f"question {i}" for i in range(60)], "label": ["x", "y", "z"] * 20})
    frame.to_csv(tmp_path / "l.csv", index=False)
    __import__("numpy").save(tmp_path / "p.npy", rng.dirichlet([1, 1, 1], 60))
    assert main(["audit", str(tmp_path / "l.csv"), "--label", "label", "--text", "text", "--pred-probs",
                 str(tmp_path / "p.npy"), "--llm-judge", "--judge-rows", "5", "--server", url,
                 "--out", str(tmp_path / "audit"), "--quiet"]) == 0
    issues = pd.read_csv(tmp_path / "audit" / "issues.csv")
    judged = issues[issues["llm_judge_score"].notna()]
    assert len(judged) == 5 and judged["label_quality"].max() <= issues["label_quality"].nsmallest(5).max()
    assert judged["combined_quality"].between(0, 1).all()
