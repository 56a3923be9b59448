"""The pixel-label fixtures (procedural mattes, digit scenes) hold the properties the experiments rely on."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.testing.digit_scenes import NUM_CLASSES, digit_scenes
from labelwise.testing.mosaics import load_digit_pool, split_digits
from labelwise.testing.synthetic_mattes import background, coarse_alpha, fine_alpha, synthetic_mattes


def test_fine_alphas_are_fractional_at_their_borders_and_coarse_ones_binary():
    rng = np.random.default_rng(0)
    fine = np.stack([fine_alpha(48, rng) for _ in range(8)])
    coarse = np.stack([coarse_alpha(48, rng) for _ in range(8)])
    soft = (fine > 0.02) & (fine < 0.98)
    assert soft.mean() > 0.02  # strands and anti-aliased edges: a real transition band
    assert (fine > 0.98).mean() > 0.05  # and an opaque body
    assert set(np.unique(coarse)) <= {0.0, 1.0}
    assert ((coarse > 0).mean(axis=(1, 2)) > 0.01).all()  # every coarse object is there


def test_strands_grow_above_the_body():
    rng = np.random.default_rng(1)
    alpha = fine_alpha(64, rng, strands=(40, 40))
    body_rows = np.flatnonzero((alpha > 0.98).any(axis=1))
    strand_rows = np.flatnonzero(((alpha > 0.05) & (alpha < 0.9)).any(axis=1))
    assert strand_rows.min() < body_rows.min()  # hair above the body's top edge


def test_the_image_is_the_composite_of_its_alpha():
    m = synthetic_mattes(6, 32, seed=3)
    assert m.images.shape == (6, 32, 32, 3) and m.alphas.shape == (6, 32, 32)
    assert m.images.dtype == np.float32 and 0 <= m.images.min() and m.images.max() <= 1
    again = synthetic_mattes(6, 32, seed=3)
    assert np.array_equal(m.images, again.images) and np.array_equal(m.alphas, again.alphas)
    assert set(m.kinds) <= {"fine", "coarse"}


@pytest.mark.parametrize("kind", ["smooth", "noisy", "cluttered"])
def test_backgrounds_get_busier(kind):
    rng = np.random.default_rng(2)
    bg = background(64, rng, kind)
    assert bg.shape == (64, 64, 3) and 0 <= bg.min() and bg.max() <= 1
    rough = np.abs(np.diff(bg, axis=0)).mean()
    if kind == "smooth":
        assert rough < 0.02
    else:
        assert rough > 0.02


def test_background_kind_is_checked():
    with pytest.raises(ValueError, match="cluttered"):
        background(8, np.random.default_rng(0), "stripes")


def test_digit_scene_masks_follow_the_glyphs():
    scenes = digit_scenes(20, seed=0)
    assert scenes.images.shape == (20, 32, 32, 3) and scenes.masks.shape == (20, 32, 32)
    assert scenes.masks.min() >= 0 and scenes.masks.max() < NUM_CLASSES
    for img, mask in zip(scenes.images, scenes.masks):
        present = np.unique(mask)
        assert 2 <= len(present) <= 4  # background and 1-3 visible digits (one may hide another)
        # digits are drawn in colours of 0.5-1.0 over a background of 0-0.5: the labelled pixels are brighter
        assert img[mask > 0].mean() > img[mask == 0].mean() + 0.1


def test_digit_scenes_draw_only_from_their_pool():
    train, test = split_digits((0.5, 0.5), seed=0)
    _, digits = load_digit_pool()
    only_sevens = train[digits[train] == 7]
    scenes = digit_scenes(10, pool=only_sevens, seed=1)
    assert set(np.unique(scenes.masks)) == {0, 8}
