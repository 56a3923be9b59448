"""`labelwise export`: faithful to the user's table, safe to open in a spreadsheet, one snapshot of the store, found
again after the folder moves, and nothing left behind when it fails or is killed."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sqlalchemy", reason="the review store needs the review extra (pip install -e '.[review]')")

from labelwise.cli.main import main  # noqa: E402
from labelwise.errors import DataError  # noqa: E402
from labelwise.review import snapshot as snapshot_module  # noqa: E402
from labelwise.review.project import PROJECT_FILE, export_decisions, open_audit_project, project_key  # noqa: E402
from labelwise.review.store import ReviewStore  # noqa: E402
from tests.review.servers import CLASSES, audit_dir  # noqa: E402

TRICKY = ["000000", "01234", "NA", "None", "n/a", "FALSE", "94", "0.1000000000000000055511151231257827",
          "1234567890123456789012", "", " padded ", "line one\nline two", "-5", "=1+1", "café"]


def _cells(path, encoding="utf-8"):
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def _tricky_table(path, n=45, encoding="utf-8"):
    """A CSV whose every cell is a string pandas would change on a read-and-write; the labels are 001/002/003,
    which pandas reads as the classes 1, 2, 3."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "value", "other", "score", "category"])
    for i in range(n):
        writer.writerow([f"{i:06d}", TRICKY[i % len(TRICKY)], TRICKY[(i * 7) % len(TRICKY)], repr(0.1 + i / 3),
                         f"00{1 + i % 3}"])
    path.write_bytes(buffer.getvalue().encode(encoding))
    probs = np.random.default_rng(0).dirichlet(np.ones(3), n)
    np.save(path.with_suffix(".npy"), probs)
    return path


def _audit(table, out, *extra):
    assert main(["audit", str(table), "--label", "category", "--pred-probs", str(table.with_suffix(".npy")),
                 "--out", str(out), "--quiet", *extra]) == 0
    return out


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_export_writes_back_every_untouched_cell_exactly(tmp_path, encoding):
    table = _tricky_table(tmp_path / "t.csv", encoding=encoding)
    folder = _audit(table, tmp_path / "audit", *(["--encoding", encoding] if encoding != "utf-8" else []))
    store, pid, classes = open_audit_project(folder)
    assert sorted(classes) == ["1", "2", "3"]
    by_row = {v.row: v for v in store.queue(pid, limit=100)}
    store.decide(by_row[0].id, labels=["2"], decision="relabel", author="@mallory",
                 reason='=HYPERLINK("http://evil.example","click")', expected_version=0)
    store.decide(by_row[4].id, decision="keep", author="ana", expected_version=0)
    store.decide(by_row[5].id, labels=["1", "3"], decision="several", author="+bo", expected_version=0)
    assert main(["export", str(folder), "--out", str(tmp_path / "out")]) == 0

    before, after = _cells(table, encoding), _cells(tmp_path / "out" / "t.reviewed.csv", encoding)
    assert after[0] == ["id", "value", "other", "score", "category", "category_given", "review_decision",
                        "reviewed_by"]
    assert len(after) == len(before)
    for i in range(1, len(before)):
        assert after[i][:4] == before[i][:4], f"row {i - 1} changed: {before[i][:4]} -> {after[i][:4]}"
        assert after[i][5] == before[i][4]  # the given label, exactly as it was
    expected = {0: "002", 5: "001|003"}  # a new label is spelled as the file spells that class
    assert [after[i + 1][4] for i in range(len(before) - 1)] == [expected.get(i, before[i + 1][4])
                                                                  for i in range(len(before) - 1)]
    assert after[1][6:] == ["relabel", "'@mallory"] and after[5][6:] == ["keep", "ana"]
    assert after[6][6:] == ["several", "'+bo"]
    log = _cells(tmp_path / "out" / "changelog.csv")
    assert [r[2] for r in log[1:]] == ["'@mallory", "ana", "'+bo"]
    assert log[1][5] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert not any(cell[:1] in "=+-@" and cell for row in log[1:] for cell in row)
    # the file the export wrote reads back as the original does, value for value
    original = pd.read_csv(table, encoding=encoding, dtype=str, keep_default_na=False)
    copy = pd.read_csv(tmp_path / "out" / "t.reviewed.csv", encoding=encoding, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(copy[["id", "value", "other", "score"]], original[["id", "value", "other", "score"]])


def test_parquet_export_keeps_the_schema(tmp_path):
    import pyarrow.parquet as pq

    n = 30
    frame = pd.DataFrame({"id": np.arange(n, dtype=np.int32), "code": [f"{i:05d}" if i % 4 else None
                                                                       for i in range(n)],
                          "flag": [i % 2 == 0 for i in range(n)], "score": np.linspace(0, 1, n).astype(np.float32),
                          "category": [10 + i % 3 for i in range(n)]})
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    np.save(tmp_path / "t.npy", np.random.default_rng(0).dirichlet(np.ones(3), n))
    folder = _audit(tmp_path / "t.parquet", tmp_path / "audit")
    store, pid, _ = open_audit_project(folder)
    item = next(v for v in store.queue(pid, limit=100) if v.row == 3)
    store.decide(item.id, labels=["12"], decision="relabel", author="ana", expected_version=0)
    assert main(["export", str(folder), "--out", str(tmp_path / "out")]) == 0
    source, out = pq.read_schema(tmp_path / "t.parquet"), pq.read_schema(tmp_path / "out" / "t.reviewed.parquet")
    assert [(f.name, f.type) for f in out if f.name in source.names] == [(f.name, f.type) for f in source]
    back = pd.read_parquet(tmp_path / "out" / "t.reviewed.parquet")
    pd.testing.assert_frame_equal(back[["id", "code", "flag", "score"]], frame[["id", "code", "flag", "score"]])
    assert back.loc[3, "category"] == 12 and back.loc[3, "category_given"] == 10
    assert (back["category"].drop(index=3) == frame["category"].drop(index=3)).all()


@pytest.fixture()
def project(store_url):
    store = ReviewStore(store_url)
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"t{i}"}, "given": [CLASSES[i % 3]], "label_quality": i / 10}
                          for i in range(10)])
    return store, pid


