"""``labelwise audit-images``: find the images and pixels whose segmentation label is probably wrong."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from labelwise.cli.console import console, interrupt_after, messages, plain, progress_bars
from labelwise.cli.options import DEBUG, QUIET, list_option, writable
from labelwise.errors import ParameterError

WRITTEN = "images.csv, per_class.csv, confused_pixels.csv, segmentation_summary.json, segmentation_arrays.npz"


def parse_resize(text: Optional[str]) -> Optional[tuple]:
    """``"WIDTHxHEIGHT"`` (or one number for a square) -> ``(height, width)``; None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match or int(match.group(1)) < 1 or (match.group(2) is not None and int(match.group(2)) < 1):
        raise ParameterError(f"--resize takes WIDTHxHEIGHT in pixels (e.g. 256x192) or one number for a square; "
                             f"got {text!r}")
    width = int(match.group(1))
    return (int(match.group(2)) if match.group(2) else width, width)


def audit_images(
    images: Path = typer.Argument(..., help="The folder of images (PNG, JPEG, TIFF, ...).", show_default=False),
    masks: Path = typer.Argument(..., help="The labels: a folder of masks named as the images (grey or palette PNGs "
                                 "of class ids, or colour PNGs with --palette), or a COCO JSON file (polygons or RLE; "
                                 "its images are found in IMAGES by file_name).", show_default=False),
    pred_probs: Optional[Path] = typer.Option(
        None, "--pred-probs", help="Your model's out-of-sample class probabilities: a .npy of shape (N, K, H, W), the "
        "images in sorted name order (memory-mapped, read in batches). Without it a small per-pixel model is trained "
        "out of fold.", show_default=False),
    out: Path = typer.Option(Path("labelwise-audit-images"), "--out", "-o", help="Folder for images.csv (one row per "
                             "image), per_class.csv, confused_pixels.csv, segmentation_summary.json, "
                             "segmentation_arrays.npz (the suspect pixels) and report.html."),
    palette: Optional[Path] = typer.Option(None, "--palette", help="Class colours and names: a text file with one "
                                           "'r,g,b=class_name' line per class (class 0 first) or a JSON file. Needed "
                                           "for colour masks.", show_default=False),
    classes: Optional[List[str]] = list_option("--classes", help="Class names in id order, class 0 first (for masks "
                                               "of class ids).", metavar="NAME"),
    top: int = typer.Option(20, "--top", help="How many of the worst images to print and to show in the report."),
    resize: Optional[str] = typer.Option(None, "--resize", metavar="WIDTHxHEIGHT", help="Audit every image at this "
                                         "size (images bilinear, masks nearest): for images of different sizes, or "
                                         "to use less memory. --pred-probs must then have this size.",
                                         show_default=False),
    folds: int = typer.Option(5, "--folds", help="Folds (by image) of the out-of-fold pixel model."),
    random_state: int = typer.Option(0, "--random-state", "--seed", help="Seed of the folds and the pixel model."),
    threshold: float = typer.Option(0.1, "--threshold", help="Flag images whose label quality is below this."),
    memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="Memory the audit may use, e.g. 8GB "
                                               "(default: half the physical memory).", show_default=False),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the images and pixels whose segmentation label is probably wrong.

    Scores every image's label quality and flags suspect pixels with confident learning (cleanlab's segmentation
    audit), from your --pred-probs or from a small model trained out of fold. Prints the worst images and writes the
    results and a report page (OUT/report.html) with the suspect pixels drawn over each image.

    Example: labelwise audit-images images/ masks/ --classes background,cat,dog --out audit/
    """
    from labelwise.audit.images import audit_images as run_audit
    from labelwise.report.segmentation import write_segmentation_report

    writable(out, folder=True)
    if top < 0:
        raise ParameterError(f"--top counts images: 0 or more; got {top}")
    if folds < 2:
        raise ParameterError(f"--folds must be 2 or more (the pixel model is trained on the other folds); got {folds}")
    if not 0 <= threshold <= 1:
        raise ParameterError(f"--threshold is a label quality between 0 and 1; got {threshold}")
    size = parse_resize(resize)
    with progress_bars(enabled=not quiet) as progress:
        result = run_audit(images, masks, pred_probs=pred_probs, palette=palette, class_names=classes,
                           n_splits=folds, random_state=random_state, resize=size, threshold=threshold,
                           memory_limit=memory_limit, progress=progress)
    with interrupt_after():
        result.save(out)
        html = write_segmentation_report(result, out, top=top)
    print_summary(result, top)
    messages.print(plain(f"wrote {out}/ {WRITTEN}, report.html"), soft_wrap=True)
    messages.print(plain(f"open the report: {html.resolve().as_uri()}"), soft_wrap=True)


def print_summary(result, top: int) -> None:
    """The terminal summary: what was audited, how much was flagged, the worst images (data as plain text)."""
    h, w = result.labels.shape[1:]
    pixels = int(result.issue_pixels.sum())
    console.print(plain((str(result.settings.get("images_dir", "")), "bold"),
                        f": {result.n_images:,} images audited ({w}x{h}, {len(result.class_names)} classes; "
                        f"probabilities: {result.settings.get('pred_probs', '')})"), soft_wrap=True)
    console.print(plain("flagged ", (f"{int(result.is_label_issue.sum()):,}", "bold"),
                        f" images (label quality below {result.threshold:g}); ", (f"{pixels:,}", "bold"),
                        f" suspect pixels ({pixels / max(result.labels.size, 1):.1%} of all)"), soft_wrap=True)
    flagged = int(result.is_label_issue.sum())
    if result.n_images >= 10 and flagged > result.n_images / 2:
        # a score threshold means little when the model disagrees with most images: a weak model (the built-in pixel
        # model on classes that differ by shape only) or many wrong masks; say so rather than let "flagged" mislead
        messages.print(plain(f"note: {flagged / result.n_images:.0%} of the images are below the threshold: either "
                             f"most masks are wrong or the probabilities are too weak to judge them (the built-in "
                             f"pixel model sees colour and texture, not shape). Read the ranking, lower "
                             f"--threshold to flag fewer, or bring your own model's out-of-sample --pred-probs"), soft_wrap=True)
    empty = [name for name, e in zip(result.names, result.empty_mask) if e]
    if empty:
        messages.print(plain(f"note: {len(empty)} mask(s) are all background (nothing labelled: an empty scene, or a "
                             f"label forgotten): {', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}"),
                       soft_wrap=True)
    pairs = result.confused_pairs().head(5)
    if len(pairs):
        console.print(plain("most confused (suspect pixels, given -> model): " + "; ".join(
            f"{g} -> {s}: {n:,}" for g, s, n in pairs.itertuples(index=False))), soft_wrap=True)
    worst = result.worst(top)
    if top > 0 and len(worst):
        table = Table(title=f"{len(worst)} images of lowest label quality", title_justify="left")
        table.add_column("image", overflow="fold")
        table.add_column("quality", justify="right")
        table.add_column("suspect pixels", justify="right")
        table.add_column("share", justify="right")
        table.add_column("given -> model", overflow="fold")
        for rec in worst.to_dict("records"):
            table.add_row(plain(str(rec["image"])), f"{rec['label_quality']:.3f}", f"{rec['issue_pixels']:,}",
                          f"{rec['issue_share']:.1%}", plain(str(rec["main_confusion"])))
        console.print(table)
