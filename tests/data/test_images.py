"""labelwise.data.images: masks, mattes and palettes round-trip exactly, and every bad file gets a one-line DataError
that names the file and the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelwise.data.images import (
    ImagePair, Palette, pair_folders, png_palette, read_image, read_mask, read_matte, read_pair, read_palette,
    write_mask, write_matte,
)
from labelwise.errors import DataError

Image = pytest.importorskip("PIL.Image", reason="Pillow is in the vision extra")

RNG = np.random.default_rng(0)
IDS = RNG.integers(0, 5, size=(7, 9))
COLOURS = [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]


def _palette_png(path, ids, colours):
    img = Image.fromarray(ids.astype(np.uint8), mode="P")
    img.putpalette([v for c in colours for v in c])
    img.save(path)
    return path


def _rgb_png(path, ids, colours):
    Image.fromarray(np.asarray(colours, dtype=np.uint8)[ids]).save(path)
    return path


# ---- masks ---------------------------------------------------------------------------------------------------------

def test_grey_mask_round_trip(tmp_path):
    write_mask(tmp_path / "m.png", IDS)
    assert Image.open(tmp_path / "m.png").mode == "L"
    got = read_mask(tmp_path / "m.png")
    assert got.dtype == np.int64 and got.shape == (7, 9)
    np.testing.assert_array_equal(got, IDS)


def test_sixteen_bit_mask_round_trip(tmp_path):
    ids = IDS * 1000 + 300  # above 255: written as 16-bit
    write_mask(tmp_path / "m.png", ids)
    assert Image.open(tmp_path / "m.png").mode.startswith("I;16")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), ids)


def test_bool_and_whole_float_masks_are_written(tmp_path):
    write_mask(tmp_path / "b.png", IDS > 2)
    np.testing.assert_array_equal(read_mask(tmp_path / "b.png"), (IDS > 2).astype(np.int64))
    write_mask(tmp_path / "f.png", IDS.astype(np.float32))
    np.testing.assert_array_equal(read_mask(tmp_path / "f.png"), IDS)


def test_palette_png_is_read_by_index(tmp_path):
    np.testing.assert_array_equal(read_mask(_palette_png(tmp_path / "p.png", IDS, COLOURS)), IDS)
    table = png_palette(tmp_path / "p.png")
    assert table.dtype == np.uint8 and [tuple(c) for c in table[:5]] == COLOURS
    write_mask(tmp_path / "grey.png", IDS)
    assert png_palette(tmp_path / "grey.png") is None


def test_palette_png_with_a_palette_is_read_by_colour(tmp_path):
    """The PNG's colour table lists the classes in another order than the palette file: the file's ids win."""
    shuffled = [COLOURS[i] for i in (3, 1, 4, 0, 2)]  # index j of the PNG has colour shuffled[j]
    png_ids = np.argsort([3, 1, 4, 0, 2])[IDS]  # the index whose colour is COLOURS[IDS]
    path = _palette_png(tmp_path / "p.png", png_ids, shuffled)
    palette = Palette(colors={c: i for i, c in enumerate(COLOURS)}, names=tuple("abcde"))
    np.testing.assert_array_equal(read_mask(path, palette=palette), IDS)
    np.testing.assert_array_equal(read_mask(path), png_ids)  # without one: the indices


def test_rgb_mask_with_palette_round_trip(tmp_path):
    path = _rgb_png(tmp_path / "c.png", IDS, COLOURS)
    palette = {c: i for i, c in enumerate(COLOURS)}
    np.testing.assert_array_equal(read_mask(path, palette=palette), IDS)
    Image.open(path).convert("RGBA").save(tmp_path / "c4.png")  # an alpha channel is dropped
    np.testing.assert_array_equal(read_mask(tmp_path / "c4.png", palette=palette), IDS)


def test_grey_mask_saved_as_rgb_needs_no_palette(tmp_path):
    Image.fromarray(np.repeat(IDS.astype(np.uint8)[:, :, None], 3, axis=2)).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "g.png"), IDS)


def test_colour_mask_without_palette_says_to_give_one(tmp_path):
    path = _rgb_png(tmp_path / "c.png", IDS, COLOURS)
    with pytest.raises(DataError, match=r"c\.png is a colour image: give the colour of each class"):
        read_mask(path)


def test_unknown_colour_names_colour_position_and_index(tmp_path):
    ids = np.zeros((4, 5), dtype=np.int64)
    ids[2, 3] = 1
    palette = {(0, 0, 0): 0}
    with pytest.raises(DataError, match=r"c\.png has colour \(128, 0, 0\) at row 2, column 3, which is not in the "
                                        r"palette; add it"):
        read_mask(_rgb_png(tmp_path / "c.png", ids, COLOURS), palette=palette)
    with pytest.raises(DataError, match=r"p\.png has colour \(128, 0, 0\) \(palette index 1\) at row 2, column 3"):
        read_mask(_palette_png(tmp_path / "p.png", ids, COLOURS), palette=palette)
    with pytest.raises(DataError, match="palette for mask .* is empty"):
        read_mask(tmp_path / "c.png", palette={})


def test_class_id_above_the_class_list(tmp_path):
    ids = IDS.copy()
    ids[3, 4] = 7
    write_mask(tmp_path / "m.png", ids)
    assert read_mask(tmp_path / "m.png", num_classes=8).max() == 7
    with pytest.raises(DataError, match=r"m\.png holds class id 7 \(first at row 3, column 4\), but there are 5 "
                                        r"classes \(0 \.\. 4\); fix the mask or the class list"):
        read_mask(tmp_path / "m.png", num_classes=5)
    ids[0, 0] = 255
    write_mask(tmp_path / "void.png", ids)
    with pytest.raises(DataError, match="255 often marks 'void'"):
        read_mask(tmp_path / "void.png", num_classes=5)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
def test_lossy_mask_is_refused(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    Image.fromarray(IDS.astype(np.uint8)).save(path)
    with pytest.raises(DataError, match=rf"m\{suffix} is a lossy .* save masks as PNG"):
        read_mask(path)


def test_missing_broken_and_odd_mode_files(tmp_path):
    with pytest.raises(DataError, match=r"mask .*nothere\.png does not exist: check the path"):
        read_mask(tmp_path / "nothere.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"broken\.png cannot be read as an image .*re-export it as PNG"):
        read_mask(tmp_path / "broken.png")
    with pytest.raises(DataError, match=r"image .*broken\.png cannot be read"):
        read_image(tmp_path / "broken.png")
    Image.fromarray(np.zeros((3, 3), np.float32)).save(tmp_path / "float.tif")  # mode "F"
    with pytest.raises(DataError, match=r"float\.tif has pixel mode 'F'; save it as a grey"):
        read_mask(tmp_path / "float.tif")


def test_write_mask_refuses_what_is_not_a_mask(tmp_path):
    with pytest.raises(DataError, match=r"a mask is \(H, W\) class ids; got shape \(2, 2, 3\)"):
        write_mask(tmp_path / "m.png", np.zeros((2, 2, 3), int))
    with pytest.raises(DataError, match="outside 0 .. 65535"):
        write_mask(tmp_path / "m.png", np.array([[0, -1]]))
    with pytest.raises(DataError, match="not whole class ids"):
        write_mask(tmp_path / "m.png", np.array([[0.0, 1.5]]))
    assert not list(tmp_path.iterdir())  # nothing half-written


# ---- mattes and images ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits,step", [(8, 255), (16, 65535)])
def test_matte_round_trip(tmp_path, bits, step):
    alpha = RNG.uniform(0, 1, size=(6, 8))
    alpha[0, :3] = [0.0, 1.0, 0.5]
    write_matte(tmp_path / "a.png", alpha, bits=bits)
    got = read_matte(tmp_path / "a.png")
    assert got.dtype == np.float32 and got.shape == alpha.shape
    assert np.abs(got - alpha).max() <= 0.5 / step + 1e-7
    assert got[0, 0] == 0.0 and got[0, 1] == 1.0


def test_matte_from_cut_out_and_errors(tmp_path):
    alpha = (np.arange(12).reshape(3, 4) * 20).astype(np.uint8)
    rgba = np.dstack([np.full((3, 4, 3), 200, np.uint8), alpha])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cut.png")
    np.testing.assert_allclose(read_matte(tmp_path / "cut.png"), alpha / 255.0, atol=1e-7)
    _rgb_png(tmp_path / "c.png", IDS, COLOURS)
    with pytest.raises(DataError, match=r"matte .*c\.png is a colour image; a matte is one grey channel"):
        read_matte(tmp_path / "c.png")
    with pytest.raises(DataError, match="NaN or infinite"):
        write_matte(tmp_path / "n.png", np.array([[0.0, np.nan]]))
    with pytest.raises(DataError, match="bits must be 8 or 16, not 12"):
        write_matte(tmp_path / "n.png", np.zeros((2, 2)), bits=12)
    assert not (tmp_path / "n.png").exists()


def test_read_image_modes(tmp_path):
    Image.fromarray(np.array([[0, 100], [200, 255]], np.uint16)).save(tmp_path / "dark16.png")
    got = read_image(tmp_path / "dark16.png")
    assert got.shape == (2, 2, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got[..., 0], np.array([[0, 100], [200, 255]]) / 65535, rtol=1e-6)  # stays dark
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), [[[0, 0, 0], [1, 1, 1]]])
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), [[[1, 0, 0], [1, 0, 0]]])


# ---- palette files -------------------------------------------------------------------------------------------------

def test_text_palette(tmp_path):
    path = tmp_path / "palette.txt"
    path.write_text("# VOC-like\n0,0,0=background\n\n128, 0, 0 = aeroplane\n#00ff00=bicycle\n"
                    "255 255 255=background\n# trailing comment\n", encoding="utf-8")
    palette = read_palette(path)
    assert palette.names == ("background", "aeroplane", "bicycle")
    assert palette.colors == {(0, 0, 0): 0, (128, 0, 0): 1, (0, 255, 0): 2, (255, 255, 255): 0}
    assert palette.color_of(0) == (0, 0, 0) and palette.color_of(2) == (0, 255, 0)


@pytest.mark.parametrize("body", [
    {"background": [0, 0, 0], "cat": [255, 0, 0], "dog": [0, 0, 255]},
    [{"name": "background", "color": [0, 0, 0]}, {"name": "cat", "color": [255, 0, 0]},
     {"name": "dog", "color": [0, 0, 255]}],
])
def test_json_palette(tmp_path, body):
    path = tmp_path / "palette.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    palette = read_palette(path)
    assert palette.names == ("background", "cat", "dog")
    assert palette.colors == {(0, 0, 0): 0, (255, 0, 0): 1, (0, 0, 255): 2}


@pytest.mark.parametrize("text,message", [
    ("0,0,0=bg\n1,2=cat\n", r"palette\.txt, line 2: '1,2' is not a colour; write r,g,b with each value 0 \.\. 255"),
    ("0,0,0=bg\n0,0,300=cat\n", r"line 2: '0,0,300' is not a colour"),
    ("0,0,0=bg\ncat\n", r"line 2: 'cat' is not 'r,g,b=class_name'"),
    ("0,0,0=\n", r"line 1: the colour 0,0,0 has no class name"),
    ("0,0,0=bg\n0,0,0=cat\n", r"line 2: colour \(0, 0, 0\) is given twice \('bg' and 'cat'\)"),
    ("# only a comment\n\n", r"palette .*palette\.txt lists no colours"),
])
def test_bad_text_palettes(tmp_path, text, message):
    (tmp_path / "palette.txt").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_palette(tmp_path / "palette.txt")


@pytest.mark.parametrize("text,message", [
    ("{not json", r"palette .*p\.json is not valid JSON"),
    ('["bg", "cat"]', r"must be a JSON object"),
    ('{"bg": "black"}', r"class 'bg': 'black' is not a colour"),
    ('{"bg": [0, 0, -1]}', r"class 'bg': '0,0,-1' is not a colour"),
])
def test_bad_json_palettes(tmp_path, text, message):
    (tmp_path / "p.json").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_palette(tmp_path / "p.json")


def test_missing_and_binary_palette(tmp_path):
    with pytest.raises(DataError, match=r"palette .*none\.txt does not exist"):
        read_palette(tmp_path / "none.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match="cannot be read as UTF-8 text"):
        read_palette(tmp_path / "bin.txt")


# ---- pairs and folders ---------------------------------------------------------------------------------------------

def test_read_pair_checks_sizes(tmp_path):
    Image.fromarray(np.zeros((7, 9, 3), np.uint8)).save(tmp_path / "a.jpg")
    write_mask(tmp_path / "a.png", IDS)
    image, mask = read_pair(ImagePair("a", tmp_path / "a.jpg", tmp_path / "a.png"))
    assert image.shape == (7, 9, 3) and mask.shape == (7, 9)
    write_mask(tmp_path / "b.png", IDS[:, :8])
    with pytest.raises(DataError, match=r"mask .*b\.png is 8x7 \(width x height\) but its image .*a\.jpg is 9x7; "
                                        r"save the mask at the image's size"):
        read_pair(ImagePair("a", tmp_path / "a.jpg", tmp_path / "b.png"))
    write_mask(tmp_path / "c.png", IDS.T)
    with pytest.raises(DataError, match=r"c\.png is 7x9 .* is 9x7 \(the same size turned by 90 degrees: is one of "
                                        r"them rotated"):
        read_pair(ImagePair("a", tmp_path / "a.jpg", tmp_path / "c.png"))


def _folders(tmp_path, images, labels):
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    for name in images:
        Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "img" / name)
    for name in labels:
        write_mask(tmp_path / "lab" / name, np.zeros((2, 2), int))
    return tmp_path / "img", tmp_path / "lab"


def test_pair_folders_matches_stems_in_sorted_order(tmp_path):
    images, labels = _folders(tmp_path, ["b.jpg", "a.png", "c.PNG"], ["c.png", "a.png", "b.png"])
    (images / ".hidden.png").write_bytes(b"")
    (images / "notes.txt").write_text("x")
    pairs = pair_folders(images, labels)
    assert [p.name for p in pairs] == ["a", "b", "c"]
    assert pairs[1].image.name == "b.jpg" and pairs[1].label.name == "b.png"


def test_pair_folders_errors(tmp_path):
    images, labels = _folders(tmp_path, ["a.png", "b.png"], ["a.png", "z.png"])
    with pytest.raises(DataError, match=r"1 label file\(s\) in .*lab have no image of the same name .*: z\.png; "
                                        "rename or remove them"):
        pair_folders(images, labels)
    (labels / "z.png").unlink()
    with pytest.raises(DataError, match=r"1 image\(s\) in .*img have no label file .*: b\.png; add their labels"):
        pair_folders(images, labels)
    assert [p.name for p in pair_folders(images, labels, allow_unlabelled=True)] == ["a"]
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(images / "a.jpg")
    with pytest.raises(DataError, match=r"two files named 'a' \(a\.jpg, a\.png\); keep one"):
        pair_folders(images, labels)
    with pytest.raises(DataError, match=r"images folder .*nowhere does not exist or is not a folder"):
        pair_folders(tmp_path / "nowhere", labels)
    (images / "a.jpg").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"labels folder .*empty holds no label files \(\.png, \.bmp, \.tif, \.tiff\)$"):
        pair_folders(images, tmp_path / "empty")
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "empty" / "a.jpg")
    with pytest.raises(DataError, match=r"holds 1 JPEG/WebP file\(s\) \(a\.jpg\), but lossy compression invents"):
        pair_folders(images, tmp_path / "empty")


def test_labels_named_after_their_image_with_an_ending_get_a_hint(tmp_path):
    images, labels = _folders(tmp_path, ["a.jpg", "b.jpg"], ["a_mask.png", "b_mask.png"])
    with pytest.raises(DataError, match=r"a_mask\.png, b_mask\.png; rename or remove them \(each name adds '_mask' to "
                                        r"its image's name: remove that ending from the label files\)"):
        pair_folders(images, labels)
    (labels / "b_mask.png").rename(labels / "b_gt.png")
    with pytest.raises(DataError, match=r"rename or remove them$"):
        pair_folders(images, labels)
