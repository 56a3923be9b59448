"""The LAD teacher's refined labels as files: probabilities (.npz) and argmax masks (.png), written atomically."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labelwise.data.images import read_mask  # noqa: E402
from labelwise.errors import DataError, ParameterError  # noqa: E402
from labelwise.generate.refined_labels import (  # noqa: E402
    read_refined_labels,
    refine_label_folder,
    save_refined_labels,
)
from labelwise.learn.label_assisted import LabelAssistedSegmenter  # noqa: E402
from labelwise.testing.digit_scenes import digit_scenes  # noqa: E402

PARAMS = dict(width=8, dilations=(1, 2), teacher_epochs=1, student_epochs=1, batch_size=4, random_state=0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def scenes():
    return digit_scenes(6, size=16, glyph_px=(6, 8), seed=5)


def test_saved_files_hold_the_teachers_soft_labels(tmp_path, scenes):
    model = LabelAssistedSegmenter(**PARAMS).fit(scenes.images, scenes.masks)
    seen = []
    out = save_refined_labels(model, scenes.images, scenes.masks, tmp_path / "refined", names=list("abcdef"),
                              batch_size=4, progress=lambda *a: seen.append(a))
    assert seen == [("refined labels", 4, 6), ("refined labels", 6, 6)]
    soft = model.soft_labels(scenes.images, scenes.masks)
    for i, name in enumerate("abcdef"):
        probs = read_refined_labels(tmp_path / "refined" / f"{name}.npz")
        np.testing.assert_array_equal(probs, soft[i])
        np.testing.assert_array_equal(read_mask(tmp_path / "refined" / f"{name}.png"), soft[i].argmax(0))
    assert sorted(p.name for p in (tmp_path / "refined").iterdir()) == sorted(
        [f"{c}.npz" for c in "abcdef"] + [f"{c}.png" for c in "abcdef"])  # no temporary file left behind
    assert "6 images" in repr(out)
    with pytest.raises(ParameterError, match="distinct"):
        save_refined_labels(model, scenes.images, scenes.masks, tmp_path, names=list("aabcde"))


def test_folder_workflow_fits_and_writes(tmp_path, scenes):
    from PIL import Image

    from labelwise.data.images import write_mask

    (tmp_path / "img").mkdir()
    for i in range(len(scenes)):
        Image.fromarray((scenes.images[i] * 255).round().astype(np.uint8)).save(tmp_path / "img" / f"s{i}.png")
        write_mask(tmp_path / "masks" / f"s{i}.png", scenes.masks[i])
    out = refine_label_folder(tmp_path / "img", tmp_path / "masks", tmp_path / "out", num_classes=11, **PARAMS)
    assert out.names == tuple(f"s{i}" for i in range(6))
    probs = read_refined_labels(out.prob_paths[0])
    assert probs.shape == (11, 16, 16)
    np.testing.assert_allclose(probs.sum(0), 1.0, rtol=1e-5)
    write_mask(tmp_path / "masks" / "s0.png", np.zeros((8, 8), dtype=np.int64))
    with pytest.raises(DataError, match="s0.png is 8x8 pixels"):
        refine_label_folder(tmp_path / "img", tmp_path / "masks", tmp_path / "out", **PARAMS)


def test_a_foreign_file_is_named(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="x.npz is not a refined-label file"):
        read_refined_labels(tmp_path / "x.npz")
