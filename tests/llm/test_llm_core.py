"""The LLM layer with a deterministic fake model: label scoring, calibration arithmetic, cache, retries,
constrained outputs, annotation and the judge. Known truths are exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelwise.audit.llm_judge import combine_with_confident_learning, judge_labels
from labelwise.features import HashingTextEncoder
from labelwise.generate.annotate import annotate, build_prompt
from labelwise.llm.backend import with_retries
from labelwise.llm.cache import ResponseCache
from labelwise.llm.calibration import (
    calibrate, content_free_prior, domain_context_prior, random_domain_texts,
)
from labelwise.llm.constrained import generate_labels, labels_grammar, labels_json_schema, parse_labels
from labelwise.llm.scoring import label_log_likelihoods, label_probabilities
from labelwise.testing import FakeBackend


def test_label_scores_sum_token_log_probs_and_normalise_by_length():
    fake = FakeBackend(score=lambda p, c: {" card arrival": -2.0, " pin": -1.5}[c])
    assert label_log_likelihoods(fake, "p", ["card arrival", "pin"]).tolist() == [-2.0, -1.5]
    assert label_log_likelihoods(fake, "p", ["card arrival", "pin"], normalize=True).tolist() == [-1.0, -1.5]
    probs = label_probabilities(fake, ["p"], ["card arrival", "pin"])
    assert np.allclose(probs, [[1 / (1 + math.e ** 0.5), 1 - 1 / (1 + math.e ** 0.5)]])


def test_calibration_divides_by_the_prior_exactly():
    assert np.allclose(calibrate(np.array([[0.7, 0.3], [0.9, 0.1]]), np.array([0.7, 0.3])), [[0.5, 0.5], [0.9 / 0.7 / (0.9 / 0.7 + 1 / 3), (1 / 3) / (0.9 / 0.7 + 1 / 3)]])
    # a model that adds log 3 to "pos" whatever the input: its content-free prior is (3/4, 1/4) exactly,
    # and calibration removes the bias, giving back the input's own evidence
    bias = math.log(3)

    def score(prompt, c):
        evidence = 1.0 if "good" in prompt.split("Text:")[-1] else 0.0
        return (bias + evidence) if c == " pos" else 0.0

    fake = FakeBackend(score=score)
    make = lambda x: build_prompt(x, ["pos", "neg"])  # noqa: E731
    prior = content_free_prior(fake, make, ["pos", "neg"])
    assert np.allclose(prior, [0.75, 0.25])
    raw = label_probabilities(fake, [make("bad film")], ["pos", "neg"])
    assert raw[0].argmax() == 0  # biased: "bad film" comes out positive
    assert np.allclose(calibrate(raw, prior), [[0.5, 0.5]])  # no evidence either way, once the bias is removed
    corpus = ["good plot", "bad acting here", "fine"]
    texts = random_domain_texts(corpus, n_draws=5, random_state=1)
    assert len(texts) == 5 and all(len(t.split()) == 2 for t in texts)  # mean length 2 words
    assert all(w in {"good", "plot", "bad", "acting", "here", "fine"} for t in texts for w in t.split())
    dc = domain_context_prior(fake, make, ["pos", "neg"], corpus, n_draws=50, random_state=0)
    share_good = np.mean(["good" in t.split() for t in random_domain_texts(corpus, n_draws=50, random_state=0)])
    p_good, p_plain = 1 / (1 + math.exp(-(bias + 1))), 0.75
    assert np.allclose(dc[0], share_good * p_good + (1 - share_good) * p_plain)


def test_the_cache_makes_a_rerun_free_and_survives_a_new_backend(tmp_path):
    calls = []
    cache = ResponseCache(tmp_path / "llm.sqlite")
    fake = FakeBackend(score=lambda p, c: calls.append(c) or -1.0, use_cache=True, cache=cache)
    fake.score("prompt", [" a", " b"])
    fake.score("prompt", [" a", " b"])
    assert calls == [" a", " b"] and fake.usage.calls == 1 and fake.usage.cached == 1
    again = FakeBackend(score=lambda p, c: calls.append(c) or -1.0, use_cache=True,
                        cache=ResponseCache(tmp_path / "llm.sqlite"))
    assert again.score("prompt", [" a", " b"]) == ([-1.0, -1.0], [1, 1]) and len(calls) == 2  # resumed from disk
    other_model = FakeBackend(score=lambda p, c: -2.0, model="other", use_cache=True, cache=cache)
    assert other_model.score("prompt", [" a"])[0] == [-2.0]  # the model is part of the key


def test_retries_back_off_and_give_up():
    attempts, sleeps = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("slow")
        return "ok"

    assert with_retries(flaky, retryable=lambda e: isinstance(e, TimeoutError), sleep=sleeps.append) == "ok"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0  # full jitter, doubling cap
    with pytest.raises(ValueError):
        with_retries(lambda: (_ for _ in ()).throw(ValueError("bad")), retryable=lambda e: False, sleep=sleeps.append)


def test_constrained_outputs_only_accept_valid_labels():
    grammar = labels_grammar(["card", 'say "hi"'], multi=True)
    assert 'label ::= "say \\"hi\\"" | "card"' in grammar and 'root ::= label (", " label)*' in grammar
    assert labels_json_schema(["a", "b"])["properties"]["label"]["enum"] == ["a", "b"]
    assert parse_labels("card", ["card", "pin"]) == ["card"]
    assert parse_labels("card, pin", ["card", "pin"], multi=True) == ["card", "pin"]
    assert parse_labels('{"labels": ["pin", "pin"]}', ["card", "pin"], multi=True) == ["pin"]
    assert parse_labels("cards", ["card", "pin"]) is None and parse_labels("{oops", ["card"]) is None
    answers = iter(["no idea", "pin"])
    fake = FakeBackend(complete=lambda p: next(answers))
    assert generate_labels(fake, "p", ["card", "pin"]) == ["pin"] and fake.usage.malformed == 1
    stubborn = FakeBackend(complete=lambda p: "???")
    assert generate_labels(stubborn, "p", ["card", "pin"], attempts=2) is None and stubborn.usage.malformed == 2


def test_annotate_few_shot_demos_are_nearest_neighbours_and_calibration_fixes_a_biased_model():
    pool = {"text": ["refund my card payment", "card has not arrived", "pin is blocked", "reset my pin"],
            "label": ["refund", "card", "pin", "pin"]}
    import pandas as pd

    # the "model" copies the label of the last demonstration, but always adds a bias towards "refund"
    def score(prompt, c):
        last = prompt.split("Label: ")[-1].split("\n")[0] if "Label: " in prompt else ""
        return (2.0 if c.strip() == last else 0.0) + (1.0 if c == " refund" else 0.0)

    fake = FakeBackend(score=score)
    texts = ["my pin is blocked", "card has not arrived yet"]
    result = annotate(texts, labels=["refund", "card", "pin"], backend=fake, shots=1, pool=pd.DataFrame(pool),
                      pool_text="text", pool_label="label", encoder=HashingTextEncoder(dim=256))
    assert result.predicted == ["pin", "card"] and result.settings["calibration"] == "none"
    assert "Text: pin is blocked\nLabel: pin\n\nText: my pin is blocked" in fake.prompts[0]
    zero = annotate(texts, labels=["refund", "card", "pin"], backend=FakeBackend(score=score), calibration="none")
    assert zero.predicted == ["refund", "refund"]  # the bias alone
    fixed = annotate(texts, labels=["refund", "card", "pin"], backend=FakeBackend(score=score), calibration="domain")
    assert np.allclose(fixed.probabilities, 1 / 3)  # no evidence: calibrated to uniform, the bias is gone
    assert fixed.prior is not None and fixed.prior.argmax() == 0


def test_the_judge_averages_yes_probabilities_and_combines_by_rank():
    def fits(prompt):  # the fake judge: yes when the label's word occurs in the text
        text, label = prompt[len("Text: "):].split("\nA:")[0].split(" | ")
        return label in text.split()

    fake = FakeBackend(score=lambda p, c: 1.0 if fits(p) == (c == " Yes") else 0.0)
    scores = judge_labels(["my pin", "my card"], ["pin", "pin"], backends=[fake, fake],
                          prompts=("Text: {text} | {label}\nA:",))
    assert scores[0] > 0.5 > scores[1]
    combined = combine_with_confident_learning(np.array([0.9, 0.1, 0.5]), np.array([0.8, 0.2, 0.1]))
    assert combined.argmin() == 1 and np.allclose(combined, [(3 + 3) / 6, (1 + 2) / 6, (2 + 1) / 6])


def test_concurrent_scoring_keeps_row_order_and_uses_the_backends_concurrency():
    import threading
    import time

    active, peak, lock = [0], [0], threading.Lock()

    def slow(prompt, c):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return 1.0 if c.strip() == prompt.split()[-1] else 0.0

    fake = FakeBackend(score=slow)
    fake.max_concurrency = 4  # as OpenAIBackend(max_concurrency=4) has
    labels = ["a", "b", "c"]
    prompts = [f"row {i} {labels[i % 3]}" for i in range(24)]
    seen = []
    probs = label_probabilities(fake, prompts, labels, progress=lambda stage, done, total: seen.append(done))
    assert [labels[j] for j in probs.argmax(axis=1)] == [labels[i % 3] for i in range(24)]
    assert 1 < peak[0] <= 4 and seen == list(range(1, 25))
