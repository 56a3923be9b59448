"""`labelwise audit-images` as a user meets it: a folder of digit-scene PNGs with some masks corrupted, exit codes,
one-line errors for bad inputs, the files and the report written, the summary printed as plain text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main

pytest.importorskip("PIL", reason="Pillow is in the vision extra")

N, SIZE, K = 24, 24, 11
CORRUPTED = ["scene03", "scene08", "scene15", "scene20"]


def _probs(truth: np.ndarray, seed: int = 0) -> np.ndarray:
    """A good model's (N, K, H, W) probabilities: the true class's logit 4 above noise."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (len(truth), K, *truth.shape[1:])).astype(np.float32)
    logits += 4.0 * np.moveaxis(np.eye(K, dtype=np.float32)[truth], -1, 1)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """images/ and masks/ (grey PNGs of class ids), with the digits of four masks given another digit's class;
    probs.npy from a model that knows the true masks; colour/ and palette.txt, the same masks in colour."""
    from PIL import Image

    from labelwise.data.images import write_mask
    from labelwise.testing.digit_scenes import digit_scenes

    folder = tmp_path_factory.mktemp("scenes")
    scenes = digit_scenes(N, size=SIZE, seed=3)
    given = scenes.masks.copy()
    changed = np.zeros_like(given, dtype=bool)
    for name in CORRUPTED:
        i = int(name[-2:])
        digit = given[i] > 0
        given[i][digit] = (given[i][digit] % 10) + 1  # every digit pixel: the next digit's class
        changed[i] = digit
    palette = np.array([[0, 0, 0]] + [[25 * c, 255 - 20 * c, (70 * c) % 256] for c in range(1, K)], np.uint8)
    for sub in ("images", "masks", "colour"):
        (folder / sub).mkdir()
    for i in range(N):
        Image.fromarray(np.round(scenes.images[i] * 255).astype(np.uint8)).save(folder / "images" / f"scene{i:02d}.png")
        write_mask(folder / "masks" / f"scene{i:02d}.png", given[i])
        Image.fromarray(palette[given[i]]).save(folder / "colour" / f"scene{i:02d}.png")
    (folder / "palette.txt").write_text("\n".join(f"{r},{g},{b}=class {c}" for c, (r, g, b) in enumerate(palette)),
                                        encoding="utf-8")
    np.save(folder / "probs.npy", _probs(scenes.masks))
    return folder, given, changed


def _run(folder, *args):
    return main(["audit-images", str(folder / "images"), *args, "--quiet"])


def test_pred_probs_audit_finds_the_corrupted_masks(scenes, capsys):
    folder, given, changed = scenes
    out = folder / "out"
    code = _run(folder, str(folder / "masks"), "--pred-probs", str(folder / "probs.npy"), "--out", str(out),
                "--top", "5", "--classes", ",".join(["background"] + [f"digit {d}" for d in range(10)]))
    assert code == 0
    frame = pd.read_csv(out / "images.csv")
    assert len(frame) == N and frame["image"].tolist() == sorted(frame["image"])
    worst = frame.sort_values("label_quality")["image"].head(len(CORRUPTED))
    assert sorted(worst) == CORRUPTED
    from labelwise.audit.images import SegmentationAuditResult

    result = SegmentationAuditResult.load(out)
    np.testing.assert_array_equal(result.labels, given)
    flagged = result.issue_masks
    assert (flagged & changed).sum() >= 0.6 * changed.sum()  # most corrupted pixels are found
    assert (flagged & ~changed).sum() <= 0.05 * changed.sum()  # and little else
    assert result.class_names[1] == "digit 0"
    printed = capsys.readouterr()
    assert f"{N} images audited ({SIZE}x{SIZE}, {K} classes" in printed.out
    assert "5 images of lowest label quality" in printed.out
    assert all(name in printed.out for name in CORRUPTED)
    assert "report.html" in printed.err and (out / "report.html").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('class="card"') == 5 and CORRUPTED[0] in html


