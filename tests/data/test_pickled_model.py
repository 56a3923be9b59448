"""labelwise.data.pickled_model: the joblib loader shared by `labelwise adapt` and the privacy audit's target."""

from __future__ import annotations

import joblib
import pytest

from labelwise.data.pickled_model import load_pickled_model
from labelwise.errors import DataError


def test_a_saved_object_comes_back(tmp_path):
    joblib.dump({"weights": [1, 2]}, tmp_path / "m.joblib")
    assert load_pickled_model(tmp_path / "m.joblib", missing="none") == {"weights": [1, 2]}


def test_a_missing_file_says_what_the_caller_asked(tmp_path):
    with pytest.raises(DataError, match="^give your model$"):
        load_pickled_model(tmp_path / "absent.joblib", missing="give your model")


def test_a_file_that_is_not_a_pickle_is_one_line(tmp_path):
    (tmp_path / "notes.joblib").write_bytes(b"not\na pickle\n" * 50)
    with pytest.raises(DataError, match="is not a model saved with joblib or pickle") as caught:
        load_pickled_model(tmp_path / "notes.joblib", missing="none")
    assert "\n" not in str(caught.value)
