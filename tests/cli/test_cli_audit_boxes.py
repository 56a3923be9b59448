"""`labelwise audit-boxes` as a user meets it: a COCO file built from box scenes with injected errors (a box
deleted, a class swapped, a box moved), the flagged boxes checked against them; exit 2 and one line for bad inputs;
spreadsheet formulas neutralised in the CSVs; YOLO labels too."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelwise.cli.main import main
from tests.audit.box_files import write_scene_files

pytest.importorskip("PIL", reason="Pillow is in the vision extra")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_boxes")
    return folder, write_scene_files(folder, seed=0, images=True)


def test_audit_boxes_flags_the_injected_errors(scene, capsys):
    folder, truth = scene
    out = folder / "out"
    code = main(["audit-boxes", str(folder / "labels.json"), "--predictions", str(folder / "predictions.json"),
                 "--images", str(folder / "images"), "--out", str(out), "--top", "3", "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    boxes = pd.read_csv(out / "boxes.csv")
    assert set(boxes.annotation_id[boxes.issue == "swap"].astype(int)) == truth["swap"]
    assert set(boxes.annotation_id[boxes.issue == "badloc"].astype(int)) == truth["badloc"]
    overlooked = boxes[boxes.issue == "overlooked"]
    assert {(int(r.image_id), round(r.x1), round(r.y1)) for r in overlooked.itertuples()} == \
        {(i, round(x), round(y)) for i, x, y in truth["overlooked"]}
    images = pd.read_csv(out / "images.csv")
    assert len(images) == 40 and int(images.is_label_issue.sum()) == 10
    assert "flagged 10 images (holding a flagged box); boxes: 4 overlooked, 3 swapped class, 3 badly located" in \
        printed.out
    assert "3 images of lowest label quality" in printed.out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<div class="card">') == 3 and page.count("data:image/png;base64,") == 3
    assert "report.html" in printed.err


@pytest.mark.parametrize("args,expected", [
    (["--predictions", "nope.json"], "predictions file nope.json does not exist"),
    (["--predictions", "{p}", "--threshold", "1.5"], "--threshold is a label quality between 0 and 1"),
    (["--predictions", "{p}", "--top", "-1"], "--top counts images"),
    (["--predictions", "{p}", "--images", "nowhere"], "--images nowhere is not a folder"),
    (["--predictions", "{p}", "--classes", "a,b,c"], "is a COCO file, whose categories name their own classes"),
])
def test_bad_options_exit_2_with_one_line(scene, capsys, args, expected):
    folder, _ = scene
    args = [a.replace("{p}", str(folder / "predictions.json")) for a in args]
    code = main(["audit-boxes", str(folder / "labels.json"), *args, "--out", str(folder / "o2"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_a_bad_box_names_its_image_and_annotation(scene, tmp_path, capsys):
    folder, _ = scene
    data = json.loads((folder / "labels.json").read_text())
    data["annotations"][4]["bbox"] = [60, 10, 20, 10]  # past the right edge of a 64-pixel image
    ann = data["annotations"][4]
    image = next(im for im in data["images"] if im["id"] == ann["image_id"])
    (tmp_path / "bad.json").write_text(json.dumps(data))
    code = main(["audit-boxes", str(tmp_path / "bad.json"), "--predictions", str(folder / "predictions.json"),
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert f"annotation {ann['id']} of image '{image['file_name']}' (id {image['id']})" in err and "right edge" in err


def test_formulas_in_names_are_neutralised_in_the_csv(scene, tmp_path, capsys):
    folder, _ = scene
    data = json.loads((folder / "labels.json").read_text())
    data["categories"][1]["name"] = "=HYPERLINK(\"http://x\")"
    data["images"][4]["file_name"] = "+scene04.png"
    (tmp_path / "labels.json").write_text(json.dumps(data))
    code = main(["audit-boxes", str(tmp_path / "labels.json"), "--predictions", str(folder / "predictions.json"),
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    text = (tmp_path / "out" / "boxes.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'+scene04.png" in text
    assert ",=HYPERLINK" not in text and ",+scene04" not in text


def test_yolo_labels_with_images(scene, tmp_path, capsys):
    """The same scene as YOLO files: the same boxes flagged (annotation ids are line numbers there)."""
    from labelwise.data.boxes import read_coco_boxes, write_yolo_boxes

    folder, truth = scene
    labels = read_coco_boxes(folder / "labels.json")
    write_yolo_boxes(labels, tmp_path / "labels")
    (tmp_path / "labels" / "classes.txt").write_text("\n".join(labels.class_names) + "\n")
    preds = json.loads((folder / "predictions.json").read_text())
    for p in preds:  # Ultralytics' predictions name images by stem, classes by number
        p["image_id"], p["category_id"] = f"scene{p['image_id'] - 1:02d}", p["category_id"] - 1
    (tmp_path / "p.json").write_text(json.dumps(preds))
    code = main(["audit-boxes", str(tmp_path / "labels"), "--predictions", str(tmp_path / "p.json"), "--images",
                 str(folder / "images"), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    boxes = pd.read_csv(tmp_path / "out" / "boxes.csv")
    assert sorted(boxes.issue) == ["badloc"] * 3 + ["overlooked"] * 4 + ["swap"] * 3
    code = main(["audit-boxes", str(tmp_path / "labels"), "--predictions", str(tmp_path / "p.json"), "--quiet"])
    assert code == 2 and "give the images folder too" in capsys.readouterr().err
