"""LOKT's label-only inversion audit (seed paper 20): exact pieces, the bounds, the HTTP target on loopback, and the
claim (LOKT beats its baselines) on sklearn digits at a small budget (full size: bench/lokt_inversion.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the LOKT audit needs torch (labelwise[learn])")

from labelwise.audit.privacy import inversion  # noqa: E402
from labelwise.audit.privacy.inversion import (QueryBudget, inversion_metrics, label_only_inversion,  # noqa: E402
                                               margin_loss, public_pick)
from labelwise.audit.privacy.target import HttpLabelTarget, open_target  # noqa: E402
from labelwise.errors import DataError, LabelwiseError, ParameterError  # noqa: E402
from labelwise.testing.privacy import digits_split  # noqa: E402
from tests.review.servers import free_port  # noqa: E402

SERVER = Path(__file__).with_name("label_server.py")


def test_margin_loss_exact():
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    assert margin_loss(torch, logits, torch.tensor([0, 0])).tolist() == [-1.0, 5.0]


def test_budget_counts_maps_and_stops():
    calls = []
    budget = QueryBudget(lambda X: calls.append(len(X)) or np.array(["b"] * len(X)), ["a", "b"], 5, float("inf"))
    assert budget(np.zeros((3, 2))).tolist() == [1, 1, 1]
    assert budget.used == 3 and not budget.can(3) and budget.can(2)
    with pytest.raises(inversion._BudgetSpent):
        budget(np.zeros((3, 2)))
    assert calls == [3]  # the refused batch was never sent
    late = QueryBudget(lambda X: np.zeros(len(X)), [0, 1], 100, deadline=10.0, clock=lambda: 11.0)
    assert not late.can(1)
    with pytest.raises(DataError, match="not one of"):
        QueryBudget(lambda X: np.array(["z"]), ["a", "b"], 5, float("inf"))(np.zeros((1, 2)))


def _jumping_clock(calls_before_jump: int):
    """A clock at 0 for its first calls, then far past any deadline."""
    calls = iter(range(10**9))
    return lambda: 0.0 if next(calls) < calls_before_jump else 1e9


def test_deadline_passing_between_check_and_query_stops_cleanly():
    """The time bound passing after a stage's check: the surrogates stage ends without a query, and a bound spent
    before the first query is a one-line DataError, not an internal exception."""
    from labelwise.audit.privacy.inversion import GanState, _build, train_surrogates

    generator, _ = _build(torch, 3, 2, 4, 8)
    sent = []
    budget = QueryBudget(lambda X: sent.append(len(X)) or np.zeros(len(X), int), [0, 1], 100, 10.0,
                         clock=_jumping_clock(1))
    assert train_surrogates(GanState(generator, None, 0, 0, 4, 2), budget, n_per_class=5) == [] and sent == []
    rows = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(DataError, match="time bound"):
        label_only_inversion(lambda X: np.zeros(len(X), int), rows, rows, np.arange(40) % 2, max_seconds=5.0,
                             clock=_jumping_clock(1))


def test_a_tight_budget_keeps_the_surrogates_share():
    """The T-ACGAN stops early enough that the surrogates still get n_per_class rows per class labelled (LOKT's
    stage 2), and the target is never asked about more rows than max_queries."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(64, 3))
    sent = []

    def target(X):
        sent.append(len(X))
        return (X[:, 0] > 0).astype(int)

    audit = label_only_inversion(target, rows, rows, (rows[:, 0] > 0).astype(int), max_queries=500, iters=40,
                                 warmup_iters=2, hidden=8, n_per_class=30, surrogate_epochs=1, inversion_steps=1,
                                 n_seeds=1)
    assert sent[0] == 64 and sent[-1] == 60 and set(sent[1:-1]) == {64}  # public rows, GAN batches, surrogates
    assert sum(sent) <= 500 and audit.stopped_by == "queries" and audit.settings["surrogates"] == 3


def test_public_pick_and_metrics_exact():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    labels = np.array([0, 0, 1, 1])
    margins = np.array([[0.1, 0], [0.9, 0], [0, 0.2], [0, 0.1]])
    picked, y = public_pick(X, labels, margins, [0, 1], 1)
    assert picked.tolist() == [[1.0, 1.0], [2.0, 2.0]] and y.tolist() == [0, 1]
    private, codes = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]]), np.array([0, 0, 1])
    score = inversion_metrics("m", picked, y, lambda Z: np.array([0, 0]), private, codes, queries=7)
    assert score.attack_accuracy == 0.5 and score.queries == 7
    # class 0: mean (1, 0), distance 1; nearest (0, 0) or (2, 0): sqrt(2). class 1: (2,2) to (10,10): 8 sqrt(2)
    assert score.distance_to_class_mean == pytest.approx((1 + 8 * np.sqrt(2)) / 2)
    assert score.distance_to_nearest == pytest.approx((np.sqrt(2) + 8 * np.sqrt(2)) / 2)


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(LabelwiseError):
        label_only_inversion(lambda X: np.zeros(len(X)), np.zeros((40, 3)), np.zeros((10, 2)), np.zeros(10, int))
    with pytest.raises(ParameterError):
        HttpLabelTarget("ftp://127.0.0.1/x")
    with pytest.raises(ParameterError):
        HttpLabelTarget("http://user:pw@127.0.0.1/x")
    with pytest.raises(ParameterError, match="bad port"):
        HttpLabelTarget("http://127.0.0.1:abc/x")
    with pytest.raises(DataError, match="neither an http"):
        open_target("no-such-model.joblib")


