"""Pose presets (standing, walking, arms up, ...) stored as JSON in resources/presets.

Presets are kept in body units (x centred on 0, y from the top of the head at 0 to the ankles near 1) so that
one preset fits any image. A preset is a gesture: its ``"sets"`` list names the limbs it poses ("arms", "legs",
or one limb such as "r_arm"; all four limbs when it has none), and its optional ``"reach"`` says which of those
limbs' wrists or ankles touch the body, e.g. {"r_wrist": "r_hip"}.

Given a person's pose, ``fit_preset`` poses only those limbs, on the person's own skeleton: each bone takes the
preset's direction and keeps the person's length, from the person's own shoulder or hip (a wrist that reaches a
joint goes to that joint of the person, the elbow bending as in the preset), and every other joint stays
exactly where it was: a generic body scaled to the person would move the head, uncross the legs and change
every limb's length. A person seen from behind gets the gesture mirrored, on the same limbs. With no person (no
torso to fit to) it is the whole preset, scaled to 80% of the image height and centred.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import PoseFormatError
from .pose import NUM_JOINTS, J, Pose, faces_away

PRESET_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"

# Each limb: its root (on the torso, the anchor), its middle and end joint.
LIMB_CHAINS = {
    "r_arm": ("r_shoulder", "r_elbow", "r_wrist"),
    "l_arm": ("l_shoulder", "l_elbow", "l_wrist"),
    "r_leg": ("r_hip", "r_knee", "r_ankle"),
    "l_leg": ("l_hip", "l_knee", "l_ankle"),
}
LIMB_GROUPS = {"arms": ("r_arm", "l_arm"), "legs": ("r_leg", "l_leg"), "all": tuple(LIMB_CHAINS)}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def _read(name: str) -> dict:
    path = PRESET_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (OSError, ValueError) as e:
        raise PoseFormatError(f"preset {name!r} cannot be read: {e}") from None


def load_preset(name: str) -> np.ndarray:
    """The preset's 18 joints in body units."""
    return _joints(name, _read(name))


def _joints(name: str, data: dict) -> np.ndarray:
    try:
        xy = np.asarray(data["joints"], np.float32)
    except (KeyError, ValueError, TypeError) as e:
        raise PoseFormatError(f"preset {name!r} cannot be read: {e}") from None
    if xy.shape != (NUM_JOINTS, 2):
        raise PoseFormatError(f"preset {name!r} has shape {xy.shape}, expected ({NUM_JOINTS}, 2)")
    return xy


def preset_limbs(name: str) -> tuple[str, ...]:
    """The limbs (LIMB_CHAINS' names) the preset poses, in LIMB_CHAINS' order."""
    return _limbs(name, _read(name))


def preset_description(name: str) -> str:
    """The preset's description and what it sets, for the menu's status tip."""
    data = _read(name)
    limbs = _limbs(name, data)
    words = []
    for kind in ("arm", "leg"):
        sides = [n for n in limbs if n.endswith(kind)]
        if len(sides) == 2:
            words.append(f"the {kind}s")
        elif sides:
            words.append(f"the {'right' if sides[0][0] == 'r' else 'left'} {kind}")
    text = str(data.get("description", name.replace("-", " ").capitalize()))
    return f"{text} (sets {' and '.join(words)}; the rest of the pose stays)"


def _limbs(name: str, data: dict) -> tuple[str, ...]:
    sets = data.get("sets", ["all"])
    if not isinstance(sets, list):
        raise PoseFormatError(f"preset {name!r}: \"sets\" must be a list of limbs, e.g. [\"arms\"]")
    limbs = set()
    for s in sets:
        if not isinstance(s, str):
            raise PoseFormatError(f"preset {name!r}: \"sets\" must be a list of limb names, e.g. [\"arms\"]")
        if s in LIMB_GROUPS:
            limbs.update(LIMB_GROUPS[s])
        elif s in LIMB_CHAINS:
            limbs.add(s)
        else:
            raise PoseFormatError(f"preset {name!r}: unknown limb {s!r} in \"sets\" (known: "
                                  f"{', '.join([*LIMB_GROUPS, *LIMB_CHAINS])})")
    return tuple(n for n in LIMB_CHAINS if n in limbs)


def _reach(name: str, data: dict, limbs: tuple[str, ...]) -> dict[int, int]:
    """{hand or foot joint: the joint it touches}: the preset's ``"reach"``, e.g. {"r_wrist": "r_hip"}."""
    reach = data.get("reach", {})
    ends = {LIMB_CHAINS[n][2] for n in limbs}
    if not isinstance(reach, dict) or any(k not in ends or not isinstance(v, str) or v not in J
                                          for k, v in reach.items()):
        raise PoseFormatError(f"preset {name!r}: \"reach\" maps the wrists or ankles of the limbs it sets to "
                              f"joints, e.g. {{\"r_wrist\": \"r_hip\"}}")
    return {J[k]: J[v] for k, v in reach.items()}


