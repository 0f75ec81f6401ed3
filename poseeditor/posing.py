"""How a dragged joint moves the skeleton: bone lengths kept by default, as in pose tools; free under a modifier.

- A wrist or an ankle is the end of a two-bone chain (shoulder-elbow-wrist, hip-knee-ankle): the shoulder or hip
  stays, the elbow or knee bends so that the end reaches the cursor with both bones at their lengths (bending
  the way it bent before the drag); beyond reach the straightened chain points at the cursor. An elbow that bend
  would put above its shoulder and well inside it (nearer the body's midline, ELBOW_IN), over the head, takes the
  other bend: a hanging arm bends outwards, and the same bend for a wrist raised above the head put the elbow on
  the face.
- The neck turns about the middle of the hips, keeping the torso's length; the head and arms turn with it.
- Any other joint turns about its parent keeping the bone's length, and the joints below it turn with it
  rigidly (an elbow carries the wrist, a knee the ankle, the nose the eyes and ears).
- A free move (``free``), or a joint whose parent is missing, moves the joint alone.

Every move is computed from the pose at the start of the drag, so lengths never drift over a long drag.
Qt-free: plain numpy on engine.pose.Pose.
"""
from __future__ import annotations

import numpy as np

from engine.pose import DESCENDANTS, J, NUM_JOINTS, PARENT, Pose

CHAIN_ENDS = {J["r_wrist"], J["l_wrist"], J["r_ankle"], J["l_ankle"]}
_HIPS = (J["r_hip"], J["l_hip"])
_SHOULDERS = (J["r_shoulder"], J["l_shoulder"])
# An elbow bends the other way when its bend would put it above its shoulder and nearer the body's midline by more
# than this share of the upper arm (over the head), and the other way puts it further out.
ELBOW_IN = 0.25


def descendants(joint: int) -> list[int]:
    """The joints below ``joint`` in the tree (not the joint itself)."""
    return list(DESCENDANTS[joint])


def _rotate(xy: np.ndarray, idx: list[int], centre: np.ndarray, angle: float) -> None:
    c, s = np.cos(angle), np.sin(angle)
    d = xy[idx] - centre
    xy[idx] = centre + np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], 1)


def _angle(v: np.ndarray) -> float:
    return float(np.arctan2(v[1], v[0]))


