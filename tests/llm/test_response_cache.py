"""The LLM response cache heals like the embedding cache (moved aside when broken, read-only works, deletable
mid-run, every answer checked) and stays under its size limit, evicting the least recently used answers."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import warnings

import pytest

from labelwise.errors import CacheWarning, ParameterError
from labelwise.llm.cache import DEFAULT_SIZE_LIMIT, ResponseCache, _checksum, default_cache_path, parse_size
from labelwise.testing import FakeBackend
from tests.caches import deleted_without_pause, moved_aside, no_warnings, shared_folder, without_write_access

PROMPTS = [f"prompt {i}" for i in range(6)]
CONTINUATIONS = [" yes", " no"]


def _score(prompt: str, continuation: str) -> float:  # the fake model's exact answer
    return -float(len(prompt) + len(continuation)) / 10


def _expected(prompt: str) -> tuple[list[float], list[int]]:
    return [_score(prompt, c) for c in CONTINUATIONS], [1, 1]


def _backend(path) -> FakeBackend:
    return FakeBackend(score=_score, use_cache=True, cache=ResponseCache(path))


def _run(backend: FakeBackend, prompts=PROMPTS) -> list:
    return [backend.score(p, CONTINUATIONS) for p in prompts]


def _fill(path, prompts=PROMPTS) -> None:
    backend = _backend(path)
    _run(backend, prompts)
    backend.cache.close()


def _heals(path) -> str:
    """A run on the broken cache asks the model every question, answers right, and says so in one warning line;
    the rebuilt file then answers everything."""
    backend = _backend(path)
    with pytest.warns(CacheWarning) as record:
        answers = _run(backend)
    messages = [str(w.message) for w in record if w.category is CacheWarning]
    assert len(messages) == 1 and "moved it to llm.sqlite.broken-" in messages[0] and "\n" not in messages[0]
    assert answers == [_expected(p) for p in PROMPTS] and backend.usage.calls == len(PROMPTS)
    again = _backend(path)
    assert no_warnings(lambda: _run(again)) == answers and again.usage.calls == 0
    assert len(moved_aside(path.parent, "llm.sqlite")) == 1
    return messages[0]


def test_a_file_that_is_not_a_database_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "llm.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    assert "file is not a database" in _heals(path)  # before: a raw sqlite3.DatabaseError
    assert moved_aside(tmp_path, "llm.sqlite")[0].read_bytes() == b"this is not a database" * 100


@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_a_truncated_file_is_moved_aside_and_rebuilt(tmp_path, keep):
    path = tmp_path / "llm.sqlite"
    _fill(path, [f"filler {i}" * 50 for i in range(200)] + PROMPTS)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert "malformed" in _heals(path)


def test_the_layout_before_checks_is_moved_aside_and_not_used(tmp_path):
    path = tmp_path / "llm.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    key = ResponseCache.key(["fake", "fake", "score", PROMPTS[0], CONTINUATIONS])
    con.execute("INSERT INTO responses VALUES (?, ?)", (key, "[[0.0, 0.0], [1, 1]]"))  # a wrong answer to PROMPTS[0]
    con.commit()
    con.close()
    assert "not written by labelwise, or by an older version" in _heals(path)


def test_answers_that_fail_a_check_are_asked_again_and_replaced(tmp_path):
    path = tmp_path / "llm.sqlite"
    _fill(path)
    con = sqlite3.connect(path)

    def set_row(prompt, value, model="fake/fake", checksum=None):
        key = ResponseCache.key(["fake", "fake", "score", prompt, CONTINUATIONS])
        con.execute("UPDATE responses SET value = ?, model = ?, checksum = ? WHERE key = ?",
                    (value, model, checksum or _checksum(key, model, value), key))

    # valid checksums, so only the check named fails
    set_row(PROMPTS[0], "[[-1.0, -2.0], [1, 1]]", model="fake/another-model")  # another model's answer
    set_row(PROMPTS[1], "[[-1.0, -2.0], [1, 1]]", checksum=b"\0" * 8)  # changed without its checksum
    set_row(PROMPTS[2], "[[-1.0], [1]]")  # one score for two continuations
    set_row(PROMPTS[3], "[[NaN, -2.0], [1, 1]]")  # not finite
    set_row(PROMPTS[4], "[[-1.0, -2.0], [1, 1")  # not JSON
    con.commit()
    con.close()
    backend = _backend(path)
    with pytest.warns(CacheWarning, match="fail their check"):
        answers = _run(backend)
    assert answers == [_expected(p) for p in PROMPTS] and backend.usage.calls == 5 and backend.usage.cached == 1
    again = _backend(path)
    assert no_warnings(lambda: _run(again)) == answers and again.usage.calls == 0  # replaced


def test_a_cached_completion_of_the_wrong_shape_is_generated_again(tmp_path):
    path = tmp_path / "llm.sqlite"
    fake = FakeBackend(complete=lambda p: "an answer", use_cache=True, cache=ResponseCache(path))
    assert fake.complete("q").text == "an answer"
    con = sqlite3.connect(path)
    key, model = con.execute("SELECT key, model FROM responses").fetchone()
    value = '{"text": 5, "prompt_tokens": 1, "completion_tokens": 2, "finish_reason": "stop"}'
    con.execute("UPDATE responses SET value = ?, checksum = ?", (value, _checksum(key, model, value)))
    con.commit()
    con.close()
    again = FakeBackend(complete=lambda p: "an answer", use_cache=True, cache=ResponseCache(path))
    with pytest.warns(CacheWarning):
        assert again.complete("q").text == "an answer"
    assert again.usage.calls == 1


def test_a_read_only_cache_that_holds_everything_is_used():
    with shared_folder() as folder:
        path = folder / "llm.sqlite"
        _fill(path)
        before = path.read_bytes()
        backend = _backend(path)
        (answers, calls), messages = without_write_access(folder, lambda: (_run(backend), backend.usage.calls))
        assert answers == [_expected(p) for p in PROMPTS] and calls == 0 and messages == []
        assert path.read_bytes() == before and [p.name for p in folder.iterdir()] == ["llm.sqlite"]


def test_a_read_only_cache_that_misses_answers_asks_the_model_without_saving():
    with shared_folder() as folder:
        path = folder / "llm.sqlite"
        _fill(path, PROMPTS[:3])
        before = path.read_bytes()
        backend = _backend(path)
        (answers, calls), messages = without_write_access(folder, lambda: (_run(backend), backend.usage.calls))
        assert answers == [_expected(p) for p in PROMPTS] and calls == 3
        assert len(messages) == 1 and "is not writable" in messages[0]
        assert path.read_bytes() == before


@pytest.mark.parametrize("what", ["file", "folder"])
def test_deleting_the_cache_mid_run_does_not_stop_the_run(tmp_path, what):
    folder = tmp_path / "cache"
    backend = _backend(folder / "llm.sqlite")
    first = _run(backend, PROMPTS[:3])  # the connection stays open
    if what == "file":
        os.remove(folder / "llm.sqlite")
    else:
        shutil.rmtree(folder)
    rest = no_warnings(lambda: _run(backend, PROMPTS[3:]))
    assert first + rest == [_expected(p) for p in PROMPTS]
    again = _backend(folder / "llm.sqlite")
    _run(again)
    assert again.usage.cached == 3 and again.usage.calls == 3  # the answers after the deletion were kept


@pytest.mark.parametrize("what", ["file", "folder"])
def test_deleting_the_cache_at_any_moment_never_fails_a_call(tmp_path, what):
    """A thread deletes the cache without pause while answers are stored and read (before: a raw 'disk I/O
    error'); every answer read back is the one stored."""
    folder = tmp_path / "cache"
    cache = ResponseCache(folder / "llm.sqlite")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        with deleted_without_pause(folder if what == "folder" else cache.path) as deletions:
            for i in range(200):
                cache.put(["question", i], [i])
                assert cache.get(["question", i]) in (None, [i])
    assert deletions[0] > 10


def test_the_size_limit_evicts_the_least_recently_used_answers(tmp_path, monkeypatch):
    clock = itertools.count(step=3600)  # an hour between calls: every hit is recorded
    monkeypatch.setattr("labelwise.llm.cache.time.time", lambda: float(next(clock)))
    value = "x" * 100
    size = 64 + len('"' + value + '"')  # key (64 hex digits), model (""), JSON value
    cache = ResponseCache(tmp_path / "llm.sqlite", size_limit=10 * size)
    for i in range(10):
        cache.put([i], value)
    assert len(cache) == 10 and cache.size == 10 * size  # exactly at the limit: nothing evicted
    assert cache.get([0]) == value  # used again: now the most recent
    cache.put([10], value)  # over the limit: evict the least recently used down to 90% (9 answers)
    assert cache.size == 9 * size
    assert [i for i in range(11) if cache.get([i]) is not None] == [0, 3, 4, 5, 6, 7, 8, 9, 10]
    cache.put([11], "y" * (11 * size))  # larger than the whole limit: not stored, nothing evicted for it
    assert cache.get([11]) is None and len(cache) == 9


def test_the_size_limit_comes_from_the_argument_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("LABELWISE_LLM_CACHE_SIZE", raising=False)
    assert ResponseCache(tmp_path / "a").size_limit == DEFAULT_SIZE_LIMIT == 2**30
    monkeypatch.setenv("LABELWISE_LLM_CACHE_SIZE", "500MB")
    assert ResponseCache(tmp_path / "a").size_limit == 500_000_000
    assert ResponseCache(tmp_path / "a", size_limit="2 GiB").size_limit == 2 * 2**30
    assert [parse_size(v) for v in (1000, "1000", "1.5kB", "1KiB")] == [1000, 1000, 1500, 1024]
    for bad in ("lots", "-5MB", "0", 0, True, "5 parsecs"):
        with pytest.raises(ParameterError, match="size_limit"):
            parse_size(bad)
    monkeypatch.setenv("LABELWISE_LLM_CACHE_SIZE", "big")
    with pytest.raises(ParameterError, match="LABELWISE_LLM_CACHE_SIZE"):
        ResponseCache(tmp_path / "a")


def test_the_cache_file_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path / "dir"))
    monkeypatch.delenv("LABELWISE_LLM_CACHE", raising=False)
    assert default_cache_path() == tmp_path / "dir" / "llm.sqlite"
    monkeypatch.setenv("LABELWISE_LLM_CACHE", str(tmp_path / "answers.sqlite"))
    assert default_cache_path() == tmp_path / "answers.sqlite" == ResponseCache().path
