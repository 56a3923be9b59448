"""audit_images, the workflow: folders and COCO files in, the corrupted masks found; every input problem a
one-line error before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelwise.audit.images import audit_images, memory_needed
from labelwise.errors import DataError, ParameterError
from tests.cli.test_cli_audit_images import _probs

pytest.importorskip("PIL", reason="Pillow is in the vision extra")

N, SIZE = 16, 24
SWAPPED = (2, 9)  # masks whose digits carry the next digit's class
EMPTIED = 12  # a mask whose digits were left out (all background)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from PIL import Image

    from labelwise.data.images import write_mask
    from labelwise.testing.digit_scenes import digit_scenes

    root = tmp_path_factory.mktemp("audit-images")
    scenes = digit_scenes(N, size=SIZE, seed=5)
    given = scenes.masks.copy()
    for i in SWAPPED:
        given[i][given[i] > 0] = given[i][given[i] > 0] % 10 + 1
    given[EMPTIED] = 0
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for i in range(N):
        Image.fromarray(np.round(scenes.images[i] * 255).astype(np.uint8)).save(root / "images" / f"s{i:02d}.png")
        write_mask(root / "masks" / f"s{i:02d}.png", given[i])
    probs = _probs(scenes.masks, seed=1)
    np.save(root / "probs.npy", probs)
    return root, given, probs, scenes


def test_given_probabilities_rank_the_corrupted_masks_first(folder):
    root, given, probs, _ = folder
    result = audit_images(root / "images", root / "masks", pred_probs=probs)
    assert result.names == [f"s{i:02d}" for i in range(N)]
    np.testing.assert_array_equal(result.labels, given)
    worst = set(result.worst(3)["image"])
    assert worst == {f"s{i:02d}" for i in (*SWAPPED, EMPTIED)}
    assert result.empty_mask.tolist() == [i == EMPTIED for i in range(N)]
    np.testing.assert_array_equal(result.predicted, probs.argmax(axis=1))
    assert result.settings["pred_probs"] == "array"


def test_a_npy_file_is_memory_mapped_and_gives_the_same_result(folder):
    root, _, probs, _ = folder
    from_file = audit_images(root / "images", root / "masks", pred_probs=root / "probs.npy")
    in_memory = audit_images(root / "images", root / "masks", pred_probs=probs)
    np.testing.assert_array_equal(from_file.image_scores, in_memory.image_scores)
    np.testing.assert_array_equal(from_file.issue_masks, in_memory.issue_masks)
    assert from_file.settings["pred_probs"] == str(root / "probs.npy")


@pytest.mark.slow
def test_out_of_fold_pixel_model_finds_an_emptied_mask_and_a_spurious_blob(folder, tmp_path):
    """The pixel model tells objects from background (not one digit from another: see its docstring), so the
    corruptions it can see are planted in masks of digit vs background: one emptied, one with a blob painted on
    the background."""
    from labelwise.data.images import write_mask

    root, _, _, scenes = folder
    given = (scenes.masks > 0).astype(np.int64)
    given[EMPTIED] = 0
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = (yy - 6) ** 2 + (xx - 6) ** 2 <= 16
    blob_image = next(i for i in range(N) if i != EMPTIED and not scenes.masks[i][blob].any())
    given[blob_image][blob] = 1
    (tmp_path / "masks").mkdir()
    for i in range(N):
        write_mask(tmp_path / "masks" / f"s{i:02d}.png", given[i])
    seen = []
    result = audit_images(root / "images", tmp_path / "masks", class_names=["background", "digit"], n_splits=2,
                          progress=lambda stage, done, total: seen.append(stage))
    assert "reading images" in seen and any("fold" in stage for stage in seen)
    scores = result.image_scores
    clean = [i for i in range(N) if i not in (EMPTIED, blob_image)]
    assert max(scores[EMPTIED], scores[blob_image]) < np.median(scores[clean])  # direction, not a figure
    assert result.settings["pred_probs"] == "out-of-fold pixel model"


def test_memory_estimate_stops_a_run_too_large_and_says_what_fits(folder):
    root, _, _, _ = folder
    assert memory_needed(N, 4000, 4000, 11, probs="model") == N * 4000 * 4000 * (17 + 8 + 12 + 8 * 11 + 432)
    assert memory_needed(N, 4000, 4000, 11, probs="array") == N * 4000 * 4000 * (17 + 8 + 4 * 11)
    assert memory_needed(N, 4000, 4000, 11) == N * 4000 * 4000 * (17 + 8)
    with pytest.raises(DataError, match=r"auditing 16 images of 4000x4000 with 2 classes needs about .* GiB of memory, "
                                        r"more than the 0\.5 GiB allowed; pass a smaller resize \(at most about "):
        audit_images(root / "images", root / "masks", resize=(4000, 4000), memory_limit="512MB")


def test_class_names_must_fit_the_palette_and_differ(folder, tmp_path):
    root, _, probs, _ = folder
    (tmp_path / "palette.txt").write_text("0,0,0=bg\n1,1,1=a\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="3 class names were given, but the palette defines 2 classes"):
        audit_images(root / "images", root / "masks", palette=tmp_path / "palette.txt", class_names=["x", "y", "z"])
    with pytest.raises(ParameterError, match="class names must differ"):
        audit_images(root / "images", root / "masks", class_names=["x", "x"])
    with pytest.raises(ParameterError, match="resize is"):
        audit_images(root / "images", root / "masks", resize=(0, 3))


def test_one_image_needs_probabilities(folder, tmp_path):
    import shutil

    root, _, _, _ = folder
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
        shutil.copy(root / sub / "s02.png", tmp_path / sub / "s02.png")
    with pytest.raises(DataError, match="the out-of-fold model needs 2 or more"):
        audit_images(tmp_path / "images", tmp_path / "masks")


def test_coco_sizes_that_disagree_with_the_image_files(folder, tmp_path):
    root, _, _, _ = folder
    coco = {"images": [{"id": i, "file_name": f"s{i:02d}.png", "height": SIZE, "width": SIZE + (i == 3)}
                       for i in range(N)],
            "categories": [{"id": 1, "name": "thing"}], "annotations": []}
    (tmp_path / "c.json").write_text(json.dumps(coco), encoding="utf-8")
    with pytest.raises(ParameterError, match=r"c\.json is a COCO file, which names its own classes; leave the palette"):
        audit_images(root / "images", tmp_path / "c.json", palette={(0, 0, 0): 0})
    with pytest.raises(DataError, match=r"c\.json gives image 's03' as 25x24 \(width x height\) but .*s03\.png is "
                                        r"24x24; fix its width and height in the COCO file"):
        audit_images(root / "images", tmp_path / "c.json", pred_probs=np.zeros((N, 2, SIZE, SIZE), np.float32))
