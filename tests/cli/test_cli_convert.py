"""``labelwise convert`` on folders a user brings: scikit-image's bundled photographs (astronaut, coins) with
class-index masks, one matte per image or per class, resume and --overwrite, a trained converter's weights, and one
line with exit 2 for each bad input."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.cli.main import main

Image = pytest.importorskip("PIL.Image")
skimage_data = pytest.importorskip("skimage.data")


def ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1


@pytest.fixture
def folders(tmp_path):
    """photos/astronaut.jpg (128 x 128 RGB) with a two-class mask (1: the figure, 2: a corner patch),
    photos/coins.png (grey) with a 0/255 mask of the bright coins."""
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    astronaut = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((128, 128), Image.BILINEAR))
    Image.fromarray(astronaut).save(photos / "astronaut.jpg", quality=95)
    classes = np.zeros((128, 128), np.uint8)
    classes[ellipse(128, 128, 64, 64, 55, 38)] = 1
    classes[:16, 100:] = 2
    Image.fromarray(classes).save(masks / "astronaut.png")
    coins = skimage_data.coins()[:96, :128]
    Image.fromarray(coins).save(photos / "coins.png")
    Image.fromarray(((coins > 110) * 255).astype(np.uint8)).save(masks / "coins.png")
    return tmp_path


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64) / 255


def convert(folders, *extra: str) -> int:
    return main(["convert", "masks-to-mattes", str(folders / "photos"), str(folders / "masks"), "--out",
                 str(folders / "mattes"), *extra])


def test_one_matte_per_image_soft_at_the_edges_and_the_mask_far_from_them(folders, capsys):
    assert convert(folders) == 0
    err = capsys.readouterr().err
    assert "mattes" in err and "2/2" in err  # the progress bar
    assert "wrote 2 matte(s) to" in err and "with method guided" in err
    matte = read(folders / "mattes" / "astronaut.png")
    mask = np.asarray(Image.open(folders / "masks" / "astronaut.png")) > 0  # default: every non-zero class
    assert matte.shape == mask.shape
    from scipy import ndimage

    inside = ndimage.binary_erosion(mask, iterations=6)
    outside = ~ndimage.binary_dilation(mask, iterations=6)
    assert np.median(matte[inside]) > 0.9 and np.median(matte[outside]) < 0.1
    edge = mask ^ ndimage.binary_erosion(mask)
    assert ((matte[edge] > 0.05) & (matte[edge] < 0.95)).mean() > 0.3  # soft where the mask is hard
    coins = read(folders / "mattes" / "coins.png")
    assert coins.shape == (96, 128)


def test_per_class_and_chosen_classes(folders, capsys):
    assert convert(folders, "--per-class", "-q") == 0
    names = sorted(p.name for p in (folders / "mattes").iterdir())
    assert names == ["astronaut_class1.png", "astronaut_class2.png", "coins_class255.png"]
    patch = read(folders / "mattes" / "astronaut_class2.png")
    assert patch[:10, 104:].mean() > 0.8 and patch[40:, :].max() < 0.05
    capsys.readouterr()
    assert convert(folders, "--classes", "2", "--out", str(folders / "only2"), "-q") == 0
    only = read(folders / "only2" / "astronaut.png")
    assert only[:10, 104:].mean() > 0.8 and only[64, 64] < 0.05  # the figure (class 1) is background now
    assert read(folders / "only2" / "coins.png").max() == 0  # coins' mask holds no class 2: an empty matte
    assert "1 mask(s) hold none of the chosen classes" in capsys.readouterr().err


def test_a_second_run_skips_what_exists_and_overwrite_recomputes_it(folders, capsys):
    assert convert(folders, "-q") == 0
    target = folders / "mattes" / "coins.png"
    Image.fromarray(np.zeros((96, 128), np.uint8)).save(target)  # pretend an older run wrote this one
    assert convert(folders, "-q") == 0
    assert read(target).max() == 0  # skipped: a killed run resumes without redoing finished files
    assert "0 matte(s)" in capsys.readouterr().err
    assert convert(folders, "-q", "--overwrite", "--method", "feather") == 0
    assert read(target).max() > 0.9
    assert "wrote 2 matte(s)" in capsys.readouterr().err


@pytest.mark.slow
def test_a_trained_converter_from_the_cli_is_used_through_its_weights(folders, capsys):
    pytest.importorskip("torch")
    weights = folders / "converter.pt"
    code = main(["convert", "train-converter", "--synthetic", "12", "--steps", "3", "--batch-size", "4",
                 "--patch-size", "32", "--out", str(weights), "-q"])
    assert code == 0 and weights.is_file()
    assert "trained for 3 steps" in capsys.readouterr().err
    assert convert(folders, "-q", "--method", "converter", "--weights", str(weights)) == 0
    from labelwise.assign.matte_converter import MatteLabelConverter
    from labelwise.data.images import read_image

    image = read_image(folders / "photos" / "coins.png")
    seg = (np.asarray(Image.open(folders / "masks" / "coins.png")) > 0).astype(np.float32)
    expected = MatteLabelConverter.load(weights).convert(image[None], seg[None])[0]
    assert np.abs(read(folders / "mattes" / "coins.png") - expected).max() <= 0.5 / 255 + 1e-6  # 8-bit rounding


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_a_mask_of_another_size_is_one_line_naming_the_file_before_any_work(folders, capsys):
    Image.fromarray(np.zeros((50, 60), np.uint8)).save(folders / "masks" / "coins.png")
    assert convert(folders, "-q") == 2
    line = one_error_line(capsys)
    assert "coins.png is 60x50 (width x height) but its image" in line and "128x96" in line
    assert not list((folders / "mattes").glob("*.png"))  # nothing was written


@pytest.mark.parametrize("extra, words", [
    (("--method", "magic"), "method must be one of guided, feather, closed-form, converter"),
    (("--method", "converter"), "needs the converter's weights"),
    (("--weights", "w.pt"), "used by method 'converter' only"),
    (("--classes", "cat"), "--classes takes class ids"),
])
def test_bad_options_are_one_line_and_exit_2(folders, capsys, extra, words):
    assert convert(folders, "-q", *extra) == 2
    assert words in one_error_line(capsys)


def test_bad_files_are_one_line_and_exit_2(folders, capsys):
    (folders / "junk.pt").write_bytes(b"junk")
    assert convert(folders, "-q", "--method", "converter", "--weights", str(folders / "junk.pt")) == 2
    assert "is not a matte converter weights file" in one_error_line(capsys)
    (folders / "masks" / "coins.png").unlink()
    assert convert(folders, "-q") == 2
    assert "have no label file of the same name" in one_error_line(capsys)
    assert main(["convert", "train-converter", "--out", str(folders / "w.pt"), "-q"]) == 2
    assert "nothing to train on" in one_error_line(capsys)


def test_colour_masks_need_and_take_a_palette(folders, capsys):
    """A colour mask is refused with a pointer to --palette; with the palette file it gives the mattes the class-id
    masks give."""
    assert convert(folders, "-q") == 0
    colours = {0: (0, 0, 0), 1: (200, 30, 30), 2: (30, 200, 30), 255: (250, 250, 250)}
    for name in ("astronaut", "coins"):
        ids = np.asarray(Image.open(folders / "masks" / f"{name}.png"))
        rgb = np.zeros((*ids.shape, 3), np.uint8)
        for cid, colour in colours.items():
            rgb[ids == cid] = colour
        Image.fromarray(rgb).save(folders / "masks" / f"{name}.png")
    capsys.readouterr()
    assert convert(folders, "--out", str(folders / "colour"), "-q") == 2
    assert "palette" in one_error_line(capsys)
    # class ids by line: background, figure, patch, coins
    (folders / "palette.txt").write_text("0,0,0=background\n200,30,30=figure\n30,200,30=patch\n250,250,250=coins\n",
                                         encoding="utf-8")
    assert convert(folders, "--out", str(folders / "colour"), "--palette", str(folders / "palette.txt"), "-q") == 0
    for name in ("astronaut", "coins"):
        np.testing.assert_array_equal(read(folders / "colour" / f"{name}.png"), read(folders / "mattes" / f"{name}.png"))