def _item(store, pid, row):
    return next(v for v in store.queue(pid, limit=100) if v.row == row)


def test_a_decision_committed_during_an_export_is_in_none_of_its_files(project, tmp_path, monkeypatch):
    store, pid = project
    store.decide(_item(store, pid, 1).id, labels=["c"], decision="relabel", author="ana", expected_version=0)
    other = ReviewStore(store.url)  # another server process, deciding while the export reads
    late = _item(store, pid, 2)
    real = snapshot_module.human_events

    def decide_in_between(s, project_id):
        other.decide(late.id, labels=["a"], decision="relabel", author="bo", expected_version=0)
        return real(s, project_id)

    monkeypatch.setattr(snapshot_module, "human_events", decide_in_between)
    table = pd.DataFrame({"category": [CLASSES[i % 3] for i in range(10)]})
    result = export_decisions(store, pid, tmp_path, table=table, label_column="category",
                              dataset_name="t.reviewed.csv")
    assert [e["author"] for e in store.history(late.id) if e["source"] == "human"] == ["bo"]  # it was committed
    labels = pd.read_csv(result.paths["labels"]).set_index("row")["label"]
    log = pd.read_csv(result.paths["changelog"])
    copy = pd.read_csv(result.paths["dataset"], keep_default_na=False)
    assert labels[2] == "c" and log["row"].tolist() == [1] and copy.loc[2, "category"] == "c"
    assert (result.reviewed, result.total) == (1, 10)
    monkeypatch.setattr(snapshot_module, "human_events", real)
    again = export_decisions(store, pid, tmp_path, table=table, label_column="category")
    assert pd.read_csv(again.paths["labels"]).set_index("row")["label"][2] == "a" and again.reviewed == 2


