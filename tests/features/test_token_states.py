"""TextEncoder.encode_tokens: MiniLM token states in the sentence vectors' space, word pieces merged."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.token_states import TokenStates

from .test_text_quality import SENTENCES


@pytest.mark.model
def test_token_states_are_the_vectors_encode_pools(encoder):
    """With pieces kept, the mean of a text's token states (plus [CLS]/[SEP], which encode_tokens drops) is what
    encode() mean-pools: the pooled vector of the pieces alone must stay within cosine 0.95 of encode()."""
    texts = SENTENCES[:3]
    pieces = encoder.encode_tokens(texts, words=False)
    pooled = pieces.mean()
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    cosines = np.sum(pooled * encoder.encode(texts), axis=1)
    assert cosines.min() > 0.95, cosines
    # a text's states do not depend on what else is in the batch (padding is masked)
    alone = encoder.encode_tokens([texts[1]], words=False)
    np.testing.assert_allclose(alone.states[0, : alone.lengths[0]], pieces[1].states[0, : alone.lengths[0]],
                               atol=1e-4)


@pytest.mark.model
def test_words_merge_pieces_and_keep_the_text_as_written(encoder):
    text = "Cancel my OVERDRAFT, please!"
    pieces = encoder.encode_tokens([text], words=False)
    words = encoder.encode_tokens([text])
    assert words.tokens == (("Cancel", "my", "OVERDRAFT", ",", "please", "!"),)
    assert pieces.lengths[0] > words.lengths[0]  # "overdraft" is more than one piece
    k = [t.startswith("##") for t in pieces.tokens[0]]
    first = k.index(True) - 1  # the piece before the first continuation starts the split word
    last = first + 1
    while last < len(k) and k[last]:
        last += 1
    np.testing.assert_allclose(words.states[0, 2], pieces.states[0, first:last].mean(axis=0), atol=1e-5)


@pytest.mark.model
def test_empty_and_long_texts(encoder):
    ts = encoder.encode_tokens(SENTENCES)
    assert isinstance(ts, TokenStates) and len(ts) == len(SENTENCES)
    assert ts.lengths[3] == 0 and not ts.states[3].any()  # "" has no tokens
    assert ts.lengths[5] == encoder.max_length - 2  # truncated like encode(): max_length minus [CLS] and [SEP]
    assert ts.dim == 384
    sub = ts[[3, 0]]
    assert sub.states.shape[1] == ts.lengths[0] and sub.tokens[0] == ()
