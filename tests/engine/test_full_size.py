"""The result at the photo's own size (engine.full_size): a photo edited reduced is exported at its own
resolution, the original pixels outside the edit, the enlarged edit blended in. Small photos and a small
``max_side`` stand in for an 8000 x 6000 photo and images.MAX_SIDE."""
import numpy as np
from PIL import Image

from engine.full_size import export_result
from engine.images import load_full_size, load_image

SIDE = 300  # the working photo's longer side in these tests


def textured(w, h, seed=0):
    """Gradients and noise: every pixel differs from its neighbours, so a misplaced paste shows."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 90 * np.sin(xx / 13), 128 + 90 * np.cos(yy / 11), 128 + 60 * np.sin((xx + yy) / 7)], -1)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def edited(working, box, colour=(250, 20, 20)):
    x0, y0, x1, y1 = box
    result = working.copy()
    result[y0:y1, x0:x1] = colour
    return result


def test_the_export_is_the_original_outside_the_edit_and_the_edit_inside(tmp_path):
    photo = tmp_path / "big.png"
    original = textured(600, 400)
    Image.fromarray(original).save(photo)
    working = load_image(photo, SIDE)
    assert working.shape == (200, 300, 3)
    box = (120, 100, 180, 140)                              # working pixels
    out = tmp_path / "out.png"
    info = export_result(out, photo, working, edited(working, box), max_side=SIDE)
    saved = np.asarray(Image.open(out))
    assert saved.shape == original.shape and info.size == (600, 400) and info.full_size and not info.note
    x0, y0, x1, y1 = (2 * v for v in box)                  # the same box in the photo's own pixels
    margin = 2 * 8                                          # the edit grown and feathered: 6 working pixels
    outside = np.ones(original.shape[:2], bool)
    outside[y0 - margin:y1 + margin, x0 - margin:x1 + margin] = False
    assert np.array_equal(saved[outside], original[outside])  # the original file's pixels, exactly
    inside = saved[y0 + 4:y1 - 4, x0 + 4:x1 - 4].astype(int)
    assert np.abs(inside - (250, 20, 20)).max() <= 3          # the edit, enlarged
    # the feathered edge goes from the edit to the original: between them, neither
    ring = saved[y0 - 4, x0 + 10:x1 - 10].astype(int)
    assert 0 < np.abs(ring - original[y0 - 4, x0 + 10:x1 - 10]).mean()


def test_exif_rotated_photo_is_pasted_upright_as_it_was_loaded(tmp_path):
    stored = textured(600, 400, seed=1)                     # stored landscape, shown portrait (rotate 90 CW)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(photo, exif=exif, quality=95)
    working = load_image(photo, SIDE)
    assert working.shape == (300, 200, 3)
    box = (20, 30, 60, 80)                                  # near the top left of the upright picture
    out = tmp_path / "out.png"
    export_result(out, photo, working, edited(working, box), max_side=SIDE)
    saved = np.asarray(Image.open(out)).astype(int)
    upright = np.asarray(load_full_size(photo)).astype(int)
    assert saved.shape == upright.shape == (600, 400, 3)
    diff = np.abs(saved - upright).max(axis=2) > 0
    ys, xs = np.nonzero(diff)
    assert 40 - 16 <= xs.min() and xs.max() < 120 + 16 and 60 - 16 <= ys.min() and ys.max() < 160 + 16
    assert diff[70:150, 50:110].all()


def test_nothing_edited_is_the_original_and_a_changed_file_says_so(tmp_path):
    photo = tmp_path / "big.png"
    original = textured(600, 400, seed=2)
    Image.fromarray(original).save(photo)
    working = load_image(photo, SIDE)
    out = tmp_path / "same.png"
    export_result(out, photo, working, working.copy(), max_side=SIDE)
    assert np.array_equal(np.asarray(Image.open(out)), original)

    # the photo was replaced after it was opened: the edit is not pasted into another picture
    Image.fromarray(textured(600, 400, seed=3)).save(photo)
    out = tmp_path / "changed.png"
    info = export_result(out, photo, working, edited(working, (10, 10, 50, 50)), max_side=SIDE)
    assert np.asarray(Image.open(out)).shape == (200, 300, 3) and info.size == (300, 200)
    assert "changed since it was opened" in info.note
    # and gone: the working-size result, with the reason
    photo.unlink()
    info = export_result(tmp_path / "gone.png", photo, working, working, max_side=SIDE)
    assert info.size == (300, 200) and "can no longer be read" in info.note


def test_a_photo_at_the_working_size_is_saved_as_rendered(tmp_path):
    photo = tmp_path / "small.png"
    Image.fromarray(textured(240, 160)).save(photo)
    working = load_image(photo, SIDE)
    result = edited(working, (10, 10, 40, 40))
    info = export_result(tmp_path / "out.png", photo, working, result, max_side=SIDE)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), result) and not info.full_size