def test_exports_during_a_stream_of_decisions_always_agree_with_themselves(project, tmp_path):
    store, pid = project
    other = ReviewStore(store.url)
    stop, errors = threading.Event(), []

    def reviewer():
        version = {}
        try:
            for k in range(400):
                if stop.is_set():
                    return
                row = k % 10
                item = _item(other, pid, row) if row not in version else None
                item_id = item.id if item else version[row][0]
                v = version.get(row, (item_id, 0))[1]
                other.decide(item_id, labels=[CLASSES[(k // 10) % 3]], decision="relabel", author="bo",
                             expected_version=v)
                version[row] = (item_id, v + 1)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    thread = threading.Thread(target=reviewer)
    thread.start()
    try:
        for k in range(8):
            result = export_decisions(store, pid, tmp_path / str(k))
            labels = pd.read_csv(result.paths["labels"]).set_index("row")["label"]
            last = pd.read_csv(result.paths["changelog"]).drop_duplicates("row", keep="last").set_index("row")
            for row, decided in last["labels"].items():
                assert labels[row] == decided, f"export {k}: row {row} is {labels[row]} but its last decision {decided}"
            assert result.reviewed == len(last)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors


def test_a_moved_or_copied_folder_keeps_its_decisions(tmp_path):
    folder = audit_dir(tmp_path)
    store, pid, _ = open_audit_project(folder)
    store.decide(_item(store, pid, 0).id, labels=["b"], decision="relabel", author="ana", expected_version=0)
    store.dispose()
    key = json.loads((folder / PROJECT_FILE).read_text())["project"]
    moved = tmp_path / "elsewhere" / "audit-moved"
    moved.parent.mkdir()
    shutil.move(folder, moved)
    store, pid, _ = open_audit_project(moved)
    assert store.progress(pid) == (1, 200) and store.current_labels(pid)[0] == ["b"]
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    store2, pid2, _ = open_audit_project(copy)
    assert store2.progress(pid2) == (1, 200) and project_key(copy) == key
    store2.decide(_item(store2, pid2, 1).id, decision="keep", author="bo", expected_version=0)
    assert store.progress(pid) == (1, 200)  # a copy beside its own data is its own review from then on
    # one shared database: the copies are the same project
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    s1, p1, _ = open_audit_project(moved, db_url=shared)
    s1.decide(_item(s1, p1, 5).id, decision="keep", author="ana", expected_version=0)
    s2, p2, _ = open_audit_project(copy, db_url=shared)
    assert p2 == p1 and s2.progress(p2) == (1, 200)


def test_a_project_from_before_folder_ids_is_adopted(tmp_path):
    folder = audit_dir(tmp_path)
    store, pid, _ = open_audit_project(folder)
    store.decide(_item(store, pid, 0).id, labels=["b"], decision="relabel", author="ana", expected_version=0)
    with store.engine.begin() as s:  # as an older labelwise left it: no key, no file
        s.exec_driver_sql("UPDATE projects SET key = NULL")
    store.dispose()
    (folder / PROJECT_FILE).unlink()
    store, again, _ = open_audit_project(folder)  # found by its path, as before
    assert again == pid and store.progress(pid) == (1, 200) and (folder / PROJECT_FILE).is_file()
    with store.engine.begin() as s:
        s.exec_driver_sql("UPDATE projects SET key = NULL")
    store.dispose()
    (folder / PROJECT_FILE).unlink()
    moved = tmp_path / "moved"
    shutil.move(folder, moved)  # moved before it ever had a key: its own database's only project is adopted
    store, again, _ = open_audit_project(moved)
    assert again == pid and store.progress(pid) == (1, 200)


def test_a_damaged_project_file_is_an_error_not_an_empty_project(tmp_path):
    folder = audit_dir(tmp_path)
    (folder / PROJECT_FILE).write_text("{not json")
    with pytest.raises(DataError, match="damaged"):
        open_audit_project(folder)
    assert main(["export", str(folder)]) == 2


def test_folders_opened_at_once_get_one_id(tmp_path):
    folder = audit_dir(tmp_path)
    keys, barrier = [], threading.Barrier(8)

    def open_it():
        barrier.wait()
        keys.append(project_key(folder))

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def _folder_with_table(tmp_path, n):
    table = tmp_path / "t.csv"
    pd.DataFrame({"text": [f"question {i} " + "x" * 40 for i in range(n)],
                  "category": [CLASSES[i % 3] for i in range(n)]}).to_csv(table, index=False)
    return audit_dir(tmp_path, n=n, source=table, label_column="category"), table


def test_a_failed_export_leaves_no_temporary_file(tmp_path):
    folder, table = _folder_with_table(tmp_path, 50)
    store, pid, _ = open_audit_project(folder)
    store.decide(_item(store, pid, 0).id, labels=["b"], decision="relabel", author="ana", expected_version=0)
    table.write_text(table.read_text() + "extra row,a\n")  # the table changed since the audit
    out = tmp_path / "out"
    with pytest.raises(DataError, match="changed since the audit"):
        export_decisions(store, pid, out, source=table, label_column="category", expected_rows=50)
    assert not out.exists() or os.listdir(out) == []  # the table is written first: nothing at all


def test_a_killed_export_leaves_nothing_behind_after_the_next_run(tmp_path):
    n = 5000
    folder, table = _folder_with_table(tmp_path, n)
    store, pid, _ = open_audit_project(folder)
    store.decide(_item(store, pid, 0).id, labels=["b"], decision="relabel", author="ana", expected_version=0)
    store.dispose()
    out = tmp_path / "out"
    child = textwrap.dedent(f"""
        import time
        import labelwise.data.roundtrip as roundtrip
        from labelwise.review.project import export_decisions, open_audit_project

        roundtrip._CHUNK = 100  # write often, so the temporary file holds part of the table when killed
        calls, real = [0], roundtrip.neutralise

        def slow(text):
            calls[0] += 1
            if calls[0] == {n}:  # half way through the rows
                print("WRITING", flush=True)
                time.sleep(120)
            return real(text)

        roundtrip.neutralise = slow
        store, pid, _ = open_audit_project({str(folder)!r})
        export_decisions(store, pid, {str(out)!r}, source={str(table)!r}, label_column="category")
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "WRITING"
        temps = [p for p in out.iterdir() if p.name.startswith(".t.reviewed.csv.")]
        assert len(temps) == 1 and temps[0].stat().st_size > 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert temps[0].exists() and not (out / "t.reviewed.csv").exists()  # a killed process cleans up nothing
    assert main(["export", str(folder), "--out", str(out)]) == 0  # the next run
    assert sorted(p.name for p in out.iterdir()) == ["changelog.csv", "labels_reviewed.csv", "t.reviewed.csv"]
    copy = pd.read_csv(out / "t.reviewed.csv")
    assert len(copy) == n and copy.loc[0, "category"] == "b" and copy.loc[0, "category_given"] == "a"