def _has_torso(pose: Pose | None) -> bool:
    return pose is not None and pose.has("neck") and (pose.has("r_hip") or pose.has("l_hip"))


def _has_upper_body(pose: Pose | None) -> bool:
    """Enough of a half-body photo's or a portrait's skeleton to size and place a gesture on: the neck and a
    shoulder or the nose (a side view's far shoulder is often not found)."""
    return pose is not None and pose.has("neck") and (pose.has("r_shoulder") or pose.has("l_shoulder")
                                                      or pose.has("nose"))


def _placement(body: np.ndarray, width: int, height: int, like: Pose | None) -> tuple[float, np.ndarray]:
    """(scale, offset) that put the body-unit preset in pixels: by ``like``'s neck and hips when it has them, by
    its neck, shoulders and nose when it has no hip (the larger of the sizes they give: a side view's shoulders
    overlap, a face turned down shortens the neck), else 80% of the image height, centred."""
    if not (_has_torso(like) or _has_upper_body(like)):
        return 0.8 * height, np.array([width / 2.0, 0.1 * height])
    neck = like.point("neck")
    if _has_torso(like):
        hip = np.mean([like.point(n) for n in ("r_hip", "l_hip") if like.has(n)], axis=0)
        scale = float(np.linalg.norm(hip - neck)) / (0.50 - 0.18)  # neck->hip spans 0.32 body units in presets
    else:
        spans = [(a, b) for a, b in (("r_shoulder", "l_shoulder"), ("neck", "r_shoulder"), ("neck", "l_shoulder"),
                                     ("neck", "nose")) if like.has(a, b)]
        scale = max(float(np.linalg.norm(like.point(b) - like.point(a)))
                    / max(float(np.linalg.norm(body[J[b]] - body[J[a]])), 1e-6) for a, b in spans)
    return scale, neck - scale * body[1]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-6)


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _two_bones(root: np.ndarray, target: np.ndarray, l1: float, l2: float, side: float):
    """(middle, end) of two bones of lengths l1, l2 from ``root`` with the end at ``target``, or as near it as
    the bones reach; the middle joint bends to ``side`` (the sign of cross(target - root, middle - root))."""
    to = target - root
    dist = float(np.clip(np.linalg.norm(to), abs(l1 - l2), l1 + l2))
    u = _unit(to)
    cos_a = float(np.clip((l1 * l1 + dist * dist - l2 * l2) / max(2 * l1 * dist, 1e-9), -1.0, 1.0))
    sin_a = np.sqrt(1.0 - cos_a * cos_a) * (1.0 if side >= 0 else -1.0)
    # y points down: rotating u by +a turns it the way cross() counts positive
    mid = root + l1 * np.array([u[0] * cos_a - u[1] * sin_a, u[0] * sin_a + u[1] * cos_a])
    return mid, root + u * dist


def _bone_length(like: Pose, whole: np.ndarray, a: int, b: int, pa: int, pb: int) -> float:
    if like.present[a] and like.present[b]:
        return float(np.linalg.norm(like.xy[b] - like.xy[a]))
    if like.present[pa] and like.present[pb]:  # hidden: the same bone on the other side
        return float(np.linalg.norm(like.xy[pb] - like.xy[pa]))
    return float(np.linalg.norm(whole[b] - whole[a]))  # both sides hidden: the body's size says


def _mirror_limb(limb: str) -> str:
    return ("l" if limb[0] == "r" else "r") + limb[1:]


TURN_ALIKE = 20.0  # degrees
TURN_MAX = 60.0  # degrees: turned further, a raised arm pointed down; it bends instead


def _inside(q: np.ndarray, width: int, height: int) -> bool:
    return bool(0 <= q[0] <= width - 1 and 0 <= q[1] <= height - 1)