def test_colour_masks_with_a_palette_give_the_same_audit(scenes):
    folder, _, _ = scenes
    assert _run(folder, str(folder / "colour"), "--palette", str(folder / "palette.txt"), "--pred-probs",
                str(folder / "probs.npy"), "--out", str(folder / "out-colour")) == 0
    assert _run(folder, str(folder / "masks"), "--pred-probs", str(folder / "probs.npy"), "--out",
                str(folder / "out-grey")) == 0
    colour = pd.read_csv(folder / "out-colour" / "images.csv")
    grey = pd.read_csv(folder / "out-grey" / "images.csv")
    np.testing.assert_allclose(colour["label_quality"], grey["label_quality"])
    summary = json.loads((folder / "out-colour" / "segmentation_summary.json").read_text())
    assert summary["class_names"][3] == "class 3"


def test_coco_masks_give_the_same_audit_as_the_folder(scenes, tmp_path):
    from pycocotools import mask as mask_utils

    folder, given, _ = scenes
    images, annotations = [], []
    for i in range(N):
        images.append({"id": 100 + i, "file_name": f"scene{i:02d}.png", "height": SIZE, "width": SIZE})
        for c in np.unique(given[i]):
            if c == 0:
                continue
            rle = mask_utils.encode(np.asfortranarray((given[i] == c).astype(np.uint8)))
            annotations.append({"id": len(annotations) + 1, "image_id": 100 + i, "category_id": int(c) * 10,
                                "segmentation": {"size": [SIZE, SIZE], "counts": rle["counts"].decode()}})
    categories = [{"id": c * 10, "name": f"digit {c - 1}"} for c in range(1, K)]
    (tmp_path / "coco.json").write_text(json.dumps({"images": images, "categories": categories,
                                                    "annotations": annotations}))
    assert _run(folder, str(tmp_path / "coco.json"), "--pred-probs", str(folder / "probs.npy"), "--out",
                str(tmp_path / "out")) == 0
    from labelwise.audit.images import SegmentationAuditResult

    result = SegmentationAuditResult.load(tmp_path / "out")
    np.testing.assert_array_equal(result.labels, given)
    assert result.class_names == ["background"] + [f"digit {d}" for d in range(10)]


def test_data_is_printed_as_text_never_markup(scenes, capsys):
    folder, _, _ = scenes
    names = ["[bold]bg[/bold]"] + [f"[red]d{d}" for d in range(10)]
    assert _run(folder, str(folder / "masks"), "--pred-probs", str(folder / "probs.npy"), "--out",
                str(folder / "out-markup"), "--classes", ",".join(names)) == 0
    printed = capsys.readouterr().out
    assert "[red]d" in printed  # shown as written, not swallowed as a style


@pytest.fixture()
def bad_inputs(scenes, tmp_path):
    """Broken copies of the good folder, one problem each."""
    import shutil

    from labelwise.data.images import write_mask

    folder, given, _ = scenes
    shutil.copytree(folder / "masks", tmp_path / "small")
    write_mask(tmp_path / "small" / "scene05.png", given[5][:-2])
    (tmp_path / "palette9.txt").write_text("\n".join((folder / "palette.txt").read_text().splitlines()[:9]))
    np.save(tmp_path / "short.npy", np.load(folder / "probs.npy")[:-1])
    np.save(tmp_path / "last.npy", np.moveaxis(np.load(folder / "probs.npy"), 1, -1))
    np.save(tmp_path / "logits.npy", np.log(np.load(folder / "probs.npy")))
    return folder, tmp_path


