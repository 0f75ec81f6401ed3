"""Procedural people: a dataset with exact poses, masks and part labels, made in seconds, for tests and smoke runs.

Each identity is a set of looks (skin tone, hair colour and length, shirt and trouser colours and patterns,
sleeve and leg lengths, shoe colour, body build). Each image puts that person in a random plausible pose: joint
angles sampled within human limits around a standing skeleton, seen from the front or the back, at a random
scale and place in the frame, over a random background (gradient, smooth noise or simple shapes).

Body parts are drawn as capsules (limbs), a quadrilateral (torso) and an ellipse (head) in painter's order; the
same shapes write the part labels, so the parsing is exact: labels as engine.parsing (1 head, 2 torso,
3 r_upper_arm, 4 r_lower_arm, 5 l_upper_arm, 6 l_lower_arm, 7 r_thigh, 8 r_shin, 9 l_thigh, 10 l_shin; hands
and feet belong to the lower arm / shin they end, the neck to the torso). Clothes patterns live in each part's
own coordinates (along and across the limb), so a striped sleeve stays striped the same way in every pose.

Body units: y from the head top (0) to the ankles (~0.95), x across the body, the person's right at negative x
when facing the camera (as in resources/presets/standing.json).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.errors import DatasetError
from engine.fileio import check_output_folder, named_path
from engine.pose import J, NUM_JOINTS, Pose

from .dataset_format import (make_pairs, mask_path, parsing_path, read_dataset_json, save_png,
                             write_annotations, write_dataset_json, write_identities, write_pairs)

LABEL = {"head": 1, "torso": 2, "r_upper_arm": 3, "r_lower_arm": 4, "l_upper_arm": 5, "l_lower_arm": 6,
         "r_thigh": 7, "r_shin": 8, "l_thigh": 9, "l_shin": 10}

SKIN_TONES = np.array([(255, 224, 196), (241, 194, 160), (224, 172, 128), (198, 134, 90), (160, 100, 66),
                       (120, 72, 46), (86, 54, 36)], np.float32)
HAIR_COLOURS = np.array([(20, 16, 14), (60, 38, 24), (110, 70, 40), (200, 160, 90), (150, 60, 30),
                         (170, 170, 170)], np.float32)


# ================================================================================================================
# Looks (one per identity)
# ================================================================================================================
@dataclass
class Material:
    colour: np.ndarray           # RGB float
    pattern: str = "solid"       # solid | stripes | checks
    colour2: np.ndarray | None = None
    period: float = 0.05         # pattern period in body units
    along: bool = True           # stripes across the limb (True) or along it

    def paint(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Colours at part coordinates u (along), v (across), in body units: (N, 3)."""
        if self.pattern == "solid" or self.colour2 is None:
            return np.broadcast_to(self.colour, (len(u), 3)).copy()
        if self.pattern == "stripes":
            k = np.floor((u if self.along else v) / self.period).astype(np.int64) & 1
        else:
            k = (np.floor(u / self.period).astype(np.int64) + np.floor(v / self.period).astype(np.int64)) & 1
        return np.where(k[:, None] == 1, self.colour2[None], self.colour[None])


@dataclass
class Look:
    skin: Material
    hair: Material
    shirt: Material
    trousers: Material
    shoes: Material
    long_sleeves: bool
    shorts: bool
    long_hair: bool
    shoulder: float   # half shoulder width
    hip: float        # half hip width
    thick: float      # limb thickness factor
    arm: float        # arm length factor
    leg: float        # leg length factor


def _random_colour(rng, sat=(0.3, 0.9), val=(0.25, 0.95)) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _cloth(rng) -> Material:
    pattern = rng.choice(["solid", "solid", "stripes", "checks"])
    c1 = _random_colour(rng)
    c2 = _random_colour(rng) if pattern != "solid" else None
    if c2 is not None and np.abs(c1 - c2).sum() < 120:  # a pattern must be visible
        c2 = 255.0 - c1
    return Material(c1, str(pattern), c2, float(rng.uniform(0.03, 0.07)), bool(rng.random() < 0.7))


