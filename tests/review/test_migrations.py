"""Alembic migrations: the newest revision is exactly schema.py, and a database from the first version of the app
upgrades with every event kept (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("alembic", reason="the review store's migrations need alembic (the review extra)")

from alembic import command  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from sqlalchemy import create_engine, inspect, text  # noqa: E402

from labelwise.errors import ParameterError  # noqa: E402
from labelwise.review.schema import Base  # noqa: E402
from labelwise.review.store import MIGRATIONS, QueueFilter, ReviewStore  # noqa: E402


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_newest_migration_matches_the_models(store_url):
    ReviewStore(store_url)
    engine = create_engine(store_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], f"schema.py and migrations/versions disagree: {diff}"


@pytest.mark.parametrize("legacy", [False, True], ids=["at-0001", "no-alembic-table"])
def test_a_first_version_database_upgrades_and_keeps_every_event(store_url, legacy):
    engine = create_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0001")
        connection.execute(text("INSERT INTO projects (id, name, classes, created_at) VALUES "
                                "(1, 'old', :classes, CURRENT_TIMESTAMP)"), {"classes": json.dumps(["a", "b"])})
        for item in (1, 2):
            connection.execute(text("INSERT INTO items (id, project_id, row, payload, label_quality, version) "
                                    "VALUES (:i, 1, :r, :p, :q, :v)"),
                               {"i": item, "r": item - 1, "p": json.dumps({"text": f"t{item}"}), "q": item / 10,
                                "v": item - 1})
            connection.execute(text("INSERT INTO label_events (item_id, version, labels, decision, source, author, "
                                    "reason, created_at) VALUES (:i, 0, :l, 'keep', 'given', 'labelwise', '', "
                                    "CURRENT_TIMESTAMP)"), {"i": item, "l": json.dumps(["a" if item == 1 else "b"])})
        connection.execute(text("INSERT INTO label_events (item_id, version, labels, decision, source, author, "
                                "reason, created_at) VALUES (2, 1, :l, 'relabel', 'human', 'ana', 'why', "
                                "CURRENT_TIMESTAMP)"), {"l": json.dumps(["a"])})
        if legacy:  # made by create_all before the app had migrations
            connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()

    store = ReviewStore(store_url)  # upgrades to the newest revision on open
    assert [e["author"] for e in store.history(2)] == ["labelwise", "ana"]
    assert store.current_labels(1) == {0: ["a"], 1: ["a"]}
    assert [v.row for v in store.queue(1, where=QueueFilter(given_class="b"))] == [1]  # backfilled given class
    assert store.progress(1) == (1, 2)
    token = store.issue_token(1, "bo")  # the new tables work
    assert store.login(1, token)[1] == "bo"


@pytest.mark.parametrize("projects", [1, 2])
def test_accounts_of_a_one_project_database_move_to_that_project(store_url, projects):
    """0002 -> 0003: accounts were global. With one project they become its accounts (links and sessions keep
    working); with several nobody can tell whose they were, so they go (new links are printed on the next start)."""
    import hashlib

    engine = create_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0002")
        for p in range(1, projects + 1):
            connection.execute(text("INSERT INTO projects (id, name, classes, created_at) VALUES "
                                    "(:p, :n, :c, CURRENT_TIMESTAMP)"), {"p": p, "n": f"p{p}", "c": json.dumps(["a"])})
        connection.execute(text("INSERT INTO users (id, name, created_at) VALUES (1, 'ana', CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO access_tokens (user_id, token_hash, created_at) VALUES "
                                "(1, :h, CURRENT_TIMESTAMP)"), {"h": hashlib.sha256(b"old-token").hexdigest()})
    engine.dispose()
    store = ReviewStore(store_url)
    if projects == 1:
        assert store.reviewers(1) == ["ana"] and store.login(1, "old-token")[1] == "ana"
        assert store.issue_token(1, "bo") and store.reviewers(1) == ["ana", "bo"]  # ids continue past the copies
    else:
        assert store.reviewers(1) == [] and store.login(1, "old-token") is None
    with store.engine.connect() as connection:
        assert not {"users", "access_tokens", "sessions"} & set(inspect(connection).get_table_names())


def test_a_0003_database_upgrades_to_one_reviewer_per_item_with_every_event(store_url):
    """0003 -> 0004: projects get reviewers_per_item = 1 (nothing changes for them), decisions and accounts stay,
    and a project can then take several reviewers per item."""
    engine = create_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0003")
        project = connection.execute(text("INSERT INTO projects (name, key, classes, created_at) VALUES "
                                          "('old', 'k', :c, CURRENT_TIMESTAMP) RETURNING id"),
                                     {"c": json.dumps(["a", "b"])}).scalar()
        for row in (0, 1):
            item = connection.execute(text("INSERT INTO items (project_id, row, payload, label_quality, version, "
                                           "issue_flags) VALUES (:p, :r, '{}', :q, :r, 0) RETURNING id"),
                                      {"p": project, "r": row, "q": row / 10}).scalar()
            connection.execute(text("INSERT INTO label_events (item_id, version, labels, decision, source, author, "
                                    "reason, created_at) VALUES (:i, 0, '[\"a\"]', 'keep', 'given', 'labelwise', "
                                    "'', CURRENT_TIMESTAMP)"), {"i": item})
        connection.execute(text("INSERT INTO label_events (item_id, version, labels, decision, source, author, "
                                "reason, created_at) VALUES (:i, 1, '[\"b\"]', 'relabel', 'human', 'ana', 'why', "
                                "CURRENT_TIMESTAMP)"), {"i": item})
        connection.execute(text("INSERT INTO reviewers (project_id, name, created_at) VALUES "
                                "(:p, 'ana', CURRENT_TIMESTAMP)"), {"p": project})
    engine.dispose()
    store = ReviewStore(store_url)
    assert store.reviewers_per_item(project) == 1 and store.current_labels(project) == {0: ["a"], 1: ["b"]}
    assert [v.row for v in store.queue(project, reviewer="ana")] == [0, 1]  # k = 1: everyone sees every item
    with pytest.raises(ParameterError, match="cannot switch"):  # decided under one reviewer per item
        store.set_reviewers_per_item(project, 2)
    second = store.create_project("new", ["a", "b"])
    store.add_items(second, [{"row": 0, "given": ["a"]}])
    store.set_reviewers_per_item(second, 2)
    store.issue_token(second, "bo")
    assert [v.row for v in store.queue(second, reviewer="bo")] == [0]
