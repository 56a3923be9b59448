"""TnT-LLM phase 1 (taxonomy induction) with a deterministic fake model: the minibatch loop, the repairs, the
fallback, the YAML round trip."""

from __future__ import annotations

import pytest

from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder
from labelwise.generate.clusters import cluster_taxonomy
from labelwise.generate.taxonomy import Category, Taxonomy, induce_taxonomy
from labelwise.generate.taxonomy_check import check_proposal
from labelwise.generate.taxonomy_prompts import generate_prompt
from labelwise.generate.taxonomy_categories import (clean_categories, merge_closest, merge_near_duplicates,
                                                    parse_categories)
from labelwise.testing import FakeBackend

TEXTS = ([f"my card has not arrived yet, order {i}" for i in range(10)]
         + [f"how do I top up my account with cash {i}" for i in range(10)]
         + [f"the exchange rate for euros was wrong on day {i}" for i in range(10)])


def scripted(answers):
    """A fake model answering taxonomy prompts from ``answers`` (a function of the prompt)."""
    return FakeBackend(complete=answers)


def test_parse_categories_reads_numbered_bulleted_bold_and_json_lists():
    text = ("Here you go:\n1. Card delivery: the card has not arrived.\n2) **Top up**: adding money\n"
            "- Exchange rate - questions about rates\nThis sentence is not a category at all, it is chatter.\n")
    found = parse_categories(text)
    assert [c.name.strip() for c in found] == ["Card delivery", "Top up", "Exchange rate"]
    assert found[2].description.strip() == "questions about rates"
    assert [c.name for c in parse_categories('[{"name": "A", "description": "x"}, {"name": "B"}]')] == ["A", "B"]


def test_clean_categories_drops_empty_catch_all_echoes_and_merges_duplicates():
    raw = [Category("Card delivery", "short"), Category("  ", "empty"), Category("card deliveries", "a longer one"),
           Category("Other", "anything else"), Category("my card has not arrived yet", "echo"),
           Category("One two three four five six seven eight", "long name"),
           Category("Crammed", "2. Top up: money 3. Rates: wrong")]
    cleaned, notes = clean_categories(raw, texts=TEXTS)
    assert [c.name for c in cleaned] == ["Card delivery", "One two three four five six"]
    assert cleaned[0].description == "a longer one"  # the duplicate's longer description is kept
    assert any("copied from a text" in n for n in notes) and any("catch-all" in n for n in notes)
    assert any("several items on one line" in n for n in notes)


def test_merge_closest_merges_the_most_similar_pair_first():
    cats = [Category("card arrival", "card not arrived"), Category("top up", "cash top up"),
            Category("card arrival late", "card not arrived late"), Category("exchange rate", "wrong rate")]
    merged, notes = merge_closest(cats, 3, HashingTextEncoder(dim=256))
    assert [c.name for c in merged] == ["card arrival", "top up", "exchange rate"]
    assert "card arrival late" in merged[0].description and len(notes) == 1


def test_near_duplicate_names_are_merged_distinct_ones_kept():
    cats = [Category("I have a credit card and or a account"), Category("Top up"),
            Category("I have a credit card and or an account"), Category("Exchange rate")]
    kept, notes = merge_near_duplicates(cats, HashingTextEncoder(dim=512))
    assert [c.name for c in kept] == ["I have a credit card and or a account", "Top up", "Exchange rate"]
    assert len(notes) == 1


def test_induce_taxonomy_generates_updates_and_reviews_over_minibatches():
    def answer(prompt):
        if prompt.startswith("Write a taxonomy"):
            return "1. Card delivery: the card has not arrived.\n2. Top up: adding money to the account.\n"
        if prompt.startswith("Here is a taxonomy"):
            assert "Current taxonomy:\n1. Card delivery" in prompt  # the update sees the current taxonomy
            return ("1. Card delivery: the card has not arrived.\n2. Top up: adding money to the account.\n"
                    "3. Exchange rate: a wrong or unclear rate.\n")
        assert prompt.startswith("Review this taxonomy")
        return ("1. Card delivery: the card has not arrived.\n2. Cash top up: adding cash.\n"
                "3. Exchange rate: a wrong or unclear rate.\n")

    backend = scripted(answer)
    result = induce_taxonomy(TEXTS, backend, use_case="bank intents", batch_size=10, sample_size=30,
                             max_labels=5, encoder=HashingTextEncoder())
    assert result.names == ["Card delivery", "Cash top up", "Exchange rate"]
    steps = [s["step"] for s in result.settings["steps"]]
    assert steps == ["generate", "update", "update", "review"]
    assert result.settings["llm_calls"] == 4 and result.settings["fallback"] is None
    assert "Use case: bank intents" in backend.prompts[0]
    # every text of the first minibatch (seeded sample) is in the first prompt
    assert sum(t in backend.prompts[0] for t in TEXTS) == 10