def random_look(rng) -> Look:
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.93, 1.05)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    return Look(
        skin=Material(np.clip(skin, 0, 255)), hair=Material(np.clip(hair, 0, 255)),
        shirt=_cloth(rng), trousers=_cloth(rng),
        shoes=Material(_random_colour(rng, sat=(0.0, 0.5), val=(0.05, 0.5))),
        long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.25), long_hair=bool(rng.random() < 0.4),
        shoulder=float(rng.uniform(0.095, 0.13)), hip=float(rng.uniform(0.06, 0.08)),
        thick=float(rng.uniform(0.85, 1.2)), arm=float(rng.uniform(0.93, 1.07)), leg=float(rng.uniform(0.95, 1.05)))


# ================================================================================================================
# Poses (one per image)
# ================================================================================================================
UPPER_ARM, LOWER_ARM, THIGH, SHIN = 0.145, 0.13, 0.225, 0.225
TORSO = 0.32           # neck to hip centre
HEAD_CENTRE = 0.105    # above the neck
HEAD_AXES = (0.058, 0.075)


def _rot(v, angle):
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass
class Body:
    """A posed skeleton in body units, front view (person's right at negative x), plus the head's frame."""

    joints: np.ndarray     # (18, 2)
    head_centre: np.ndarray
    head_angle: float
    facing_back: bool


def random_body(rng, look: Look) -> Body:
    deg = math.radians
    relaxed = rng.random() < 0.3  # a share of near-standing poses, as in real photo collections
    lean = float(np.clip(rng.normal(0, deg(4)), -deg(12), deg(12)))
    tilt = float(rng.uniform(-deg(15), deg(15)))
    hipc = np.array([0.0, 0.5])
    up = _rot(np.array([0.0, -1.0]), lean)
    across = _rot(np.array([1.0, 0.0]), lean)
    neck = hipc + TORSO * up
    xy = np.zeros((NUM_JOINTS, 2))
    xy[J["neck"]] = neck
    for side, sgn in (("r", -1.0), ("l", 1.0)):
        sh = neck + sgn * look.shoulder * across - 0.01 * up
        hp = hipc + sgn * look.hip * across
        xy[J[f"{side}_shoulder"]], xy[J[f"{side}_hip"]] = sh, hp
        # angles from straight down, positive away from the body; the elbow/knee adds its own bend
        if relaxed:
            a_up, a_el = rng.uniform(deg(3), deg(25)), rng.uniform(-deg(5), deg(25))
            a_th, a_kn = rng.uniform(deg(0), deg(10)), rng.uniform(-deg(5), deg(8))
        else:
            a_up, a_el = rng.uniform(-deg(30), deg(175)), rng.uniform(-deg(100), deg(145))
            a_th, a_kn = rng.uniform(-deg(12), deg(45)), rng.uniform(-deg(30), deg(45))
        fore = rng.uniform(0.75, 1.0, 4) if not relaxed else np.ones(4)  # out-of-plane shortening

        def limb(start, angle, length):
            d = np.array([sgn * math.sin(angle - lean * sgn), math.cos(angle - lean * sgn)])
            return start + length * d

        el = limb(sh, a_up, UPPER_ARM * look.arm * fore[0])
        wr = limb(el, a_up + a_el, LOWER_ARM * look.arm * fore[1])
        kn = limb(hp, a_th, THIGH * look.leg * fore[2])
        an = limb(kn, a_th + a_kn, SHIN * look.leg * fore[3])
        xy[J[f"{side}_elbow"]], xy[J[f"{side}_wrist"]] = el, wr
        xy[J[f"{side}_knee"]], xy[J[f"{side}_ankle"]] = kn, an
    head_angle = lean + tilt
    hu = _rot(np.array([0.0, -1.0]), head_angle)
    ha = _rot(np.array([1.0, 0.0]), head_angle)
    hc = neck + HEAD_CENTRE * hu
    xy[J["nose"]] = hc - 0.005 * hu
    xy[J["r_eye"]], xy[J["l_eye"]] = hc + 0.01 * hu - 0.025 * ha, hc + 0.01 * hu + 0.025 * ha
    xy[J["r_ear"]], xy[J["l_ear"]] = hc - 0.005 * hu - 0.05 * ha, hc - 0.005 * hu + 0.05 * ha
    back = bool(rng.random() < 0.35)
    if back:  # seen from behind: the person's right is on the image's right
        xy[:, 0] = -xy[:, 0]
        hc = hc * np.array([-1.0, 1.0])
        head_angle = -head_angle
    return Body(xy, hc, head_angle, back)


