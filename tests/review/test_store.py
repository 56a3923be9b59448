"""The review store: append-only events, derived labels, optimistic concurrency, keyset paging, on SQLite and on
a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("sqlalchemy", reason="the review store needs the review extra (pip install -e '.[review]')")

from labelwise.errors import LabelwiseError  # noqa: E402
from labelwise.review.store import ConflictError, ReviewStore  # noqa: E402

CLASSES = ["card_arrival", "card_linking", "pin_blocked"]


@pytest.fixture()
def store(store_url):
    return ReviewStore(store_url)


def _rows(n):
    return [{"row": i, "payload": {"text": f"text {i}"}, "given": [CLASSES[i % 3]], "label_quality": (i * 7 % n) / n,
             "suggestion": {"labels": [CLASSES[(i + 1) % 3]], "probabilities": {CLASSES[(i + 1) % 3]: 0.8}}}
            for i in range(n)]


def test_reopening_resumes_the_project_and_skips_known_rows(store):
    pid = store.create_project("banking77/train.csv", CLASSES)
    assert store.add_items(pid, _rows(10)) == 10
    assert store.create_project("banking77/train.csv", CLASSES) == pid
    assert store.add_items(pid, _rows(12)) == 2
    assert store.progress(pid) == (0, 12)


def test_queue_is_worst_first_and_keyset_pages_cover_every_item_once(store):
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, _rows(103))
    seen, after = [], None
    while True:
        page = store.queue(pid, after=after, limit=10)
        if not page:
            break
        seen.extend(page)
        after = (page[-1].label_quality, page[-1].id)
    assert len(seen) == 103 and len({v.id for v in seen}) == 103
    qualities = [v.label_quality for v in seen]
    assert qualities == sorted(qualities)


def test_decisions_append_events_and_the_label_is_derived(store):
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, _rows(3))
    item = store.queue(pid, limit=1)[0]
    assert item.current_labels == [CLASSES[item.row % 3]] and item.version == 0 and not item.reviewed
    v1 = store.decide(item.id, labels=["pin_blocked"], decision="relabel", author="ana", expected_version=0,
                      reason="asks about a PIN")
    assert v1 == 1 and store.item(item.id).current_labels == ["pin_blocked"]
    history = store.history(item.id)
    assert [e["source"] for e in history] == ["given", "audit", "human"]
    assert history[0]["labels"] == [CLASSES[item.row % 3]]  # the given label is still there, untouched
    assert history[-1]["author"] == "ana" and history[-1]["reason"] == "asks about a PIN"
    store.undo(item.id, author="ana", expected_version=1)
    assert store.item(item.id).current_labels == [CLASSES[item.row % 3]]
    assert len(store.history(item.id)) == 4  # the undo is an event too
    assert store.current_labels(pid)[item.row] == [CLASSES[item.row % 3]]
    assert store.progress(pid) == (1, 3)


def test_a_stale_version_is_a_conflict_never_an_overwrite(store):
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, _rows(1))
    item = store.queue(pid)[0]
    store.decide(item.id, labels=["card_linking"], decision="relabel", author="ana", expected_version=0)
    with pytest.raises(ConflictError, match="someone else"):
        store.decide(item.id, labels=["pin_blocked"], decision="relabel", author="ben", expected_version=0)
    assert store.item(item.id).current_labels == ["card_linking"]


def test_concurrent_reviewers_of_one_item_exactly_one_wins(store):
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, _rows(1))
    item = store.queue(pid)[0]
    wins, conflicts = [], []

    def review(name):
        try:
            store.decide(item.id, labels=["pin_blocked"], decision="relabel", author=name, expected_version=0)
            wins.append(name)
        except ConflictError:
            conflicts.append(name)

    threads = [threading.Thread(target=review, args=(f"reviewer{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1 and len(conflicts) == 7
    assert sum(e["source"] == "human" for e in store.history(item.id)) == 1


def test_unknown_labels_and_decisions_are_refused(store):
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, _rows(1))
    item = store.queue(pid)[0]
    with pytest.raises(LabelwiseError, match="Unknown label"):
        store.decide(item.id, labels=["nope"], decision="relabel", author="ana", expected_version=0)
    with pytest.raises(ValueError):
        store.decide(item.id, labels=["pin_blocked"], decision="delete", author="ana", expected_version=0)
    assert store.item(item.id).version == 0
