"""The warp engine's limbs that the photo's edge cuts: a half-body photo's arm raised by a preset."""
import numpy as np

from engine.backends.warp import WarpBackend
from engine.encode import torso_size
from engine.pose import J, Pose
from engine.presets import fit_preset

from tests.engine.painted import SLEEVE, painted_on_wall


def _raised_from_a_photo_cut_at(cut_below: float):
    """A painted person cut ``cut_below`` px below the right elbow (the bottom edge; the wrists beyond it, not
    found), the right upper arm raised out sideways: (the render as ints, the target pose, the torso size)."""
    p = fit_preset("standing", 240, 400)
    img, mask, _, _ = painted_on_wall(p, 0.12)
    h = int(round(p.point("r_elbow")[1] + cut_below))
    present = p.present.copy()
    for n in ("r_wrist", "l_wrist", "r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"):
        present[J[n]] = False
    xy = p.xy.copy()
    xy[:, 1] = np.minimum(xy[:, 1], h - 1)
    half = Pose(xy, present, 240, h, p.confidence.copy())
    sh, el = half.point("r_shoulder"), half.point("r_elbow")
    upper = float(np.hypot(*(el - sh)))
    target = half.moved("r_elbow", sh[0] - 0.9 * upper, sh[1] - 0.4 * upper)
    b = WarpBackend()
    out = b.render(b.encode_sources([img[:h]], [half], [mask[:h].astype(np.float32)]), target).astype(int)
    return out, target, torso_size(p)


def _sleeve_past_the_elbow(out, target, ts) -> int:
    """Sleeve pixels beyond the target elbow along the raised upper arm, within the arm's width of its line."""
    sh, el = target.point("r_shoulder"), target.point("r_elbow")
    u = (el - sh) / np.hypot(*(el - sh))
    ys, xs = np.mgrid[0:out.shape[0], 0:out.shape[1]].astype(np.float32)
    along = (xs - el[0]) * u[0] + (ys - el[1]) * u[1]
    across = np.abs((xs - el[0]) * u[1] - (ys - el[1]) * u[0])
    sleeve = np.abs(out - np.array(SLEEVE)).max(axis=2) < 40
    return int((sleeve & (along > 2) & (across < 0.1 * ts)).sum())


def test_an_upper_arm_whose_elbow_lies_on_the_edge_goes_on_past_it_when_raised():
    # A portrait's elbow found on its bottom edge (fashion-real/20 cut to a portrait, Waving): the upper arm is cut
    # there, and raised, its cut end swung up as a flat stump. An elbow on the edge is no elbow inside the photo:
    # the arm goes on past its cut, as a limb whose far joint is missing does.
    # (a shoe whose sole touches the edge keeps its end: its ankle lies above the sole, further in than EDGE_JOINT)
    out, target, ts = _raised_from_a_photo_cut_at(1)
    past = _sleeve_past_the_elbow(out, target, ts)
    assert past >= 40, f"the raised sleeve ends at the elbow ({past} px past it): a flat stump"  # 0 before, 72 now