# ================================================================================================================
# Rendering
# ================================================================================================================
def _background(rng, h: int, w: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:  # linear gradient between two colours
        a, b = _random_colour(rng, (0, 0.6)), _random_colour(rng, (0, 0.6))
        ang = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (xs * math.cos(ang) + ys * math.sin(ang))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        img = a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]
    elif kind == 1:  # smooth colour noise
        g = rng.uniform(40, 220, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3)).astype(np.float32)
        img = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # flat colour with simple shapes
        img = np.empty((h, w, 3), np.float32)
        img[:] = _random_colour(rng, (0, 0.5))
        for _ in range(int(rng.integers(2, 7))):
            c = tuple(float(v) for v in _random_colour(rng, (0, 0.8)))
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(4, w // 2 + 5)),
                                              y0 + int(rng.integers(4, h // 2 + 5))), c, -1)
            else:
                cv2.circle(img, (x0, y0), int(rng.integers(3, max(4, w // 3))), c, -1)
    return img


class _Canvas:
    """Image and labels being painted; parts painted later cover earlier ones."""

    def __init__(self, background: np.ndarray, scale: float):
        self.img = background
        self.h, self.w = background.shape[:2]
        self.labels = np.zeros((self.h, self.w), np.uint8)
        self.scale = scale  # pixels per body unit
        self.ys, self.xs = np.mgrid[0:self.h, 0:self.w].astype(np.float32)

    def paint(self, inside: np.ndarray, label: int, colours: np.ndarray, shade: np.ndarray) -> None:
        self.img[inside] = colours * shade[:, None]
        self.labels[inside] = label

    def limb(self, a, b, radius, label, mat_a, mat_b=None, split=None, extend=0.0):
        """A capsule from a to b (pixels), lengthened by ``extend`` body units; mat_b beyond ``split`` (units
        along the limb from a)."""
        d = b - a
        length = float(np.hypot(*d))
        if length < 1e-6:
            d, length = np.array([0.0, 1.0]), 1e-6
        t = d / length
        end = length + extend * self.scale
        rel_x, rel_y = self.xs - a[0], self.ys - a[1]
        u = rel_x * t[0] + rel_y * t[1]
        v = -rel_x * t[1] + rel_y * t[0]
        uc = np.clip(u, 0, end)
        dist = np.hypot(u - uc, v)
        r = radius * self.scale
        inside = dist <= r
        if not inside.any():
            return
        uu, vv = u[inside] / self.scale, v[inside] / self.scale
        colours = mat_a.paint(uu, vv)
        if mat_b is not None and split is not None:
            beyond = uu > split
            if beyond.any():
                colours[beyond] = mat_b.paint(uu[beyond], vv[beyond])
        shade = 1.0 - 0.3 * np.clip(np.abs(vv) / radius, 0, 1) ** 2
        self.paint(inside, label, colours, shade)


def render_person(body: Body, look: Look, size: tuple[int, int], rng,
                  scene: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, Pose]:
    """(RGB uint8 image, labels uint8, Pose) of one procedural person at ``size`` (H, W), over ``scene`` when
    given (float32 H x W x 3), else over a random background."""
    h, w = size
    th = look.thick
    r_arm, r_fore, r_thigh, r_shin = 0.033 * th, 0.027 * th, 0.046 * th, 0.036 * th
    # the figure's extent (head top, hands and feet included) in body units, to fit it into the frame
    xy = body.joints
    ext = [xy, body.head_centre[None] + np.array([[-0.08, -0.08], [0.08, 0.08]])]
    for side in ("r", "l"):
        for a, b, ex in ((f"{side}_elbow", f"{side}_wrist", 0.06), (f"{side}_knee", f"{side}_ankle", 0.05)):
            d = xy[J[b]] - xy[J[a]]
            ext.append(xy[J[b]] + ex * d / max(np.linalg.norm(d), 1e-6) + 0.04 * np.array([[-1, -1], [1, 1]]))
    pts = np.concatenate(ext)
    lo, hi = pts.min(0), pts.max(0)
    span = hi - lo
    scale = min(h * rng.uniform(0.62, 0.9) / span[1], w * 0.94 / max(span[0], 1e-6))
    room = np.array([w, h]) - span * scale
    offset = np.array([rng.uniform(0, max(room[0], 0)), rng.uniform(0, max(room[1], 0))]) - lo * scale
    # pixel centres: a body point p is drawn at p * scale + offset - 0.5 (a pixel's centre is its index)
    px = xy * scale + offset - 0.5
    head = body.head_centre * scale + offset - 0.5

    background = _background(rng, h, w)  # drawn even when a scene is given: keeps the random stream the same
    if scene is not None:
        background = scene.copy()
    cv = _Canvas(background, scale)
    P = lambda n: px[J[n]]  # noqa: E731

    def arm(side):
        cv.limb(P(f"{side}_shoulder"), P(f"{side}_elbow"), r_arm, LABEL[f"{side}_upper_arm"], look.shirt)
        fore = look.shirt if look.long_sleeves else look.skin
        n = np.linalg.norm(P(f"{side}_wrist") - P(f"{side}_elbow")) / scale
        cv.limb(P(f"{side}_elbow"), P(f"{side}_wrist"), r_fore, LABEL[f"{side}_lower_arm"], fore, look.skin,
                split=n, extend=0.06)

    def leg(side):
        cv.limb(P(f"{side}_hip"), P(f"{side}_knee"), r_thigh, LABEL[f"{side}_thigh"], look.trousers)
        n = np.linalg.norm(P(f"{side}_ankle") - P(f"{side}_knee")) / scale
        shin = look.skin if look.shorts else look.trousers
        cv.limb(P(f"{side}_knee"), P(f"{side}_ankle"), r_shin, LABEL[f"{side}_shin"], shin, look.shoes,
                split=n, extend=0.05)

    def torso():
        quad = np.array([P("r_shoulder"), P("l_shoulder"), P("l_hip"), P("r_hip")])
        c = quad.mean(0)
        # widen by a limb radius sideways and a little up/down so the torso meets arms and legs
        down = (quad[2] + quad[3]) / 2 - (quad[0] + quad[1]) / 2
        down /= max(np.linalg.norm(down), 1e-6)
        side = np.array([down[1], -down[0]])
        sgn = np.sign((quad - c) @ side)[:, None]
        grown = quad + sgn * side * 0.02 * scale + np.array([[-1], [-1], [1], [1]]) * down * 0.02 * scale
        m = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(m, np.round(grown * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
        inside = m.astype(bool)
        if inside.any():
            rel = np.stack([cv.xs[inside] - P("neck")[0], cv.ys[inside] - P("neck")[1]], 1)
            uu, vv = rel @ down / scale, rel @ side / scale
            half = max(np.linalg.norm(quad[0] - quad[1]) / 2 / scale, 1e-3)
            shade = 1.0 - 0.25 * np.clip(np.abs(vv) / (half + 0.02), 0, 1) ** 2
            cv.paint(inside, LABEL["torso"], look.shirt.paint(uu, vv), shade)
        # the neck, skin, between the shoulders and the head
        cv.limb(P("neck"), P("neck") + (head - P("neck")) * 0.6, 0.022, LABEL["torso"], look.skin)

    def draw_head():
        ax, ay = HEAD_AXES[0] * scale, HEAD_AXES[1] * scale
        ang = body.head_angle
        rel_x, rel_y = cv.xs - head[0], cv.ys - head[1]
        c, s = math.cos(ang), math.sin(ang)
        hx = (rel_x * c + rel_y * s) / ax          # across the head, in half-widths
        hy = (-rel_x * s + rel_y * c) / ay         # down the head, in half-heights
        ell = hx ** 2 + hy ** 2 <= 1.0
        # long hair hangs behind the head, below the ears: still part of the head label
        hang = look.long_hair & (np.abs(hx) <= 1.05) & (hy > 0) & (hy <= 1.9) & ~ell
        inside = ell | hang
        if not inside.any():
            return
        hxs, hys = hx[inside], hy[inside]
        colours = np.broadcast_to(look.skin.colour, (len(hxs), 3)).copy()
        if body.facing_back:
            hairy = np.ones(len(hxs), bool)
        else:
            hairy = (hys < -0.35) | (np.abs(hxs) > 0.85) | (hys > 1.0)
        colours[hairy] = look.hair.colour
        shade = 1.0 - 0.25 * np.clip(hxs ** 2 + np.minimum(hys, 1) ** 2, 0, 1)
        cv.paint(inside, LABEL["head"], colours, shade)
        if not body.facing_back:  # eyes and mouth make the facing direction visible
            eye_r = max(0.6, 0.008 * scale)
            for n in ("r_eye", "l_eye"):
                cv2.circle(cv.img, tuple(int(round(v)) for v in P(n)), int(round(eye_r)), (30, 25, 25), -1)
            mouth = head + _rot(np.array([0.0, 0.45 * ay]), ang)
            cv2.ellipse(cv.img, tuple(int(round(v)) for v in mouth),
                        (max(1, int(0.25 * ax)), max(1, int(0.06 * ay))), math.degrees(ang), 0, 360,
                        (150, 60, 60), -1)

    if body.facing_back:  # from behind, the arms are behind the body
        order = [lambda: arm("r"), lambda: arm("l"), lambda: leg("r"), lambda: leg("l"), torso, draw_head]
    else:
        order = [lambda: leg("r"), lambda: leg("l"), torso, draw_head, lambda: arm("r"), lambda: arm("l")]
    for step in order:
        step()

    img = cv.img + rng.normal(0, 3.0, cv.img.shape).astype(np.float32)  # a little sensor noise
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    present = np.ones(NUM_JOINTS, bool)
    if body.facing_back:  # the face is hidden
        for n in ("nose", "r_eye", "l_eye"):
            present[J[n]] = False
    inside = (px[:, 0] >= 0) & (px[:, 0] <= w - 1) & (px[:, 1] >= 0) & (px[:, 1] <= h - 1)
    pose = Pose(px, present & inside, w, h)
    return img, cv.labels, pose


def synth_image(seed: int, identity: int, index: int, size: tuple[int, int]):
    """One image of one procedural person: (image, labels, pose). Deterministic in its arguments."""
    look = random_look(np.random.default_rng([seed, identity]))
    # One scene per person, as in the frames of one video or one studio's photos: a pose-transfer network
    # can then learn the background from the source instead of guessing it (it is unpredictable otherwise).
    scene = _background(np.random.default_rng([seed, identity, 0]), *size)
    rng = np.random.default_rng([seed, identity, index + 1])
    return render_person(random_body(rng, look), look, size, rng, scene)


# ================================================================================================================
# The dataset
# ================================================================================================================
def _split_identities(n: int) -> list[str]:
    """'train' or 'test' per identity: the last ~20% are test (at least one when there are two or more)."""
    n_test = 0 if n < 2 else max(1, round(0.2 * n))
    return ["train"] * (n - n_test) + ["test"] * n_test


def make_synthetic_dataset(out: Path, identities: int, poses_per_identity: int, size=(128, 64), seed: int = 0,
                           progress=None) -> dict:
    """Write a synthetic dataset in the format of training/dataset_format.py; returns a summary dict.

    Identities ``0000``... are split by identity (the last ~20% are test). With one identity, its poses are split
    instead (the last ~20% are test). An existing folder is never overwritten: the same command again finds the
    dataset already there and returns; anything else in a non-empty folder is an error.
    """
    out = Path(out)
    size = (int(size[0]), int(size[1]))
    if identities < 1 or poses_per_identity < 2:
        raise DatasetError("synth needs at least 1 identity and 2 poses per identity (pairs need two images)")
    if min(size) < 16:
        raise DatasetError(f"image size {size[0]}x{size[1]} is too small (at least 16 pixels a side)")
    params = {"identities": int(identities), "poses_per_identity": int(poses_per_identity), "seed": int(seed)}
    check_output_folder(out, (), "dataset folder")
    if out.exists() and any(out.iterdir()):
        info = read_dataset_json(out) if (out / "dataset.json").exists() else None
        if info and info.get("synth") == params and info.get("image_size") == list(size):
            return {"out": str(out), "images": info["images"], "identities": info["identities"],
                    "already_done": True, "seconds": 0.0}
        raise DatasetError(f"{out}: folder is not empty; synth writes only into a new or empty folder")
    t0 = time.perf_counter()
    for sub in ("images", "masks", "parsing"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    poses, idents = {}, {}
    pairs = {"train": [], "test": []}
    split_of = _split_identities(identities)
    total = identities * poses_per_identity
    for i in range(identities):
        ident = f"{i:04d}"
        names = []
        for k in range(poses_per_identity):
            img, labels, pose = synth_image(seed, i, k, size)
            name = f"{ident}_{k:03d}.png"
            save_png(out / "images" / name, img)
            save_png(mask_path(out, name), np.where(labels > 0, 255, 0).astype(np.uint8))
            save_png(parsing_path(out, name), labels)
            poses[name], idents[name] = pose, ident
            names.append(name)
            if progress:
                progress(i * poses_per_identity + k + 1, total, name)
        usable = {n for n in names if poses[n].torso_valid()}
        if identities == 1:
            cut = len(names) - (max(2, round(0.2 * len(names))) if len(names) >= 6 else 0)
            pairs["train"] += make_pairs(names[:cut], usable)
            pairs["test"] += make_pairs(names[cut:], usable)
        else:
            pairs[split_of[i]] += make_pairs(names, usable)
    write_annotations(out / "annotations.csv", poses)
    for s in ("train", "test"):
        write_pairs(out / f"pairs-{s}.csv", pairs[s])
    write_identities(out / "identities.csv", idents)
    write_dataset_json(out, size, identities, total, "synthetic", "poseeditor-train synth", synth=params)
    return {"out": str(out), "images": total, "identities": identities, "pairs_train": len(pairs["train"]),
            "pairs_test": len(pairs["test"]), "seconds": round(time.perf_counter() - t0, 3)}


# ================================================================================================================
# CLI (mounted by training/cli.py as `poseeditor-train synth`)
# ================================================================================================================
def parse_size(text: str) -> tuple[int, int]:
    """'256x176' -> (256, 176): height x width, as the dataset's image_size."""
    import argparse

    try:
        h, w = (int(v) for v in str(text).lower().replace("*", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 256x176, not {text!r}") from None
    if h < 16 or w < 16 or h > 4096 or w > 4096:
        raise argparse.ArgumentTypeError(f"size {h}x{w} is out of range (16..4096 a side)")
    return h, w


def int_in(lo: int, hi: int):
    """An argparse type: a whole number in lo..hi (a one-line usage error otherwise)."""
    import argparse

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range ({lo}..{hi})")
        return v

    parse.__name__ = "whole number"
    return parse


def add_arguments(parser) -> None:
    parser.description = "Write a dataset of procedural people with exact poses, masks and part labels."
    parser.add_argument("-o", "--out", required=True, type=named_path, help="new dataset folder")
    parser.add_argument("--identities", type=int_in(1, 100_000), default=20, help="number of people (default 20)")
    parser.add_argument("--poses-per-identity", type=int_in(2, 10_000), default=10,
                        help="images per person (default 10)")
    parser.add_argument("--size", type=parse_size, default=(128, 64), help="HEIGHTxWIDTH (default 128x64)")
    parser.add_argument("--seed", type=int_in(0, 2 ** 63 - 1), default=0, help="random seed (same seed, same dataset)")


def run(args) -> int:
    s = make_synthetic_dataset(args.out, args.identities, args.poses_per_identity, args.size, args.seed)
    if s.get("already_done"):
        print(f"{s['out']}: already holds this synthetic dataset ({s['images']} images); nothing to do")
    else:
        print(f"{s['out']}: {s['images']} images of {s['identities']} people, {s['pairs_train']} train / "
              f"{s['pairs_test']} test pairs in {s['seconds']:.1f} s")
    return 0