def test_a_bad_update_keeps_the_previous_taxonomy_and_junk_never_crashes():
    calls = []

    def answer(prompt):
        calls.append(prompt)
        if prompt.startswith("Write a taxonomy"):
            return "1. Card delivery: the card.\n2. Top up: money in.\n"
        return "}}}{{ not a list at all"

    result = induce_taxonomy(TEXTS, scripted(answer), batch_size=10, sample_size=30, encoder=HashingTextEncoder(),
                             attempts=2)
    assert result.names == ["Card delivery", "Top up"]
    assert any("kept the previous one" in n for n in result.settings["repairs"])


def test_too_many_labels_are_asked_again_then_merged_down_to_the_limit():
    many = "".join(f"{i}. Label {chr(65 + i)}{chr(65 + i)}: about thing {i}\n" for i in range(1, 9))
    result = induce_taxonomy(TEXTS, scripted(lambda p: many), batch_size=30, sample_size=30, max_labels=4,
                             review=False, encoder=HashingTextEncoder(), attempts=2)
    assert len(result) == 4
    assert sum("too many labels" in n for n in result.settings["repairs"]) == 4


def test_an_answer_that_repeats_one_line_is_not_a_taxonomy():
    loop = "1. Card delivery: late card\n2. Top up: money\n" + "".join(f"{i}. Top up: money\n" for i in range(3, 9))
    result = induce_taxonomy(TEXTS, scripted(lambda p: loop), batch_size=30, sample_size=30, max_labels=10,
                             review=False, encoder=HashingTextEncoder(dim=256), attempts=2)
    assert result.settings["fallback"] == "embedding clusters"
    assert sum("attempt 1: not a taxonomy: 6 of its 8 names are not categories: 6 repeats" in n
               for n in result.settings["repairs"]) == 1


def test_a_model_that_never_answers_usefully_falls_back_to_embedding_clusters():
    backend = scripted(lambda p: "")
    result = induce_taxonomy(TEXTS, backend, batch_size=5, sample_size=30, max_labels=3,
                             encoder=HashingTextEncoder(dim=256), attempts=2)
    assert result.settings["fallback"] == "embedding clusters"
    assert len(backend.prompts) == 1  # the first minibatch decides: it is not asked again
    assert 2 <= len(result) <= 3 and len(set(result.names)) == len(result)


def test_cluster_taxonomy_names_clusters_by_their_distinctive_words():
    result = cluster_taxonomy(TEXTS, n_labels=3, encoder=HashingTextEncoder(dim=256), random_state=0)
    words = " ".join(result.names)
    assert any(w in words for w in ("card", "arrived")) and any(w in words for w in ("exchange", "euros", "rate"))


