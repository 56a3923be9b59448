"""Atomic writes: complete file or the old one, never a half; no temporary files left behind."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from labelwise.data import write_bytes_atomic, write_table_atomic, write_text_atomic
from labelwise.data.atomic import atomic_path
from labelwise.errors import DataError


def test_write_bytes_and_text_create_parents(tmp_path):
    p = write_bytes_atomic(tmp_path / "a" / "b" / "x.bin", b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    write_text_atomic(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_bytes() == "héllo\n".encode("utf-8")
    assert sorted(os.listdir(tmp_path)) == ["a", "t.txt"]


def test_replaces_existing_and_keeps_its_mode(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_failure_leaves_old_content_and_no_temp(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.txt"]


def test_table_unknown_extension_writes_nothing(tmp_path):
    with pytest.raises(DataError, match="Supported extensions"):
        write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx")
    assert os.listdir(tmp_path) == []


def test_table_csv_has_no_index(tmp_path):
    write_table_atomic(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text() == "a,b\n1,x\n2,y\n"
