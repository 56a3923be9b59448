"""The digit images the multi-label learners' experiments are built from: labels agree with the pixels."""

from __future__ import annotations

import numpy as np

from labelwise.testing.mosaics import digit_mosaics, digit_pairs, load_digit_pool, split_digits


def test_mosaic_labels_and_tiles_agree():
    pools = split_digits((0.5, 0.5), seed=1)
    assert not np.intersect1d(*pools).size and sum(map(len, pools)) == 1797
    m = digit_mosaics(300, p_digit=0.7, pool=pools[0], seed=3)
    assert m.images.shape == (300, 16, 16) and m.patches.shape == (300, 4, 64)
    np.testing.assert_array_equal(m.images[:, :8, 8:].reshape(300, 64), m.patches[:, 1])  # tile 1: top right
    np.testing.assert_array_equal(m.images[:, 8:, :8].reshape(300, 64), m.patches[:, 2])  # tile 2: bottom left
    for i in range(300):
        assert set(np.flatnonzero(m.Y[i])) == set(m.patch_digits[i][m.patch_digits[i] >= 0])
    assert not m.patches[m.patch_digits < 0].any()  # blank tiles are blank
    assert 0.6 < (m.patch_digits >= 0).mean() < 0.8
    images, digits = load_digit_pool()
    used = {tuple(p) for p in m.patches[m.patch_digits >= 0][:50]}
    pool_rows = {tuple(images[j].ravel()) for j in pools[0]}
    assert used <= pool_rows  # digits come from the chosen pool only


def test_pairs_hold_one_or_two_different_digits():
    p = digit_pairs(500, single_fraction=0.3, seed=2)
    counts = p.Y.sum(axis=1)
    assert set(np.unique(counts)) == {1, 2}
    assert 0.2 < (counts == 1).mean() < 0.4
    two = (p.patch_digits >= 0).all(axis=1)
    assert (p.patch_digits[two, 0] != p.patch_digits[two, 1]).all()
    np.testing.assert_array_equal(p.images[:, :, 8:].reshape(500, 64), p.patches[:, 1])
