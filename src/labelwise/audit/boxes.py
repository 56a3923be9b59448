"""The box label audit of a COCO (or YOLO) file a user brings: labels and a model's predicted boxes in, a
:class:`BoxAuditResult` out.

Workflow floor. :func:`audit_boxes` reads the labels (:mod:`labelwise.data.boxes`), the model's out-of-sample
predictions (COCO's results format), and runs ObjectLab (Tkachenko et al., "ObjectLab: Automated Diagnosis of
Mislabeled Images in Object Detection Data", 2023), cleanlab 2.9's ``object_detection`` audit, mirrored in
:mod:`labelwise.audit.object_detection`:

- image scores: ``get_label_quality_scores`` in [0, 1], lower meaning more likely mislabelled;
- flagged images: ``find_label_issues`` (an image with any flagged box), or, with ``threshold``, the images scoring
  at most ``threshold`` (cleanlab's ``issues_from_scores``);
- per box, the three issue types and their scores (lower is worse): **overlooked** (a confident predicted box that
  no label box covers: an object someone forgot), **swap** (a label box where the model confidently sees another
  class: the wrong class), **badloc** (a label box the model's same-class boxes overlap only poorly: a badly drawn
  box). A box is flagged when its score is at most its class's threshold, as cleanlab's ``find_label_issues`` decides
  (the class's AP over IoU 0.5:0.95, times 0.25, times 0.8).

Oriented boxes are audited by their axis-aligned hulls (ObjectLab's scores are defined on axis-aligned boxes); the
result keeps the oriented boxes for the report and the tables.

Image order, everywhere: the labels' order (COCO: the file's ``images``; YOLO: sorted names).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from labelwise.data.atomic import atomic_path, write_text_atomic
from labelwise.data.boxes import BoxImage, BoxLabels, BoxPredictions
from labelwise.errors import DataError, ParameterError
from labelwise.progress import ProgressCallback, report

PathLike = Union[str, Path]
FORMAT_VERSION = 1
ARRAYS_FILE = "box_arrays.npz"
SUMMARY_FILE = "box_summary.json"
IMAGES_TABLE = "images.csv"
BOXES_TABLE = "boxes.csv"
ISSUE_TYPES = ("overlooked", "swap", "badloc")

__all__ = ["BoxAuditResult", "ISSUE_TYPES", "audit_boxes"]


# ---- the result ----------------------------------------------------------------------------------------------------

@dataclass
class BoxAuditResult:
    """What :func:`audit_boxes` found, image by image and box by box (``N`` images, ``L_i`` label boxes and ``M_i``
    predicted boxes in image ``i``).

    labels, predictions: what was audited; image_scores: ``(N,) float`` label quality in [0, 1] (lower is worse);
    is_label_issue: ``(N,) bool`` flagged images; swap_scores, badloc_scores: ``N`` arrays ``(L_i,) float`` (1 when
    the model offers no evidence); is_swap, is_badloc: ``N`` arrays ``(L_i,) bool``; suggested: ``N`` arrays
    ``(L_i,) int64``, for a swapped box the class of the model's most overlapping confident box of another class
    (else -1); overlooked_scores: ``N`` arrays ``(M_i,) float`` (NaN for a predicted box that is not a candidate:
    not confident, or overlapping a label box); is_overlooked: ``N`` arrays ``(M_i,) bool``; settings: how the audit
    ran.
    """

    labels: BoxLabels
    predictions: BoxPredictions
    image_scores: np.ndarray
    is_label_issue: np.ndarray
    swap_scores: list
    badloc_scores: list
    is_swap: list
    is_badloc: list
    suggested: list
    overlooked_scores: list
    is_overlooked: list
    settings: dict = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return len(self.labels)

    @property
    def class_names(self) -> list:
        return self.labels.class_names

    def issue_counts(self) -> dict:
        """``{"overlooked": n, "swap": n, "badloc": n}``: flagged boxes of each type over all images."""
        return {"overlooked": int(sum(a.sum() for a in self.is_overlooked)),
                "swap": int(sum(a.sum() for a in self.is_swap)), "badloc": int(sum(a.sum() for a in self.is_badloc))}

    def image_frame(self):
        """One row per image, in the labels' order: ``image, image_id, label_quality, is_label_issue, boxes,
        predicted_boxes, overlooked, swap, badloc`` (flagged boxes of each type)."""
        import pandas as pd

        return pd.DataFrame({
            "image": [im.file_name for im in self.labels.images], "image_id": [im.id for im in self.labels.images],
            "label_quality": self.image_scores.astype(np.float64), "is_label_issue": self.is_label_issue,
            "boxes": [len(c) for c in self.labels.classes],
            "predicted_boxes": [len(s) for s in self.predictions.scores],
            "overlooked": [int(a.sum()) for a in self.is_overlooked], "swap": [int(a.sum()) for a in self.is_swap],
            "badloc": [int(a.sum()) for a in self.is_badloc],
        })

    def image_issues(self, i: int) -> list:
        """Image ``i``'s flagged boxes as dicts (``issue, annotation_id, given_class, suggested_class, box (xyxy),
        score, index`` (the box's position among the image's label or predicted boxes); overlooked ones also
        ``confidence``, the predicted box's score), label boxes first, worst score first within each type."""
        rows = []
        names = self.class_names
        for kind, flags, scores in (("swap", self.is_swap[i], self.swap_scores[i]),
                                    ("badloc", self.is_badloc[i], self.badloc_scores[i])):
            for j in np.flatnonzero(flags):
                rows.append({"issue": kind, "annotation_id": self.labels.annotation_ids[i][j],
                             "given_class": names[int(self.labels.classes[i][j])],
                             "suggested_class": names[int(self.suggested[i][j])] if kind == "swap"
                             and self.suggested[i][j] >= 0 else "",
                             "box": self.labels.xyxy(i)[j], "score": float(scores[j]), "index": int(j)})
        for j in np.flatnonzero(self.is_overlooked[i]):
            rows.append({"issue": "overlooked", "annotation_id": "", "given_class": "",
                         "suggested_class": names[int(self.predictions.classes[i][j])],
                         "box": self.predictions.xyxy(i)[j], "score": float(self.overlooked_scores[i][j]),
                         "index": int(j), "confidence": float(self.predictions.scores[i][j])})
        order = {kind: n for n, kind in enumerate(("swap", "badloc", "overlooked"))}
        return sorted(rows, key=lambda r: (order[r["issue"]], r["score"]))

    def to_frame(self):
        """One row per flagged box, and one per flagged image without a flagged box (``issue`` "image"), worst image
        first: ``image, image_id, label_quality, issue, annotation_id, given_class, suggested_class, x1, y1, x2, y2``
        (oriented boxes: their hull) ``, box_score``."""
        import pandas as pd

        rows = []
        for i in np.argsort(self.image_scores, kind="stable"):
            image = self.labels.images[i]
            base = {"image": image.file_name, "image_id": image.id, "label_quality": float(self.image_scores[i])}
            issues = self.image_issues(int(i))
            if not issues and self.is_label_issue[i]:
                rows.append({**base, "issue": "image", "annotation_id": "", "given_class": "", "suggested_class": "",
                             "x1": np.nan, "y1": np.nan, "x2": np.nan, "y2": np.nan, "box_score": np.nan})
            for r in issues:
                x1, y1, x2, y2 = (float(v) for v in r["box"])
                rows.append({**base, "issue": r["issue"], "annotation_id": r["annotation_id"],
                             "given_class": r["given_class"], "suggested_class": r["suggested_class"],
                             "x1": x1, "y1": y1, "x2": x2, "y2": y2, "box_score": r["score"]})
        columns = ["image", "image_id", "label_quality", "issue", "annotation_id", "given_class", "suggested_class",
                   "x1", "y1", "x2", "y2", "box_score"]
        return pd.DataFrame(rows, columns=columns)

    def worst(self, n: int = 10) -> list:
        """Positions of the ``n`` images of lowest label quality, worst first (ties by position)."""
        return [int(i) for i in np.argsort(self.image_scores, kind="stable")[:n]]

    # ---- files -------------------------------------------------------------------------------------------------
    def save(self, directory: PathLike) -> Path:
        """Write the audit into ``directory``, each file atomically: ``boxes.csv`` (:meth:`to_frame`), ``images.csv``
        (:meth:`image_frame`) and ``box_summary.json`` for people (text cells neutralised against spreadsheet
        formulas), and for :meth:`load` ``box_arrays.npz`` with the summary."""
        from labelwise.data.formula import neutralise_frame
        from labelwise.data.io import write_table_atomic

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"image_scores": self.image_scores.astype(np.float64),
                  "is_label_issue": self.is_label_issue.astype(bool)}
        for name, per_image in (("label_boxes", self.labels.boxes), ("label_classes", self.labels.classes),
                                ("swap_scores", self.swap_scores), ("badloc_scores", self.badloc_scores),
                                ("is_swap", self.is_swap), ("is_badloc", self.is_badloc),
                                ("suggested", self.suggested), ("pred_boxes", self.predictions.boxes),
                                ("pred_scores", self.predictions.scores), ("pred_classes", self.predictions.classes),
                                ("overlooked_scores", self.overlooked_scores), ("is_overlooked", self.is_overlooked)):
            arrays[name] = np.concatenate([np.asarray(a) for a in per_image]) if per_image else np.zeros(0)
        arrays["label_counts"] = np.array([len(c) for c in self.labels.classes], dtype=np.int64)
        arrays["pred_counts"] = np.array([len(s) for s in self.predictions.scores], dtype=np.int64)
        with atomic_path(directory / ARRAYS_FILE) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        write_table_atomic(neutralise_frame(self.to_frame()), directory / BOXES_TABLE)
        write_table_atomic(neutralise_frame(self.image_frame()), directory / IMAGES_TABLE)
        summary = {
            "format_version": FORMAT_VERSION, "kind": "boxes", "images": self.n_images,
            "flagged_images": int(self.is_label_issue.sum()), "label_boxes": self.labels.n_boxes,
            "predicted_boxes": self.predictions.n_boxes, "issues": self.issue_counts(),
            "oriented": self.labels.oriented, "class_names": list(map(str, self.class_names)),
            "category_ids": [_json_value(c) for c in self.labels.category_ids],
            "images_list": [[_json_value(im.id), im.file_name, im.width, im.height] for im in self.labels.images],
            "annotation_ids": [_json_value(a) for ids in self.labels.annotation_ids for a in ids],
            "settings": self.settings,
        }
        write_text_atomic(directory / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: PathLike) -> "BoxAuditResult":
        """The audit :meth:`save` wrote into ``directory``; a DataError for a folder that is not one."""
        directory = Path(directory)
        missing = [n for n in (SUMMARY_FILE, ARRAYS_FILE) if not (directory / n).is_file()]
        if missing:
            raise DataError(f"{directory} is not a box audit folder (it lacks {', '.join(missing)}); give the folder "
                            f"that `labelwise audit-boxes ANNOTATIONS --predictions PRED --out DIR` wrote")
        try:
            summary = json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))
            if summary["format_version"] > FORMAT_VERSION:
                raise DataError(f"{directory} was written by a newer labelwise (box audit format "
                                f"{summary['format_version']}; this one reads {FORMAT_VERSION}); upgrade labelwise")
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                a = {key: stored[key] for key in stored.files}
            width = 5 if summary["oriented"] else 4
            cuts_l, cuts_p = np.cumsum(a["label_counts"])[:-1], np.cumsum(a["pred_counts"])[:-1]

            def split(name, cuts, shape=None):
                values = a[name] if shape is None else a[name].reshape(shape)
                return list(np.split(values, cuts))

            ids = np.array(summary["annotation_ids"], dtype=object)
            labels = BoxLabels(
                images=[BoxImage(*entry) for entry in summary["images_list"]], class_names=summary["class_names"],
                category_ids=summary["category_ids"], boxes=split("label_boxes", cuts_l, (-1, width)),
                classes=split("label_classes", cuts_l), annotation_ids=list(np.split(ids, cuts_l)),
                oriented=summary["oriented"], format="audit", source=directory)
            predictions = BoxPredictions(boxes=split("pred_boxes", cuts_p, (-1, width)),
                                         scores=split("pred_scores", cuts_p), classes=split("pred_classes", cuts_p))
            result = cls(labels=labels, predictions=predictions, image_scores=a["image_scores"],
                         is_label_issue=a["is_label_issue"], swap_scores=split("swap_scores", cuts_l),
                         badloc_scores=split("badloc_scores", cuts_l), is_swap=split("is_swap", cuts_l),
                         is_badloc=split("is_badloc", cuts_l), suggested=split("suggested", cuts_l),
                         overlooked_scores=split("overlooked_scores", cuts_p),
                         is_overlooked=split("is_overlooked", cuts_p), settings=summary["settings"])
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
            raise DataError(f"{directory} holds a damaged box audit ({type(err).__name__}: {err}); run "
                            f"`labelwise audit-boxes` again") from None
        if len(result.image_scores) != len(result.labels.images):
            raise DataError(f"{directory}: its files do not belong together (different image counts); run the audit "
                            f"again")
        return result

    def __repr__(self) -> str:
        counts = self.issue_counts()
        return (f"BoxAuditResult({self.n_images:,} images, {self.labels.n_boxes:,} label boxes, "
                f"{len(self.class_names)} classes, {int(self.is_label_issue.sum()):,} flagged; "
                f"{counts['overlooked']} overlooked, {counts['swap']} swapped, {counts['badloc']} badly located)")


