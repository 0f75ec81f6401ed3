"""The warp engine's head over the torso: what the torso shows where a moved head uncovers it."""
import cv2
import numpy as np

from engine.backends.warp_parts import layers_for
from engine.encode import NUM_PARTS, PART_NAMES, torso_size
from engine.pose import MIRROR_INDEX, Pose, faces_away
from engine.presets import fit_preset

from tests.engine.painted import painted_on_wall

HEAD, TORSO = PART_NAMES.index("head") + 1, PART_NAMES.index("torso") + 1


def _bob(back: bool = False):
    """A painted person (240x400) whose streaked brown hair falls past the head onto the shoulders, as a portrait's
    long hair does: the head's part ends a little above the shoulders, the hair below it is the torso's. A face
    with a dark jaw line over a skin neck between, or, ``back``, seen from behind: hair all the way down (the pose's
    left and right sides swapped). (pose, image, part labels, the boundary row)."""
    p = fit_preset("standing", 240, 400)
    if back:
        swap = list(MIRROR_INDEX)
        p = Pose(p.xy[swap], p.present[swap], p.width, p.height, p.confidence[swap])
    ts = torso_size(p)
    img, mask, _, _ = painted_on_wall(p, 0.1)
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    nose, neck = p.point("nose"), p.point("neck")
    r = 0.25 * ts
    hair = np.clip(np.array((120, 75, 40)) * (1 + 0.3 * np.sin(xs * 1.3 + ys * 0.4))[..., None], 0, 255)
    bob = ((np.hypot(xs - nose[0], ys - nose[1]) <= r) | ((np.abs(xs - nose[0]) <= r) & (ys >= nose[1]))) & \
        (ys <= neck[1] + 0.15 * ts)
    img[bob] = hair[bob].astype(np.uint8)
    mask[bob] = 1
    if not back:
        neck_skin = (np.abs(xs - neck[0]) <= 0.06 * ts) & (ys >= nose[1])
        face = np.hypot((xs - nose[0]) / 0.6, ys - nose[1]) <= 0.6 * r
        img[neck_skin | face] = (225, 180, 150)
        jaw = face & (np.hypot((xs - nose[0]) / 0.6, ys - nose[1]) > 0.6 * r - 2) & (ys > nose[1])
        img[jaw] = (90, 60, 50)
        mask[neck_skin] = 1
    edge = int(round(neck[1] - 0.05 * ts))  # the head's part ends here; the hair on the shoulders below is the torso's
    labels = np.where(mask > 0, TORSO, 0).astype(np.uint8)
    labels[: edge][(mask > 0)[: edge]] = HEAD
    return p, img, labels, edge


def test_a_moved_heads_hair_uncovers_the_hair_below_it_not_a_flat_bar():
    # A tilted long-haired head (fashion-real/4, 10, 33 cut to portraits) left a bar of the hair's mean colour beside
    # the neck, over the hair on the shoulders: the torso reaches under the head's lower edge so that the two blend,
    # and drew that reach in its own colours spread, as under any part that moves. Where the photo's pixels there
    # are hair like the torso's own, it shows them: the hair goes on. Under the chin it keeps its own colours
    # (the photo's pixels there are the jaw's).
    p, img, labels, edge = _bob()
    ts = torso_size(p)
    torso = layers_for(img, p, labels)[PART_NAMES.index("torso")]
    gone = np.zeros(NUM_PARTS + 1, bool)
    gone[HEAD] = True  # the head moves
    shown = torso.photo(gone).astype(int)
    h, w = torso.alpha.shape
    ys, xs = np.mgrid[torso.y0:torso.y0 + h, torso.x0:torso.x0 + w]
    reach = (torso.alpha > 0.5) & (labels[ys.clip(0, 399), xs.clip(0, 239)] == HEAD)  # its reach under the head
    neck = p.point("neck")
    side = reach & (np.abs(xs - neck[0]) > 0.15 * ts)
    assert side.sum() > 30, "the torso reaches under the hair beside the neck"
    photo = img[ys.clip(0, 399), xs.clip(0, 239)].astype(int)
    assert np.abs(shown - photo).max(axis=2)[side].mean() < 3, "the hair there is the photo's"
    assert shown[side].std(axis=0).mean() > 10, "streaked, not one flat colour"
    under_chin = reach & (np.abs(xs - neck[0]) < 0.03 * ts)
    assert under_chin.any()
    dark = cv2.cvtColor(np.clip(shown, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY) < 90
    assert not (dark & under_chin).any(), "no jaw line left under a moved chin"


def test_seen_from_behind_the_hair_goes_on_under_the_necks_column_too():
    # fashion-real/4, a back view cut to a portrait, the head tilted: beside the neck the hair went on, but in the
    # neck's column (kept in the torso's colours for a jaw there) a flat patch of the hair's mean colour stayed.
    # Seen from behind there is no jaw: the photo's hair shows there too.
    p, img, labels, edge = _bob(back=True)
    assert faces_away(p)
    torso = layers_for(img, p, labels)[PART_NAMES.index("torso")]
    gone = np.zeros(NUM_PARTS + 1, bool)
    gone[HEAD] = True
    shown = torso.photo(gone).astype(int)
    h, w = torso.alpha.shape
    ys, xs = np.mgrid[torso.y0:torso.y0 + h, torso.x0:torso.x0 + w]
    reach = (torso.alpha > 0.5) & (labels[ys.clip(0, 399), xs.clip(0, 239)] == HEAD)
    column = reach & (np.abs(xs - p.point("neck")[0]) < 0.03 * torso_size(p))
    assert column.sum() > 5
    photo = img[ys.clip(0, 399), xs.clip(0, 239)].astype(int)
    assert np.abs(shown - photo).max(axis=2)[column].mean() < 3, "the hair under the neck's column is the photo's"
