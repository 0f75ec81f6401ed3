import numpy as np
import pytest
from PIL import Image

from engine.errors import ImageReadError
from engine.images import MAX_SIDE, load_image


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