def _turned_inside(root, mid, end, width: int, height: int, neck, hips):
    """(mid, end) of a limb kept in the photo with its bones whole, or as they are when they are in it. The
    editor keeps joints in the photo: a T pose's wrist past the photo's side was pulled onto its edge, a forearm
    of half its length (a newcomer review). The limb turns about its root by the least angle (up to TURN_MAX)
    that brings it in without crossing the body's midline (from the neck to ``hips``, or straight down from the
    neck); of two such turns alike (within TURN_ALIKE), the one farther from the midline, or the lower of two
    about as far out: a raised arm out, a level one down. Where no turn does (a raised arm in a photo cut close
    above the head and beside it: turned in, it crossed the face), it bends, its end on the photo's edge, its
    middle joint out."""
    if _inside(mid, width, height) and _inside(end, width, height):
        return mid, end
    down = hips - neck if hips is not None else np.array([0.0, 1.0], np.float32)
    u = _unit(down) if np.linalg.norm(down) > 1e-6 else np.array([0.0, 1.0], np.float32)
    own_side = np.sign(_cross(u, root - neck)) or np.sign(_cross(u, end - neck)) or 1.0
    found = []  # per way of turning, the least turn that brings it in
    for sign in (1.0, -1.0):
        for deg in np.arange(0.5, TURN_MAX + 0.5, 0.5):
            c, s = np.cos(np.radians(sign * deg)), np.sin(np.radians(sign * deg))
            R = np.array([[c, -s], [s, c]], np.float32)
            m, e = root + R @ (mid - root), root + R @ (end - root)
            if _inside(m, width, height) and _inside(e, width, height):
                if own_side * _cross(u, e - neck) >= 0:  # on its own side of the body
                    found.append((deg, abs(_cross(u, e - neck)), m, e))
                break
    if found:
        least = min(f[0] for f in found)
        alike = sorted((f for f in found if f[0] <= least + TURN_ALIKE), key=lambda f: -f[1])  # farthest first
        best = alike[0]
        if len(alike) > 1 and best[1] - alike[1][1] < 0.2 * float(np.linalg.norm(end - root)) \
                and alike[1][3][1] > best[3][1]:
            best = alike[1]  # as far out: the lower
        return best[2], best[3]
    target = np.array([np.clip(end[0], 0, width - 1), np.clip(end[1], 0, height - 1)], np.float32)
    l1, l2 = float(np.linalg.norm(mid - root)), float(np.linalg.norm(end - mid))
    bent = [_two_bones(root, target, l1, l2, side) for side in (1.0, -1.0)]
    # the middle joint out from the body (an elbow beside the head, not over the face), in the photo if it can be
    return max(bent, key=lambda b: (_inside(b[0], width, height) and _inside(b[1], width, height),
                                    own_side * _cross(u, b[0] - neck)))


def fit_preset(name: str, width: int, height: int, like: Pose | None = None) -> Pose:
    """The preset as a Pose in a width x height image: its gesture on ``like``'s skeleton when ``like`` has a
    torso (neck and a hip) or, in a half-body photo, a neck and a shoulder or the nose (its arms only), else the
    whole preset fitted to the image (a half-body person given a whole standing body lost their shoulders to it and
    were erased)."""
    data = _read(name)
    body = _joints(name, data)
    limbs = _limbs(name, data)
    reach = _reach(name, data, limbs)
    scale, offset = _placement(body, width, height, like)
    whole = (body * scale + offset).astype(np.float32)
    if not (_has_torso(like) or _has_upper_body(like)):
        return Pose(whole, np.ones(NUM_JOINTS, bool), width, height)
    if not _has_torso(like):  # no hip, no legs: a half-body photo is not given legs below its edge
        limbs = tuple(n for n in limbs if not n.endswith("_leg"))
    # presets are drawn facing the camera (their right side on the image's left): mirrored for a back view
    gesture = body * np.array([-1.0 if faces_away(like) else 1.0, 1.0], np.float32)
    out = like.copy()

    def at(j: int) -> np.ndarray:  # the person's joint, else the whole preset's
        return out.xy[j].copy() if out.present[j] else whole[j].copy()

    # a touch last: what it touches may be a joint another limb of the preset moves
    for limb in sorted(limbs, key=lambda n: J[LIMB_CHAINS[n][2]] in reach):
        a, m, e = (J[n] for n in LIMB_CHAINS[limb])
        pa, pm, pe = (J[n] for n in LIMB_CHAINS[_mirror_limb(limb)])
        root = at(a)  # a hidden shoulder or hip: the whole preset's, for the limb needs an anchor
        l1 = _bone_length(like, whole, a, m, pa, pm)
        l2 = _bone_length(like, whole, m, e, pm, pe)
        if e in reach:
            # a touch (hands on the hips): the end goes where it touches the person, the middle joint bends
            # as in the preset
            target = at(reach[e]) + (gesture[e] - gesture[reach[e]]) * scale
            side = _cross(gesture[e] - gesture[a], gesture[m] - gesture[a])
            mid, end = _two_bones(root, target, l1, l2, side)
        else:
            mid = root + _unit(gesture[m] - gesture[a]) * l1
            end = mid + _unit(gesture[e] - gesture[m]) * l2
            if like.present[m] and like.present[e]:  # a limb the photo shows whole stays in it, whole
                hips = [at(J[n]) for n in ("r_hip", "l_hip") if out.present[J[n]]]
                mid, end = _turned_inside(root, mid, end, width, height, at(J["neck"]),
                                          np.mean(hips, axis=0) if hips else None)
        if not out.present[a]:
            out = out.moved(a, *root)
        out = out.moved(m, *mid).moved(e, *end)
        for j in (m, e):  # a joint the photo lacks stays out of it where the preset puts it past the edge
            if not like.present[j] and not _inside(out.xy[j], width, height):
                out = out.with_present(j, False)
    return Pose(out.xy, out.present, width, height, out.confidence, out.hands)


def standing(width: int, height: int) -> Pose:
    return fit_preset("standing", width, height)
