"""``labelwise audit-boxes``: find the images and boxes whose detection label is probably wrong."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, QUIET, list_option, writable
from labelwise.errors import ParameterError

WRITTEN = "boxes.csv, images.csv, box_summary.json, box_arrays.npz"


def audit_boxes(
    annotations: Path = typer.Argument(..., help="The box labels: a COCO JSON file (bbox, or rbox [cx, cy, w, h, "
                                       "angle_degrees] for oriented boxes), or a folder of YOLO / YOLO-OBB txt files "
                                       "(then --images is needed).", show_default=False),
    predictions: Path = typer.Option(..., "--predictions", "-p", help="Your model's out-of-sample boxes in COCO's "
                                     "results format: a JSON list of {image_id, category_id, bbox [x, y, w, h], "
                                     "score}; image_id is the labels' image id, file name or stem.",
                                     show_default=False),
    images: Optional[Path] = typer.Option(None, "--images", help="The folder of images: drawn under the boxes in the "
                                          "report (found by file_name); needed for YOLO labels.", show_default=False),
    out: Path = typer.Option(Path("labelwise-audit-boxes"), "--out", "-o", help="Folder for boxes.csv (one row per "
                             "flagged box), images.csv (one row per image), box_summary.json, box_arrays.npz and "
                             "report.html."),
    classes: Optional[List[str]] = list_option("--classes", help="YOLO class names in id order (default: classes.txt "
                                               "or data.yaml beside the labels).", metavar="NAME"),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Flag the images whose label quality is at "
                                              "most this (0-1), instead of the images holding a flagged box "
                                              "(cleanlab's find_label_issues).", show_default=False),
    top: int = typer.Option(20, "--top", help="How many of the worst images to print and to show in the report."),
    tolerance: float = typer.Option(1.0, "--box-tolerance", help="Pixels a box may extend past its image before it "
                                    "is an error."),
    overlapping_label_check: bool = typer.Option(True, "--overlapping-label-check/--no-overlapping-label-check",
                                                 help="Count two label boxes of different classes on one object as a "
                                                 "likely swap (cleanlab's default)."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the images and boxes whose detection label is probably wrong.

    Compares your box labels with a model's predicted boxes (ObjectLab, cleanlab's object_detection audit): scores
    every image's label quality and flags boxes of three kinds: overlooked (an object without a label box), swap (a
    box with the wrong class) and badloc (a badly drawn box). Prints the worst images and writes the results and a
    report page (OUT/report.html) with the boxes drawn.

    Example: labelwise audit-boxes instances.json --predictions detections.json --images images/ --out box-audit/
    """
    from labelwise.audit.boxes import audit_boxes as run_audit
    from labelwise.report.boxes import write_box_report

    writable(out, folder=True)
    if top < 0:
        raise ParameterError(f"--top counts images: 0 or more; got {top}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise ParameterError(f"--threshold is a label quality between 0 and 1; got {threshold}")
    if tolerance < 0:
        raise ParameterError(f"--box-tolerance is pixels, 0 or more; got {tolerance}")
    if images is not None and not images.is_dir():
        raise ParameterError(f"--images {images} is not a folder; give the folder that holds the labels' images")
    with progress_bars(enabled=not quiet) as progress:
        result = run_audit(annotations, predictions, images_dir=images, class_names=classes, threshold=threshold,
                           overlapping_label_check=overlapping_label_check, tolerance=tolerance, progress=progress)
    with interrupt_after():
        result.save(out)
        html = write_box_report(result, out, top=top, images_dir=images)
    print_summary(result, top)
    messages.print(plain(f"wrote {out}/ {WRITTEN}, report.html"), soft_wrap=True)
    messages.print(plain(f"open the report: {html.resolve().as_uri()}"), soft_wrap=True)


def print_summary(result, top: int) -> None:
    """The terminal summary: what was audited, how much was flagged, the worst images (data as plain text)."""
    counts = result.issue_counts()
    labels = result.labels
    console.print(plain((str(result.settings.get("annotations", "")), "bold"),
                        f": {result.n_images:,} images audited ({labels.n_boxes:,} label boxes, "
                        f"{result.predictions.n_boxes:,} predicted boxes, {labels.num_classes} classes"
                        f"{', oriented boxes audited by their axis-aligned hulls' if labels.oriented else ''})"),
                  soft_wrap=True)
    how = (f"label quality at most {result.settings['threshold']:g}" if result.settings.get("threshold") is not None
           else "holding a flagged box")
    console.print(plain("flagged ", (f"{int(result.is_label_issue.sum()):,}", "bold"), f" images ({how}); boxes: ",
                        (f"{counts['overlooked']:,}", "bold"), " overlooked, ", (f"{counts['swap']:,}", "bold"),
                        " swapped class, ", (f"{counts['badloc']:,}", "bold"), " badly located"), soft_wrap=True)
    worst = result.worst(top)
    if top > 0 and worst:
        table = Table(title=f"{len(worst)} images of lowest label quality", title_justify="left")
        table.add_column("image", overflow="fold")
        table.add_column("id", overflow="fold")
        table.add_column("quality", justify="right")
        table.add_column("flagged boxes", overflow="fold")
        for i in worst:
            issues = result.image_issues(i)
            text = "; ".join(_issue_text(r) for r in issues[:4]) + (" ..." if len(issues) > 4 else "") or "none"
            table.add_row(plain(labels.images[i].file_name), plain(str(labels.images[i].id)),
                          f"{result.image_scores[i]:.3f}", plain(text))
        console.print(table)


def _issue_text(issue: dict) -> str:
    if issue["issue"] == "overlooked":
        return f"overlooked {issue['suggested_class']}"
    if issue["issue"] == "swap":
        better = f" -> {issue['suggested_class']}" if issue["suggested_class"] else ""
        return f"swap #{issue['annotation_id']} {issue['given_class']}{better}"
    return f"badloc #{issue['annotation_id']} {issue['given_class']}"