@pytest.mark.parametrize("args,expected", [
    (["{tmp}/nothere"], r"masks .*nothere do not exist: give a folder of mask PNGs or a COCO \.json file"),
    (["{tmp}/small"], r"mask .*scene05\.png is 24x22 \(width x height\) but its image .*scene05\.png is 24x24"),
    (["{folder}/colour"], r"scene00\.png is a colour image: give the colour of each class"),
    (["{folder}/colour", "--palette", "{tmp}/palette9.txt"], r"has colour \(.*\) at row \d+, column \d+, which is "
                                                              r"not in the palette"),
    (["{folder}/masks", "--pred-probs", "{tmp}/short.npy"], r"short\.npy has shape \(23, 11, 24, 24\), but the audit "
                                                            r"has 24 images of 24x24"),
    (["{folder}/masks", "--pred-probs", "{tmp}/last.npy"], r"the classes look to be on the last axis"),
    (["{folder}/masks", "--pred-probs", "{tmp}/logits.npy"], r"logits\.npy: pred_probs\[0, :, 0, 0\] .* not logits"),
    (["{folder}/masks", "--classes", "a,b,c"], r"holds class id \d+ .*but there are 3 classes"),
    (["{folder}/masks", "--resize", "big"], r"--resize takes WIDTHxHEIGHT"),
    (["{folder}/masks", "--folds", "1"], r"--folds must be 2 or more"),
])
def test_bad_inputs_exit_2_with_one_line(bad_inputs, capsys, args, expected):
    folder, tmp = bad_inputs
    args = [a.format(folder=folder, tmp=tmp) for a in args]
    assert _run(folder, *args, "--out", str(tmp / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    import re

    assert re.search(expected, err), err
    assert not (tmp / "out").exists()  # nothing written for a run that failed


def test_missing_images_folder(tmp_path, capsys):
    assert main(["audit-images", str(tmp_path / "none"), str(tmp_path), "--quiet"]) == 2
    assert "images folder" in capsys.readouterr().err


def test_images_of_different_sizes_need_resize(scenes, tmp_path, capsys):
    import shutil

    from PIL import Image

    from labelwise.data.images import write_mask

    folder, given, _ = scenes
    shutil.copytree(folder / "images", tmp_path / "images")
    shutil.copytree(folder / "masks", tmp_path / "masks")
    Image.new("RGB", (36, 30)).save(tmp_path / "images" / "scene02.png")
    write_mask(tmp_path / "masks" / "scene02.png", np.zeros((30, 36), int))
    assert main(["audit-images", str(tmp_path / "images"), str(tmp_path / "masks"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "have 2 sizes (24x24: 23 (scene00, scene01, scene03 ...); 36x30: 1 (scene02))" in err
    assert "--resize WIDTHxHEIGHT" in err
    code = main(["audit-images", str(tmp_path / "images"), str(tmp_path / "masks"), "--resize", "24x24",
                 "--pred-probs", str(folder / "probs.npy"), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    assert json.loads((tmp_path / "out" / "segmentation_summary.json").read_text())["settings"]["resize"] == [24, 24]


def test_a_model_that_disagrees_with_most_images_is_called_out(scenes, tmp_path, capsys):
    """Flags from a threshold mean little when the probabilities disagree with nearly every image: the summary
    says so (and stays quiet when the model agrees with most images, as in the test above)."""
    folder, given, _ = scenes
    weak = np.full((N, K, SIZE, SIZE), 1.0 / K, dtype=np.float32)  # a model that knows nothing
    np.save(tmp_path / "weak.npy", weak)
    capsys.readouterr()
    assert _run(folder, str(folder / "masks"), "--pred-probs", str(tmp_path / "weak.npy"), "--out",
                str(tmp_path / "out")) == 0
    printed = capsys.readouterr()
    assert "probabilities are too weak to judge them" in printed.err and "flagged 24 images" in printed.out
    assert _run(folder, str(folder / "masks"), "--pred-probs", str(folder / "probs.npy"), "--out",
                str(tmp_path / "good")) == 0
    printed = capsys.readouterr()
    assert "too weak" not in printed.out + printed.err
