"""TokenStates: the padded per-token container the set-level learners read."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ShapeError
from labelwise.token_states import TokenStates


def _example() -> TokenStates:
    states = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2) + 1
    mask = np.array([[True, True, False], [True, False, False]])
    return TokenStates(states, mask, (("a", "b"), ("c",)))


def test_padding_is_zeroed_and_rows_select():
    ts = _example()
    assert not ts.states[0, 2].any() and not ts.states[1, 1:].any()
    assert ts.lengths.tolist() == [2, 1] and ts.dim == 2 and len(ts) == 2
    second = ts[1:]
    assert second.states.shape == (1, 1, 2) and second.tokens == (("c",),)
    np.testing.assert_array_equal(ts[np.array([False, True])].states, second.states)
    np.testing.assert_allclose(ts.mean(), [[2.0, 3.0], [7.0, 8.0]])


def test_from_arrays_without_mask_keeps_every_position():
    ts = TokenStates.from_arrays(np.ones((3, 4, 5)))
    assert ts.mask.all() and ts.tokens is None


@pytest.mark.parametrize("states, mask, tokens, match", [
    (np.ones((2, 3)), np.ones((2, 3)), None, r"\(n, L, d\)"),
    (np.ones((2, 3, 1)), np.ones((2, 2)), None, "mask must be"),
    (np.ones((1, 2, 1)), [[False, True]], None, "first"),
    (np.full((1, 1, 1), np.nan), [[True]], None, "NaN"),
    (np.ones((1, 2, 1)), [[True, True]], (("a",),), "one string per real token"),
])
def test_bad_inputs_say_what_is_wrong(states, mask, tokens, match):
    with pytest.raises(ShapeError, match=match):
        TokenStates(states, mask, tokens)
