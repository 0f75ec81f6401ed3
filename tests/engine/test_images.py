import numpy as np
import pytest
from PIL import Image

from engine.errors import ImageReadError
import engine.images as images
from engine.images import MAX_SIDE, load_full_size, load_image


def test_rgba_gray_16bit_and_palette_become_rgb8(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255  # left half opaque red, right half transparent -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert a.shape == (20, 30, 3) and a.dtype == np.uint8
    assert tuple(a[0, 0]) == (200, 0, 0) and tuple(a[0, -1]) == (255, 255, 255)

    Image.fromarray(np.full((20, 30), 77, np.uint8), "L").save(tmp_path / "g.png")
    assert tuple(load_image(tmp_path / "g.png")[5, 5]) == (77, 77, 77)

    Image.fromarray(np.full((20, 30), 65535 // 2, np.uint16)).save(tmp_path / "d.png")
    assert abs(int(load_image(tmp_path / "d.png")[0, 0, 0]) - 127) <= 1


def test_16bit_float_and_alpha_are_converted_band_by_band_to_the_exact_pixels(tmp_path, monkeypatch):
    """A photo not stored as 8-bit RGB is converted a band of rows at a time (so a full-size one costs one copy,
    not eight); every pixel is still what the whole-picture arithmetic gives: round(v * 255 / 65535), a float
    scaled by 255 when it is at most 1, alpha over white rounded as Pillow's alpha_composite, the same from
    load_image and load_full_size."""
    monkeypatch.setattr(images, "_BAND_ROWS", 7)             # 7 does not divide 45: a short last band too
    h, w = 45, 31
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    grey[0, 0], grey[-1, -1] = 0, 65535
    Image.fromarray(grey).save(tmp_path / "g16.png")
    want = np.floor(grey / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    for got in (load_image(tmp_path / "g16.png"), np.asarray(load_full_size(tmp_path / "g16.png"))):
        assert got.shape == (h, w, 3) and np.array_equal(got, np.repeat(want[:, :, None], 3, axis=2))

    unit = rng.random((h, w)).astype(np.float32)
    unit[-1, -1] = 1.0                                       # the maximum, in the last band: the scale is 1
    Image.fromarray(unit, "F").save(tmp_path / "f.tif")
    want = np.floor(unit.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)
    assert np.array_equal(load_image(tmp_path / "f.tif")[..., 1], want)
    brighter = unit.copy()
    brighter[-1, -1] = 2.0                           # one value above 1, in the last band: the scale is 255
    Image.fromarray(brighter, "F").save(tmp_path / "f2.tif")
    assert np.array_equal(load_image(tmp_path / "f2.tif")[:-1, :, 0],
                          np.floor(brighter[:-1].astype(np.float64) + 0.5).astype(np.uint8))

    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = rgba[..., 3:].astype(np.int64)
    # over white: c * a + 255 * (255 - a), divided by 255 with Pillow's rounding (at most 1 off the float value)
    near = (rgba[..., :3] * a + 255 * (255 - a)) / 255.0
    whole = np.asarray(Image.alpha_composite(Image.new("RGBA", (w, h), (255,) * 4),
                                             Image.fromarray(rgba, "RGBA")).convert("RGB"))
    for got in (load_image(tmp_path / "a.png"), np.asarray(load_full_size(tmp_path / "a.png"))):
        assert np.array_equal(got, whole) and np.abs(got - near).max() <= 1
    assert load_full_size(tmp_path / "a.png").mode == "RGB"


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((10, 40, 3), np.uint8)
    img[:, :5] = 255  # a white band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(tmp_path / "e.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "e.jpg")
    assert out.shape[:2] == (40, 10)      # displayed upright: portrait
    assert out[:5].mean() > 200           # the band is now at the top


def test_huge_image_is_reduced(tmp_path):
    Image.new("RGB", (12000, 6000), (10, 20, 30)).save(tmp_path / "big.jpg", quality=50)
    out = load_image(tmp_path / "big.jpg")
    assert max(out.shape[:2]) <= MAX_SIDE and out.shape[1] == 2 * out.shape[0]


@pytest.mark.parametrize("content, words", [
    (b"hello, I am text", "not an image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not an image|damaged"),
])
def test_not_images_give_one_line_errors(tmp_path, content, words):
    f = tmp_path / "x.jpg"
    f.write_bytes(content)
    with pytest.raises(ImageReadError, match=words) as e:
        load_image(f)
    assert "\n" not in str(e.value)


def test_truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="damaged|truncated"):
        load_image(tmp_path / "t.png")
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_a_photo_name_the_system_cannot_take_is_an_image_error():
    """A session naming a photo with a lone surrogate (or a NUL byte) gets the photo's one-line error, not a
    ValueError the app's worker reports as an unexpected error."""
    for name in ("x\ud800.jpg", "x\0.jpg"):
        with pytest.raises(ImageReadError, match="not a usable file name") as e:
            load_image(name)
        assert "\n" not in str(e.value)
        str(e.value).encode("utf-8")


def test_an_empty_file_is_said_to_be_empty(tmp_path):
    p = tmp_path / "holiday.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"holiday\.jpg: the file is empty \(0 bytes\), not an image$"):
        load_image(p)