@pytest.mark.slow
def test_surrogates_learn_the_label_only_target():
    """LOKT's knowledge transfer at a small budget: surrogates trained only on the target's hard labels of generated
    rows agree with the target on new generated rows far above chance (the paper's "surrogates are proxies of the
    target"). Whether the inversion then beats its baselines is measured at full size in bench/lokt_inversion.py
    (it does not reproduce at CPU scale; docs/privacy.md)."""
    from labelwise.audit.privacy.inversion import FeatureScaler, train_surrogates, train_tacgan

    target, _, _, _, X_public = digits_split()
    scaler = FeatureScaler().fit(X_public)
    budget = QueryBudget(target.predict, range(5), 30_000, float("inf"), to_inputs=scaler.inverse_transform)
    gan = train_tacgan(scaler.transform(X_public), budget, 5, iters=300, warmup_iters=100, lr=1e-3)
    surrogates = train_surrogates(gan, budget, n_per_class=100, epochs=10)
    assert budget.used <= 30_000 and gan.queries == 200 * 64 and len(surrogates) == 2
    with torch.no_grad():
        X = gan.generator(torch.randn(500, gan.z_dim), torch.arange(5).repeat(100))
        truth = target.predict(scaler.inverse_transform(X.numpy()))
        for surrogate in [gan.class_head, *surrogates]:
            assert (surrogate(X).argmax(1).numpy() == truth).mean() > 0.6


@pytest.fixture()
def label_server(tmp_path):
    """The digits target behind a real HTTP server on 127.0.0.1, stopped by its pid."""
    import joblib

    target, evaluator, X_private, y_private, X_public = digits_split()
    joblib.dump(target, tmp_path / "target.joblib")
    port, log = free_port(), tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(SERVER), str(tmp_path / "target.joblib"), str(port), str(log)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}", log, target, X_public
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_http_target_answers_sends_only_inputs_and_refuses_redirects(label_server, monkeypatch):
    url, log, target, X_public = label_server
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # a proxy from the environment must not be used
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = HttpLabelTarget(url + "/", batch_size=100)
    answers = client(X_public[:250])
    assert [int(a) for a in answers] == target.predict(X_public[:250]).tolist()
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["rows"] for r in requests] == [100, 100, 50]
    assert all(r["keys"] == ["inputs"] and "cookie" not in r["headers"] and "authorization" not in r["headers"]
               for r in requests)
    with pytest.raises(DataError, match="redirect"):
        HttpLabelTarget(url + "/redirect")(X_public[:2])
    started = time.monotonic()
    with pytest.raises(DataError, match="did not answer after 2 tries"):
        HttpLabelTarget(url + "/slow", timeout=0.3, retries=1)(X_public[:2])
    assert time.monotonic() - started < 4.5  # bounded: two timed-out tries, not the server's 5 s
    with pytest.raises(DataError, match="HTTP 500"):
        HttpLabelTarget(url + "/broken", retries=1)(X_public[:2])
    paths = [json.loads(line)["path"] for line in log.read_text().splitlines()]
    assert paths.count("/redirect") == 1 and paths.count("/slow") == 2 and paths.count("/broken") == 2


def test_http_target_bad_answers_are_one_line_errors(label_server):
    """Not HTTP, dripping past the timeout, too long, not JSON, a label short: each a DataError, none a traceback."""
    url, log, _, X_public = label_server
    cases = [("/garbage", "did not answer after 1 tries"), ("/drip", "did not answer after 1 tries"),
             ("/huge", "more than 1,000 bytes"), ("/notjson", "did not answer JSON"), ("/deep", "did not answer JSON"),
             ("/short", "one label")]
    for path, message in cases:
        client = HttpLabelTarget(url + path, timeout=1.0, retries=0)
        if path == "/huge":
            client.max_bytes = 1_000
        with pytest.raises(DataError, match=message) as caught:
            client(X_public[:2])
        assert "\n" not in str(caught.value)


def test_http_target_stops_asking_at_its_time_bound(label_server):
    """One call over many batches stops sending at max_seconds (the audit's bound), with a one-line error."""
    url, log, _, X_public = label_server
    with pytest.raises(DataError, match="time bound"):
        HttpLabelTarget(url, batch_size=1, max_seconds=0.2)(X_public)
    assert 0 < len(log.read_text().splitlines()) < len(X_public)


def test_model_file_refusing_the_rows_is_a_data_error(tmp_path):
    import joblib

    from labelwise.audit.privacy.target import load_model_target

    target = digits_split()[0]
    joblib.dump(target, tmp_path / "target.joblib")
    predict = load_model_target(tmp_path / "target.joblib")
    assert predict(np.zeros((2, 64))).tolist() == target.predict(np.zeros((2, 64))).tolist()
    with pytest.raises(DataError, match="cannot predict rows of 10 columns"):
        predict(np.zeros((2, 10)))


@pytest.mark.slow
def test_http_target_bounded_by_the_budget(label_server):
    url, log, target, X_public = label_server
    _, evaluator, X_private, y_private, _ = digits_split()
    audit = label_only_inversion(open_target(url), X_public, X_private, y_private, classes=[0, 1, 2, 3, 4],
                                 evaluate=evaluator.predict, max_queries=2_000, iters=50, warmup_iters=5,
                                 n_per_class=40, surrogate_epochs=1, n_seeds=1, inversion_steps=2)
    rows = sum(json.loads(line)["rows"] for line in log.read_text().splitlines())
    assert rows <= 2_000 and rows == audit.scores["lokt"].queries + len(X_public)
    assert audit.stopped_by == "queries" and audit.gan_iterations < 50