def _two_bone(root, mid, end, target, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """New (mid, end) for a chain root-mid-end reaching for ``target``, lengths kept, bend side kept (the other
    side with ``flip``)."""
    l1, l2 = float(np.linalg.norm(mid - root)), float(np.linalg.norm(end - mid))
    to = target - root
    d = float(np.linalg.norm(to))
    u = to / d if d > 1e-6 else (end - root) / max(float(np.linalg.norm(end - root)), 1e-6)
    if d >= l1 + l2 or d < 1e-6:  # beyond reach: the straight chain points at the cursor
        return root + l1 * u, root + (l1 + l2) * u
    d = max(d, abs(l1 - l2) + 1e-6)  # too close: as folded as the bones allow
    a = (l1 * l1 - l2 * l2 + d * d) / (2 * d)  # along root->target to the foot of the elbow
    h = float(np.sqrt(max(l1 * l1 - a * a, 0.0)))
    a0, a1 = mid - root, end - root
    side = np.sign(a1[0] * a0[1] - a1[1] * a0[0]) or 1.0  # which side of root->end the elbow was
    perp = np.array([-u[1], u[0]]) * (-side if flip else side)
    new_mid = root + a * u + h * perp
    return new_mid, new_mid + l2 * (target - new_mid) / max(float(np.linalg.norm(target - new_mid)), 1e-6)


def _midline(pose: Pose):
    """(a point on the body's midline, its downward direction): through the neck towards the hips' middle (the
    photo's vertical without both hips); None without a neck."""
    if not pose.present[J["neck"]]:
        return None
    neck = pose.xy[J["neck"]].astype(np.float64)
    down = np.array([0.0, 1.0])
    if all(pose.present[h] for h in _HIPS):
        v = pose.xy[list(_HIPS)].astype(np.float64).mean(0) - neck
        if np.linalg.norm(v) > 1e-6:
            down = v / np.linalg.norm(v)
    return neck, down


def _out_of(q, midline) -> float:
    """How far ``q`` is from the body's midline."""
    (x0, y0), (dx, dy) = midline
    return abs(float(dx * (q[1] - y0) - dy * (q[0] - x0)))


def _over_head(elbow, shoulder, midline, margin: float) -> bool:
    """The elbow above its shoulder (along the body) and nearer the midline than it by more than ``margin``."""
    above = float(np.dot(midline[1], elbow - shoulder)) < 0
    return above and _out_of(elbow, midline) < _out_of(shoulder, midline) - margin


def drag_pose(start: Pose, joint: int, x: float, y: float, free: bool = False) -> Pose:
    """The pose with ``joint`` dragged to (x, y), from ``start`` (the pose when the drag began)."""
    target = np.array([x, y], np.float64)
    parent = PARENT.get(joint)
    p = start.present
    if free or joint == J["neck"] and not all(p[h] for h in _HIPS) or parent is not None and not p[parent]:
        return start.moved(joint, x, y)
    xy = start.xy.astype(np.float64).copy()
    moved = [joint]
    if joint in CHAIN_ENDS and p[PARENT[parent]]:
        root = xy[PARENT[parent]]
        chain = _two_bone(root, xy[parent], xy[joint], target)
        midline = _midline(start) if PARENT[parent] in _SHOULDERS else None
        if midline and _over_head(chain[0], root, midline, ELBOW_IN * float(np.linalg.norm(xy[parent] - root))):
            other = _two_bone(root, xy[parent], xy[joint], target, flip=True)
            if _out_of(other[0], midline) > _out_of(chain[0], midline):
                chain = other
        xy[parent], xy[joint] = chain
        moved.append(parent)
    else:
        if joint == J["neck"]:  # the upper body leans about the hips
            centre = xy[list(_HIPS)].mean(0)
            carried = [j for j in range(NUM_JOINTS) if j not in (joint, *_HIPS) and j not in
                       descendants(J["r_hip"]) + descendants(J["l_hip"])]
        else:
            centre, carried = xy[parent], descendants(joint)
        carried = [j for j in carried if p[j]]  # a missing joint keeps its meaningless (0, 0)
        old, new = xy[joint] - centre, target - centre
        if np.linalg.norm(new) < 1e-6 or np.linalg.norm(old) < 1e-6:
            return start.copy()
        _rotate(xy, [joint] + carried, centre, _angle(new) - _angle(old))
        moved += carried
    xy[moved, 0] = np.clip(xy[moved, 0], 0, start.width - 1)
    xy[moved, 1] = np.clip(xy[moved, 1], 0, start.height - 1)
    out = Pose(xy.astype(start.xy.dtype), start.present.copy(), start.width, start.height, start.confidence.copy())
    out.confidence[moved] = 1.0  # placed by hand, as Pose.moved says
    return out


def carry_gained(target: Pose, photo_before: Pose, photo_after: Pose) -> Pose | None:
    """``target`` with the joints the photo's skeleton gained (shown in a correction) that the target lacks, or
    None if there are none. A joint missing from the target is missing for the engines, which leave out the limb
    it ends: a newcomer who added a missed elbow to the photo's skeleton saw the arm vanish from the picture. Each
    goes where it is in the photo, carried as its kin moved from the photo to the target: turned and scaled with
    the bone between the nearest joint up the tree and one below it where the pose has both, else shifted with
    whichever of them it has, so an edited arm carries the elbow added to it."""
    gained = [j for j in range(NUM_JOINTS)
              if photo_after.present[j] and not photo_before.present[j] and not target.present[j]]
    if not gained:
        return None
    both = photo_after.present & target.present

    def up(j: int) -> int | None:
        p = PARENT.get(j)
        while p is not None and not both[p]:
            p = PARENT.get(p)
        return p
    out = target
    for j in gained:
        a, b = up(j), next((d for d in descendants(j) if both[d]), None)
        src = photo_after.xy[j].astype(np.float64)
        if a is not None and b is not None:
            # between two joints the pose has: turned and scaled as the photo's a->b became the pose's (a wrist
            # raised alone, its elbow added later, went to the photo's place by the hip, the forearm 3x long)
            pa, pb, ta, tb = (v.astype(np.float64) for v in (photo_after.xy[a], photo_after.xy[b], target.xy[a],
                                                              target.xy[b]))
            u, v = complex(*(pb - pa)), complex(*(tb - ta))
            z = complex(*(src - pa)) * (v / u if abs(u) > 1e-6 else 1)
            x, y = ta[0] + z.real, ta[1] + z.imag
        else:
            k = a if a is not None else b
            x, y = src + (target.xy[k] - photo_after.xy[k] if k is not None else 0)
        out = out.moved(j, float(np.clip(x, 0, target.width - 1)), float(np.clip(y, 0, target.height - 1)))
    return out
