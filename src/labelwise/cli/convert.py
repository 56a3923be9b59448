"""``labelwise convert``: pixel labels from one kind into another. ``masks-to-mattes`` turns segmentation masks into
alpha mattes (:func:`labelwise.assign.folders.masks_to_mattes`); ``train-converter`` trains ZIM's learned
mask -> matte converter (:func:`labelwise.assign.folders.train_converter`)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import messages, plain, progress_bars
from labelwise.cli.options import DEBUG, QUIET, list_option, writable
from labelwise.errors import ParameterError

app = typer.Typer(
    name="convert",
    help="Convert pixel labels: segmentation masks -> alpha mattes (needs 'labelwise[vision]').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _class_ids(values: Optional[List[str]]) -> Optional[List[int]]:
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ParameterError(f"--classes takes class ids (whole numbers as stored in the masks); got "
                             f"{', '.join(values)}") from None


@app.command("masks-to-mattes", no_args_is_help=True)
def masks_to_mattes(
    images: Path = typer.Argument(..., help="Folder of images (PNG, JPEG, ...).", show_default=False),
    masks: Path = typer.Argument(..., help="Folder of masks with the same file names (PNG class ids, 0 = "
                                 "background, or 0/255).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the matte PNGs (created if missing).",
                             show_default=False),
    method: str = typer.Option("guided", "--method", "-m", help="guided (guided filter: untrained, any photograph), "
                               "feather (Gaussian blur of the mask), closed-form (closed-form matting; slow on large "
                               "images) or converter (a trained converter: needs --weights)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Converter weights from 'labelwise convert "
                                           "train-converter' (for --method converter)."),
    classes: Optional[List[str]] = list_option("--classes", "-c", metavar="ID", help="The class ids that make "
                                               "the foreground (default: every non-zero class)."),
    palette: Optional[Path] = typer.Option(None, "--palette", help="For colour masks: a text file with one "
                                           "'r,g,b=class_name' line per class (class 0, the background, first) or a "
                                           "JSON file; --classes then takes the line numbers' class ids.",
                                           show_default=False),
    per_class: bool = typer.Option(False, "--per-class", help="One matte per class present in each mask "
                                   "(<name>_class<id>.png) instead of one per image."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute mattes that already exist (default: "
                                   "skip them, so a stopped run resumes)."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Turn segmentation masks into soft alpha mattes, one PNG per image (or per class with --per-class).

    Example: labelwise convert masks-to-mattes photos/ masks/ --out mattes/
    """
    from labelwise.assign.folders import masks_to_mattes as convert

    writable(out, folder=True)
    ids = _class_ids(classes)
    with progress_bars(enabled=not quiet) as progress:
        result = convert(images, masks, out, method=method, weights=weights, classes=ids, per_class=per_class,
                         overwrite=overwrite, palette=palette, progress=progress)
    if result.empty:
        names = ", ".join(result.empty[:5]) + (" ..." if len(result.empty) > 5 else "")
        what = "no matte was written" if per_class else "an empty matte was written"
        messages.print(plain(f"note: {len(result.empty)} mask(s) hold none of the chosen classes ({what}): {names}"),
                       soft_wrap=True)
    skipped = f"; {len(result.skipped)} already there, skipped (--overwrite recomputes them)" if result.skipped else ""
    messages.print(plain(f"wrote {len(result.written)} matte(s) to {out}/ with method {result.method}{skipped}"),
                   soft_wrap=True)


@app.command("train-converter", no_args_is_help=True)
def train_converter(
    images: Optional[Path] = typer.Argument(None, help="Folder of images with known mattes.", show_default=False),
    mattes: Optional[Path] = typer.Argument(None, help="Folder of their matte PNGs (same file names).",
                                            show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="File for the weights (e.g. converter.pt).",
                             show_default=False),
    synthetic: int = typer.Option(0, "--synthetic", help="Add this many procedural image/matte pairs (64x64: "
                                  "thin strands and soft blobs, plus coarse shapes for STL)."),
    coarse_images: Optional[Path] = typer.Option(None, "--coarse-images", help="Folder of images of crisp-edged "
                                                 "objects (STL: the converter learns to leave them unchanged)."),
    coarse_masks: Optional[Path] = typer.Option(None, "--coarse-masks", help="Their masks (non-zero = object)."),
    steps: int = typer.Option(1500, "--steps", help="Training steps."),
    batch_size: int = typer.Option(16, "--batch-size", help="Crops per step."),
    patch_size: int = typer.Option(64, "--patch-size", help="Crop side in pixels."),
    no_sga: bool = typer.Option(False, "--no-sga", help="Turn off spatial generalisation augmentation."),
    seed: int = typer.Option(0, "--seed", "--random-state", help="Seed of the data draws and the network."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Train ZIM's mask -> matte label converter on matting pairs and save its weights.

    Example: labelwise convert train-converter --synthetic 2000 --out converter.pt
    """
    from labelwise.assign.folders import train_converter as train

    try:
        import torch  # noqa: F401
    except ImportError as exc:
        from labelwise.errors import MissingExtraError

        raise MissingExtraError("torch", "learn", "training the matte converter") from exc
    writable(out, folder=False)
    if images is not None and mattes is None:
        raise ParameterError("give the mattes folder after the images folder (IMAGES MATTES)")
    options = {"steps": steps, "batch_size": batch_size, "patch_size": patch_size}
    if no_sga:
        options["sga_prob"] = 0.0
    with progress_bars(enabled=not quiet) as progress:
        converter = train(out, images_dir=images, mattes_dir=mattes, coarse_images_dir=coarse_images,
                          coarse_masks_dir=coarse_masks, synthetic=synthetic, random_state=seed, progress=progress,
                          **options)
    final = sum(converter.loss_curve_[-20:]) / len(converter.loss_curve_[-20:])
    messages.print(plain(f"trained for {steps} steps (final loss {final:.4f}, STL {'on' if converter.stl_ else 'off'}); "
                         f"wrote {out}"), soft_wrap=True)