def _json_value(value):
    value = value.item() if isinstance(value, np.generic) else value
    return value if isinstance(value, (int, str)) else str(value)


# ---- the audit -----------------------------------------------------------------------------------------------------

def audit_boxes(
    annotations: Union[PathLike, BoxLabels],
    predictions: Union[PathLike, BoxPredictions],
    *,
    images_dir: Optional[PathLike] = None,
    class_names=None,
    threshold: Optional[float] = None,
    overlapping_label_check: bool = True,
    tolerance: float = 1.0,
    progress: Optional[ProgressCallback] = None,
) -> BoxAuditResult:
    """Audit box labels against a model's predicted boxes (ObjectLab; see the module docstring).

    annotations: a COCO JSON file, a folder of YOLO txt files (then ``images_dir`` is needed, for the image sizes),
    or :class:`~labelwise.data.boxes.BoxLabels`. predictions: a COCO-style predictions JSON file (see
    :func:`~labelwise.data.boxes.read_coco_predictions`) or :class:`~labelwise.data.boxes.BoxPredictions` in the
    labels' image order; they should be out of sample (from a model that did not train on these images).
    class_names: YOLO class names (default: ``classes.txt`` / ``data.yaml`` beside the labels). threshold: None to flag
    images by their flagged boxes (cleanlab's ``find_label_issues``), or a label quality in [0, 1]: flag the images
    scoring at most that. overlapping_label_check: cleanlab's (two label boxes of different classes on one object
    lower the swap score). tolerance: pixels a box may extend past its image. progress: ``progress(stage, done,
    total)``.
    """
    from labelwise.data import boxes as box_io

    if threshold is not None and not 0 <= float(threshold) <= 1:
        raise ParameterError(f"threshold is a label quality between 0 and 1 (or None); got {threshold}")
    stages = 4
    report(progress, "auditing boxes", 0, stages)
    labels = annotations
    if not isinstance(labels, BoxLabels):
        path = Path(annotations)
        if path.is_dir():
            if images_dir is None:
                raise ParameterError(f"{path} is a folder of YOLO labels: give the images folder too (images_dir / "
                                     f"--images), YOLO's boxes are fractions of each image's size")
            labels = box_io.read_yolo_boxes(path, images_dir, class_names=class_names, tolerance=tolerance)
        else:
            if class_names is not None:
                raise ParameterError(f"class names (--classes) name the classes of YOLO labels; {path} is a COCO file, "
                                     f"whose categories name their own classes: leave them out")
            labels = box_io.read_coco_boxes(path, tolerance=tolerance)
    if len(labels) == 0:
        raise DataError(f"{labels.source or 'the labels'} list no images: there is nothing to audit")
    preds = predictions
    if not isinstance(preds, BoxPredictions):
        preds = box_io.read_coco_predictions(predictions, labels, tolerance=tolerance)
    if len(preds) != len(labels):
        raise ParameterError(f"predictions are for {len(preds)} images, the labels have {len(labels)}; give one entry "
                             f"per image, in the labels' order")
    if preds.n_boxes == 0:
        raise DataError(f"{preds.source or 'the predictions'} hold no boxes for the labels' images: check that their "
                        f"image_id values are the labels' image ids")
    report(progress, "auditing boxes", 1, stages)
    from labelwise.audit.object_detection import (box_issue_types, find_label_issues, get_label_quality_scores,
                                                  issues_from_scores)

    cl_labels, cl_preds = labels.to_cleanlab(), preds.to_cleanlab(labels.num_classes)
    scores = np.asarray(get_label_quality_scores(cl_labels, cl_preds, overlapping_label_check=overlapping_label_check,
                                                 verbose=False), dtype=np.float64)
    report(progress, "auditing boxes", 2, stages)
    if threshold is None:
        flagged = np.asarray(find_label_issues(cl_labels, cl_preds, overlapping_label_check=overlapping_label_check),
                             dtype=bool)
    else:
        flagged = np.zeros(len(labels), dtype=bool)
        flagged[issues_from_scores(scores, threshold=float(threshold))] = True
    report(progress, "auditing boxes", 3, stages)
    per_box = box_issue_types(cl_labels, cl_preds, overlapping_label_check=overlapping_label_check)

    swap_s, badloc_s, is_swap, is_badloc, suggested, over_s, is_over = ([] for _ in range(7))
    for i, found in enumerate(per_box):
        order = np.argsort(preds.classes[i], kind="stable")  # cleanlab's predicted boxes are grouped by class
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        swap_s.append(np.asarray(found["swap_score"], dtype=np.float64))
        badloc_s.append(np.asarray(found["badloc_score"], dtype=np.float64))
        is_swap.append(np.asarray(found["swap"], dtype=bool))
        is_badloc.append(np.asarray(found["badloc"], dtype=bool))
        over_s.append(np.asarray(found["overlooked_score"], dtype=np.float64)[back])
        is_over.append(np.asarray(found["overlooked"], dtype=bool)[back])
        suggested.append(np.where(is_swap[-1], np.asarray(found["suggested_label"], dtype=np.int64), -1))
    report(progress, "auditing boxes", stages, stages)
    settings = {"annotations": str(labels.source) if labels.source else "", "format": labels.format,
                "predictions": str(preds.source) if preds.source else "",
                "images_dir": str(images_dir) if images_dir is not None else None,
                "threshold": None if threshold is None else float(threshold),
                "overlapping_label_check": bool(overlapping_label_check)}
    return BoxAuditResult(labels=labels, predictions=preds, image_scores=scores, is_label_issue=flagged,
                          swap_scores=swap_s, badloc_scores=badloc_s, is_swap=is_swap, is_badloc=is_badloc,
                          suggested=suggested, overlooked_scores=over_s, is_overlooked=is_over, settings=settings)

