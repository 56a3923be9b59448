"""Bad input: every problem is a DataError that says what to do, never a crash."""

from __future__ import annotations

import pandas as pd
import pytest

from labelwise.data import read_table
from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder
from labelwise.link import aggregate, dedupe, link

ENC = HashingTextEncoder(dim=64)
LEFT = pd.DataFrame({"id": [1, 2], "name": ["Zoë Müller", "Ana"], "city": ["Köln", None]})
RIGHT = pd.DataFrame({"id": ["a", "b"], "name": ["Zoe Muller", "Anna"], "city": ["Koln", "Porto"]})


def test_latin1_file_reads_with_encoding_and_says_how_otherwise(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name,city\n1,Zoë Müller,Köln\n2,Ana,\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin-1"):
        read_table(path)  # UTF-8 by default: the error names the fix
    table = read_table(path, encoding="latin-1")
    result = link(table, RIGHT, on=["name", "city"], left_id="id", right_id="id", encoder=ENC, threshold=0.0)
    assert len(result.pairs) > 0


def test_missing_values_and_empty_strings_are_fine():
    result = link(LEFT, RIGHT, on=["name", "city"], left_id="id", right_id="id", encoder=ENC, threshold=0.0,
                  one_to_one=False)
    assert len(result.pairs) == len(result.candidates) == 4 and result.pairs.score.notna().all()
    with pytest.raises(DataError, match="match probability between 0 and 1"):
        link(LEFT, RIGHT, on=["name", "city"], encoder=ENC, threshold=-1.0)


def test_duplicate_ids_name_the_column_and_an_example():
    bad = pd.concat([LEFT, LEFT.head(1)])
    with pytest.raises(DataError, match=r"'id' of the left table is not unique: 1 appears 2 times"):
        link(bad, RIGHT, on="name", left_id="id", right_id="id", encoder=ENC)
    with pytest.raises(DataError, match="missing values"):
        link(LEFT.assign(id=[1, None]), RIGHT, on="name", left_id="id", encoder=ENC)


def test_missing_column_lists_the_available_ones():
    with pytest.raises(DataError, match=r"\['title'\].*right table.*id, name, city"):
        link(LEFT.assign(title="x"), RIGHT, on=["name", "title"], encoder=ENC)
    with pytest.raises(DataError, match="block_on"):
        link(LEFT, RIGHT, on="name", block_on="country", encoder=ENC)
    with pytest.raises(DataError, match="no columns"):
        link(LEFT, RIGHT, on=[], encoder=ENC)
    with pytest.raises(DataError, match="DataFrame"):
        link("left.csv", RIGHT, on="name", encoder=ENC)


@pytest.mark.parametrize("side", ["left", "right", "both"])
def test_empty_tables_give_empty_results(side):
    left = LEFT.iloc[:0] if side in ("left", "both") else LEFT
    right = RIGHT.iloc[:0] if side in ("right", "both") else RIGHT
    result = link(left, right, on="name", left_id="id", right_id="id", encoder=ENC, one_to_one=True)
    assert result.pairs.empty and len(result.merged) == len(left)
    assert dedupe(LEFT.iloc[:0], on="name", encoder=ENC).empty
    assert aggregate(LEFT.iloc[:0], on="name", categories=["x"], encoder=ENC).empty


def test_single_rows_and_bad_options():
    one = link(LEFT.head(1), RIGHT.head(1), on="name", encoder=ENC)
    assert len(one.candidates) == 1
    with pytest.raises(DataError, match="threshold"):
        link(LEFT, RIGHT, on="name", threshold=3, encoder=ENC)
    with pytest.raises(DataError, match="categories"):
        aggregate(LEFT, on="name", categories=[], encoder=ENC)
    with pytest.raises(DataError, match="cluster_id"):
        dedupe(LEFT.assign(cluster_id=1), on="name", encoder=ENC)