def test_yaml_round_trip_and_hand_edited_files(tmp_path):
    tax = Taxonomy([Category("Card delivery", "the card has not arrived: late"), Category("Top up", "money in")],
                   "bank intents", {"model": "fake"})
    path = tax.save(tmp_path / "t.yaml")
    back = Taxonomy.load(path)
    assert back.names == tax.names and back.definitions() == tax.definitions() and back.use_case == "bank intents"
    (tmp_path / "plain.yaml").write_text("Card delivery: late card\nTop up: money in\n")
    assert Taxonomy.load(tmp_path / "plain.yaml").names == ["Card delivery", "Top up"]
    (tmp_path / "dup.yaml").write_text("categories:\n  - name: A\n  - name: a\n")
    with pytest.raises(DataError, match="appears twice"):
        Taxonomy.load(tmp_path / "dup.yaml")
    (tmp_path / "bad.yaml").write_text("categories: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        Taxonomy.load(tmp_path / "bad.yaml")
    with pytest.raises(DataError, match="labelwise taxonomy"):
        Taxonomy.load(tmp_path / "missing.yaml")


def test_the_taxonomy_names_keep_their_import_path_after_the_split():
    import labelwise.generate as generate
    from labelwise.generate import taxonomy_categories, taxonomy_yaml
    from labelwise.generate.taxonomy import OTHER

    assert Category is taxonomy_categories.Category and Taxonomy is taxonomy_yaml.Taxonomy and OTHER == "Other"
    assert (generate.Category, generate.Taxonomy, generate.induce_taxonomy, generate.OTHER) == (
        Category, Taxonomy, induce_taxonomy, OTHER)


#: What the packaged Gemma 3 270M wrote for a user (issue 14): the prompt back, as fifteen "categories".
ECHO = ["What are the categories for", "category?", "Write a taxonomy of categories", "Use case", "Rules",
        "mutually exclusive", "each name is specific", "no catch-all category", "Texts", "Taxonomy",
        "one category per line", "number", "name", "description", "What are the categories for the texts"]


def echoing(prompt):
    return "".join(f"{i}. {name}: {name}\n" for i, name in enumerate(ECHO, 1))


def test_check_proposal_rules():
    instructions = generate_prompt([], "", 2, 25, "medium")
    texts = TEXTS[:10] + TEXTS[10:20]
    echoed = check_proposal(ECHO, instructions, texts)
    assert not echoed.ok and echoed.n_names == 15 and "15 of its 15 names are not categories" in echoed.reason
    assert set(echoed.broken) == {"echo", "instructions", "question"}
    assert echoed.broken["question"] == ["category?"] and "Write a taxonomy of categories" in echoed.broken["echo"]
    good = check_proposal(["Card delivery", "Top up", "Exchange rate", "Cash deposits"], instructions, texts)
    assert good.ok and good.broken == {} and good.reason == ""
    # a few bad names in a good answer: it passes, and those names are the ones to drop
    mixed = check_proposal(["Card delivery", "Top up", "Exchange rate", "Taxonomy?", "Card deliveries"],
                           instructions, texts)
    assert mixed.ok and mixed.dropped() == {"Taxonomy?"} and mixed.broken["repeat"] == ["Card deliveries"]
    long = ["my card has not arrived yet and I am worried about it", "Exchange rate"]
    assert check_proposal(long, instructions, texts).broken == {"long": long[:1]}
    assert check_proposal(["What are the", "Description", "Exchange rate"], instructions, texts).broken == {
        "instructions": ["What are the", "Description"]}
    assert not check_proposal([], instructions, texts).ok
    # the use case is the user's: its words are good names (it is not part of the instructions checked)
    assert check_proposal(["Refund request", "Card arrival"], generate_prompt([], "", 2, 5, "medium"),
                          ["refund request for my card", "card arrival"]).ok


def _clock(monkeypatch, seconds_per_call):
    """A fake clock for the taxonomy's timer that moves ``seconds_per_call`` per model call."""
    import labelwise.generate.taxonomy as module

    now = [0.0]
    monkeypatch.setattr(module.time, "perf_counter", lambda: now[0])
    return now


def test_an_echoing_model_falls_back_after_the_first_call_with_a_note_and_an_estimate(monkeypatch):
    now = _clock(monkeypatch, 40.0)

    def answer(prompt):
        now[0] += 40.0
        return echoing(prompt)

    backend, seen = scripted(answer), []
    result = induce_taxonomy(TEXTS, backend, batch_size=6, sample_size=30, max_labels=25, attempts=2,
                             encoder=HashingTextEncoder(dim=256), progress=lambda *a: seen.append(a))
    settings = result.settings
    assert len(backend.prompts) == 1 and settings["llm_calls"] == 1  # no retry, no second minibatch
    assert settings["fallback"] == "embedding clusters" and settings["minibatches"] == 5
    assert settings["calls_skipped"] == 5 and settings["seconds_per_call"] == 40.0  # 4 updates and the review
    assert settings["fallback_reason"].startswith("the model cannot follow the taxonomy prompt (15 of its 15 names")
    assert "about 3 min more (40 s per call)" in settings["fallback_reason"]
    assert not set(result.names) & set(ECHO) and 2 <= len(result) <= 25
    assert [s[1:] for s in seen if s[0] == "building the taxonomy"] == [(0, 6), (1, 6), (1, 1)]


def test_good_answers_do_not_fall_back_and_progress_moves_per_call():
    def answer(prompt):
        if prompt.startswith("Write a taxonomy"):
            return "1. Card delivery: the card has not arrived.\n2. Top up: adding money.\n"
        return "1. Card delivery: the card has not arrived.\n2. Top up: adding money.\n3. Exchange rate: rates.\n"

    seen = []
    result = induce_taxonomy(TEXTS, scripted(answer), batch_size=10, sample_size=30, encoder=HashingTextEncoder(),
                             progress=lambda *a: seen.append(a))
    assert result.settings["fallback"] is None and result.settings["fallback_reason"] is None
    assert result.names == ["Card delivery", "Top up", "Exchange rate"]
    assert [s for s in seen if s[0] == "building the taxonomy"] == [("building the taxonomy", d, 4) for d in range(5)]


def test_a_retry_adds_a_step_and_a_bad_first_update_keeps_the_starting_taxonomy():
    start = Taxonomy([Category("Card delivery", "late card"), Category("Top up", "money in")], "bank")
    seen = []
    backend = scripted(echoing)
    result = induce_taxonomy(TEXTS, backend, batch_size=10, sample_size=30, start=start,
                             encoder=HashingTextEncoder(), progress=lambda *a: seen.append(a))
    assert result.names == start.names and result.settings["fallback"] == "the starting taxonomy"
    assert len(backend.prompts) == 1 and seen[-1] == ("building the taxonomy", 1, 1)
    seen.clear()
    one = "1. Card delivery: the card has not arrived.\n"  # too few categories: asked again, once
    induce_taxonomy(TEXTS, scripted(lambda p: one if "Write" in p else one + "2. Top up: cash.\n"), batch_size=30,
                    sample_size=30, review=False, encoder=HashingTextEncoder(), progress=lambda *a: seen.append(a))
    steps = [s[1:] for s in seen if s[0] == "building the taxonomy"]
    assert steps == [(0, 1), (1, 1), (2, 2), (2, 2)]  # the retry adds a step; nothing usable, so it stops there


def test_an_echo_needs_a_content_word_of_the_instructions():
    from labelwise.generate.taxonomy_prompts import update_prompt

    instructions = update_prompt([], [], "", 2, 25, "medium")
    assert "that is too" in instructions
    names = ["Card that is too late", "Top up", "Exchange rate", "Merge overlapping ones"]
    check = check_proposal(names, instructions, TEXTS)
    assert check.ok and check.broken == {"echo": ["Merge overlapping ones"]}
