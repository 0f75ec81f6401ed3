"""The warp backend: moves each body part of the photo itself with DGAN's part affine transforms.

No network, no weights, any image size, tens of milliseconds: the live preview and the default engine.

encode_sources (once per set of references)
    - split the person (segmentation mask) into 10 part layers with engine.parsing's nearest-limb labels;
      each limb layer also takes a disc of the body around its two joints, so a bent elbow or knee shows no
      wedge-shaped gap between the two limb layers; each layer reaches a little under the layers drawn in
      front of it (no background showing through where two soft part edges meet), and carries a thin ring of
      the photo around the person, drawn only while the part stays put: the unchanged pose gives back the
      photo itself, with no inpainted band round the body, and a moved part takes no rim of background along;
    - inpaint the person out of the first photo to get the background (OpenCV Telea at a reduced size, pasted
      back only inside the hole).
render (every drag)
    - fit each part's affine from the target pose to the source pose (engine.encode.part_warps, with the
      mirror-limb fallback), choose per part the reference whose part looks most like the target's (multi-shot),
    - warp only each layer's bounding box and composite back to front: legs, torso, head, arms (what a hand
      holds just behind its forearm, turned and moved with the wrist but never stretched).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect import pose_mask
from ..encode import (MIN_BODY_SCALE, MIRROR_PART, NUM_PARTS, PART_LIMBS, PART_NAMES, body_scale, fit_similarity,
                      part_warps)
from ..held import held_objects
from ..parsing import PERSON_MOVES, TORSO_LABEL, grow_labels, head_axis, unsure_hands
from ..pose import J, Pose
from .contract import Backend, SourceState
from .warp_layers import (ALL_PARTS, HEAD_BEND, STILL_PX, TORSO_BEND, beyond_similarity, is_still, label_lut,
                          landed_corners, max_at, snapped, warp_layer)
from .warp_parts import DEPTH_ORDER, hole_radius, layers_for, own_labels, part_labels

INPAINT_MAX_SIDE = 512
RIM = 0.5  # of the hole's reach past the mask: the band beyond it where the inpainted background fades into the photo
# A part that moved less than REPAINT_STILL pixels keeps the photo's pixels in a network's render; from there
# the network's share grows to all of it at a move of REPAINT_MOVE of the body's size (a gradual handover: a
# one-pixel nudge must not swap a sharp arm for a network's blurred one).
REPAINT_STILL = 0.5
REPAINT_MOVE = 0.2
# A torso that only shifted, turned or changed scale (a similarity) is the photo's own part, moved: a network's
# redraw of it is a blur of the same pixels. So the network's share where it lands follows how far its shape
# changed beyond the best similarity (a torso turning, a shoulder dragged), not how far it travelled; where it
# was, the network still fills what the move uncovered. A limb's transform is a similarity by construction (two
# joints), and a limb is where the warp tears at the joints: limbs keep the travelled distance. Measured on the
# dance pairs (eval_person, 24 held-out pairs, the personal models, head and torso together): SSIM / L1 / PCKh,
# spgnet 0.746 / 0.075 / 0.86 -> 0.746 / 0.074 / 0.88, attention 0.747 / 0.077 / 0.88 -> 0.746 / 0.077 / 0.91,
# dgan 0.743 / 0.077 / 0.85 -> 0.743 / 0.076 / 0.88; by eye the braces and the ball come back.
RIGID_PARTS = ("torso",)
# The head is the photo's own wherever it lands, whatever its change of shape: a face is ~10x8 pixels of a 128x64
# crop, and every network drew a turned or tilted head as a soft pink blob with no features, where the photo's
# head moved by the warp is a face (dance pairs, personal spgnet: SSIM / L1 / PCKh 0.750 / 0.071 / 0.89 with the
# network's share by the head's change of shape, 0.748 / 0.071 / 0.89 with the photo's head; docs/backends/warp.md).
PHOTO_PARTS = ("head",)
NETWORK, PHOTO, HELD = 0, 1, 2  # whose a placed layer's pixels are in a network's render: the network's to
# repaint where it moved, the photo's (``photo_parts``), or the photo's held thing, which no repaint covers
HELD_SCALE = 1.5  # a held thing is drawn at most this much larger or smaller than in the photo (_held_scale)
def _inpaint_background(image: np.ndarray, hole: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (uint8 0/1) from its surroundings, mixed with the photo by ``weight`` ((H, W) float32: 1 is
    the fill alone) inside it. Inpainting runs at <= 512 px for speed."""
    h, w = hole.shape
    if not hole.any():
        return image.copy()
    s = min(1.0, INPAINT_MAX_SIDE / max(h, w))
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else image
    small_hole = cv2.resize(hole, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) if s < 1 else hole
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, max(3, int(6 * s + 0.5)), cv2.INPAINT_TELEA)
    if s < 1:
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    m = hole.astype(bool)
    w = weight[m][:, None]
    out[m] = (image[m] * (1.0 - w) + filled[m] * w + 0.5).astype(np.uint8)
    return out


def _held_transform(src: Pose, src_part: str, tgt: Pose, part: str) -> np.ndarray:
    """The target -> source transform of what a forearm's hand holds: turned with the forearm, scaled with the
    body, about the wrist. Across the bone at the wrist it is the forearm's own transform (engine.encode's limb
    rectangles are as wide as the body's scale says), so the sleeve meets the hand where it did; along the bone
    the forearm stretches with its length in the photo, which a ball does not have."""
    (e_s, w_s), (e_t, w_t) = PART_LIMBS[src_part], PART_LIMBS[part]
    d_s, d_t = src.xy[w_s] - src.xy[e_s], tgt.xy[w_t] - tgt.xy[e_t]
    turn = 0.0
    if np.hypot(*d_s) > 1e-6 and np.hypot(*d_t) > 1e-6:
        turn = float(np.arctan2(d_s[1], d_s[0]) - np.arctan2(d_t[1], d_t[0]))
    c, s = np.cos(turn), np.sin(turn)
    R = _held_scale(src, tgt) * np.array([[c, -s], [s, c]])
    t = src.xy[w_s].astype(np.float64) - R @ tgt.xy[w_t].astype(np.float64)
    return np.concatenate([R, t[:, None]], axis=1)


def _held_scale(src: Pose, tgt: Pose) -> float:
    """How much larger a held thing is drawn in the target: the body's scale, within HELD_SCALE either way (a
    half-body pose's scale is its shoulders', which a turn of the body narrows; the thing held does not shrink
    with them, and a shoulder dragged onto the other made it zero)."""
    s, t = body_scale(src), body_scale(tgt)
    return 1.0 if min(s, t) <= MIN_BODY_SCALE else float(np.clip(s / t, 1 / HELD_SCALE, HELD_SCALE))


def _part_shape_cost(src: Pose, tgt: Pose, part: str) -> float:
    """How unlike the target's part the source's part looks, ignoring position, rotation and overall scale.

    Limbs: foreshortening (length relative to the torso) tells how far the limb turns out of the image plane.
    Torso: shoulder width relative to torso height, and which shoulder is on which side (facing direction).
    Head: which face joints are visible and where the nose sits between the ears.
    """
    ts_s, ts_t = body_scale(src), body_scale(tgt)
    if part in PART_LIMBS:
        a, b = PART_LIMBS[part]
        if not (src.present[a] and src.present[b]):
            return 5.0  # borrowed from the mirror limb: usable, but worse than a real view
        ls = np.linalg.norm(src.xy[b] - src.xy[a]) / ts_s
        lt = np.linalg.norm(tgt.xy[b] - tgt.xy[a]) / ts_t
        return float(abs(np.log((ls + 1e-3) / (lt + 1e-3))))

    def torso_desc(p: Pose, ts):
        d = p.point("l_shoulder") - p.point("r_shoulder")
        return np.array([d[0] / ts, d[1] / ts])

    if part == "torso":
        return float(np.linalg.norm(torso_desc(src, ts_s) - torso_desc(tgt, ts_t)))
    face = [J[n] for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")]
    cost = float(np.sum(src.present[face] != tgt.present[face]))
    return cost + float(np.linalg.norm(torso_desc(src, ts_s) - torso_desc(tgt, ts_t)))


def _still(state: SourceState, chosen) -> bool:
    """A part drawn from the first photo that stays where the photo has it (warp_layers.is_still)."""
    if chosen is None or chosen[0] != 0:
        return False
    layer = state.cache["layers"][0][chosen[1]]
    return layer is not None and is_still(layer, chosen[2])


def _moves(state: SourceState, target: Pose, k: int, chosen) -> bool:
    """Whether part ``k`` moves (or is not drawn): what it leaves is uncovered. A limb the first photo has no
    pixels of (all of them what its hand holds) stays while the target keeps its joints where the photo has them:
    its bone's band was inpainted in the unchanged pose."""
    if _still(state, chosen):
        return False
    part = PART_NAMES[k]
    if state.cache["layers"][0][k] is None and part in PART_LIMBS:
        src, joints = state.poses[0], list(PART_LIMBS[part])
        if src.present[joints].all() and target.present[joints].all() and \
                np.allclose(src.xy[joints], target.xy[joints], atol=STILL_PX):
            return False
    return True


def _head_bend(state: SourceState, chosen, target: Pose):
    """(the torso's transform, the target's neck, its face centre) for a head drawn from the same reference as
    the torso, where both poses have the neck and a face joint and the head moves; else None (it turns whole)."""
    head, torso = chosen[PART_NAMES.index("head")], chosen[PART_NAMES.index("torso")]
    if head is None or torso is None or head[0] != torso[0] or _still(state, head):
        return None  # a head that stays is the photo's, whatever the torso does (bent, it would carry its ring)
    axis = head_axis(target, state.poses[head[0]])
    return None if axis is None else (torso[2], *axis, HEAD_BEND)


# the hips' move bends the torso only when it is a turn of at most BEND_TURN degrees and a scale within BEND_SCALE:
# hips swapped (a back view's, a hip dragged across) turned the skirt upside down, hips seen side-on shrank it to a
# dot (a reviewer's painted cases)
BEND_TURN = 45.0
BEND_SCALE = 1.5


def _torso_bend(state: SourceState, chosen, target: Pose):
    """(the hips' transform, the target's middle of the hips, its neck or middle of the shoulders, TORSO_BEND)
    for a torso whose transform moves what lies below the hips otherwise than the hips move (a torso leaning
    over still hips); else None (it moves whole)."""
    c = chosen[PART_NAMES.index("torso")]
    if c is None or _still(state, c):
        return None
    i, layer_k, A = c
    src, hips = state.poses[i], [J["r_hip"], J["l_hip"]]
    top = [J["neck"]] if src.present[J["neck"]] and target.present[J["neck"]] else [J["r_shoulder"],
                                                                                    J["l_shoulder"]]
    if layer_k != PART_NAMES.index("torso") or not all(p.present[j] for p in (src, target) for j in hips + top):
        return None
    vs, vt = (p.xy[hips[1]] - p.xy[hips[0]] for p in (src, target))
    ns, nt = float(np.linalg.norm(vs)), float(np.linalg.norm(vt))
    if min(ns, nt) < 1e-3 or float(vs @ vt) < np.cos(np.radians(BEND_TURN)) * ns * nt \
            or not 1 / BEND_SCALE <= nt / ns <= BEND_SCALE:
        return None  # hips turned round or side-on: their two points say nothing of what hangs below them
    B = fit_similarity(target.xy[hips].astype(np.float64), src.xy[hips].astype(np.float64)).astype(np.float32)
    layer = state.cache["layers"][i][layer_k]
    a, b = landed_corners(layer, A), landed_corners(layer, B)
    if a is None or b is None or float(np.abs(a[1][2:] - b[1][2:]).max()) < 1.0:
        return None  # the bottom of its box lands where the hips' move puts it: no bend to draw
    root = target.xy[hips].mean(0).astype(np.float64)
    return B, root, target.xy[top].mean(0).astype(np.float64), TORSO_BEND


class WarpBackend(Backend):
    name = "warp"
    title = "Warp (instant)"
    summary = ("Moves the photo's own body parts with per-part affine transforms. No training needed; "
               "fast enough to follow every drag. Uses every reference: each part from the best-matching one.")
    needs_weights = False
    multi_shot = True

    def encode_sources(self, images, poses, masks=None, *, held=None) -> SourceState:
        """``held``: each reference's ``engine.held.held_objects`` where the caller has them (a person mask drawn
        as an image, training/selfpairs.py, must move with its photo's held things, which it cannot show)."""
        masks = self.check_sources(images, poses, masks)
        # what a hand holds joins the person, and the hand's part, where the segmentation saw only part of it
        if held is None:
            held = [held_objects(img, p, m) if m is not None else None for img, m, p in zip(images, masks, poses)]
        masks = [np.maximum(m, h > 0) if m is not None else pose_mask(p) for m, h, p in zip(masks, held, poses)]
        state = SourceState(list(images), list(poses), masks)
        cores = [own_labels(img, p, m, h) for img, p, m, h in zip(images, poses, masks, held)]
        state.cache["layers"] = [layers_for(img, p, c, h) for img, p, c, h in zip(images, poses, cores, held)]
        # the hole to fill: the segmentation, plus the skeleton's own limbs, which segmentation sometimes misses
        # at hands and feet (a hand left behind at the hip after the arm moved is the worst artefact)
        first_hole = ((masks[0] >= PERSON_MOVES) | (pose_mask(poses[0]) > 0)) & ~unsure_hands(poses[0], masks[0])
        first_hole = first_hole.astype(np.uint8)
        # grown by a disc of the hole radius: a distance transform, linear in the pixels (a dilation with a
        # disc kernel took 12 s on a 4096x4096 photo where the person fills the frame)
        outside = cv2.distanceTransform(1 - first_hole, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        reach = max(1, hole_radius(poses[0])) + 0.5
        rim = RIM * reach
        first_hole = (outside <= reach + rim).astype(np.uint8)
        # past the hole's reach, a rim where the fill fades into the photo: a fast arm's motion blur reaches
        # past it as a halo, darkest next to the arm, and a fill cut off there left a dark line on the wall
        fade = np.clip((reach + rim - outside) / rim, 0.0, 1.0).astype(np.float32)
        state.cache["background"] = _inpaint_background(images[0], first_hole, fade).astype(np.float32)
        # every pixel of the hole belongs to one part: a part that moves uncovers its own pixels and only those,
        # so what did not move stays the photo, edges, fringes and all. The person's pixels are the part whose
        # layer carries them; the band round them that the nearest bone gives the torso, the part of the nearest
        # person pixel (as the layers' rings); the rest (what the mask missed and the skeleton reaches, a hand)
        # the nearest bone's. By the bones alone a sleeve's edge past its arm's reach, and the band round it,
        # were the torso's in the hole while the arm's layer carried them: a dark line where a raised arm hung.
        rows, cols = np.nonzero(first_hole.any(axis=1))[0], np.nonzero(first_hole.any(axis=0))[0]
        if len(rows):
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            box = (slice(y0, y1), slice(x0, x1))
            core = cores[0][box]
            bones = part_labels(poses[0], first_hole.astype(np.float32), box)
            grown = grow_labels(core, 2 * hole_radius(poses[0]) + 2)
            band = (bones == TORSO_LABEL) & (grown > 0) & (masks[0][box] < 0.5)
            labels = np.where(core > 0, core, np.where(band, grown, bones)).astype(np.uint8)
            if held[0] is not None and held[0][box].any():
                # a held thing's soft edge that the mask left out goes with it: a ball blurred by its bounce left
                # an orange crescent where it had been (the nearest bone there was a leg's, which stayed)
                rim = grow_labels(held[0][box], 2 * hole_radius(poses[0]) + 2)
                labels = np.where((rim > 0) & (core == 0) & (masks[0][box] < 0.5), rim, labels).astype(np.uint8)
            state.cache["hole_labels"] = (labels, y0, x0)
        state.cache["photo"] = images[0].astype(np.float32)
        return state

    def choose_sources(self, state: SourceState, target: Pose) -> list[tuple[int, int, np.ndarray] | None]:
        """Per part: (reference index, layer part index, target->source affine), or None when not drawn."""
        # masks unused: a 1x1 size is enough; only the first photo is in the target's own pixels
        warps = [part_warps(p, target, (1, 1), same_frame=i == 0) for i, p in enumerate(state.poses)]
        chosen = []
        for k, part in enumerate(PART_NAMES):
            best = None
            for i, (pw, layers, src) in enumerate(zip(warps, state.cache["layers"], state.poses)):
                if not pw.valid[k]:
                    continue
                layer_k = PART_NAMES.index(MIRROR_PART[part]) if pw.borrowed[k] else k
                if layers[layer_k] is None:
                    continue
                cost = _part_shape_cost(src, target, part) + (0.5 if pw.borrowed[k] else 0.0) + 1e-3 * i
                if best is None or cost < best[0]:
                    best = (cost, i, layer_k, pw.affines[k])
            if best is not None:  # a part that only shifts is shifted by whole pixels, for every use of its A
                # (what its hand holds has a transform of its own, about the wrist: at most half a pixel apart)
                i, layer_k, A = best[1:]
                best = (best[0], i, layer_k, snapped(state.cache["layers"][i][layer_k], A))
            chosen.append(None if best is None else best[1:])
        return chosen

    def _uncovered(self, state: SourceState, moving: np.ndarray) -> np.ndarray:
        """The photo with the parts that move (or are not drawn; ``moving``, a label lookup table) taken out:
        their pixels of the hole replaced by the inpainted background. Parts that stay put keep every pixel."""
        out = state.cache["photo"].copy()
        if "hole_labels" not in state.cache or not moving.any():
            return out
        labels, y0, x0 = state.cache["hole_labels"]
        gone = moving[labels].astype(bool)
        box = (slice(y0, y0 + labels.shape[0]), slice(x0, x0 + labels.shape[1]))
        out[box][gone] = state.cache["background"][box][gone]
        return out

    def render(self, state: SourceState, target: Pose) -> np.ndarray:
        return self.render_with_silhouette(state, target, silhouette=False)[0]

    def render_with_silhouette(self, state: SourceState, target: Pose, silhouette: bool = True, *,
                               photo_parts: tuple[str, ...] = PHOTO_PARTS, vacated: bool = True):
        """(RGB uint8 image, (H, W) float32 repaint mask, (H, W) float32 inpainted share, (H, W) float32 kept
        share), the last three None without ``silhouette``. The repaint mask is what a network should repaint: each
        moved part where it lands, and where it was less what the layers drawn now cover there, weighted from 0
        (still) to 1 (moved by REPAINT_MOVE of the body's size or more; a torso where it lands by how far its shape
        changed, RIGID_PARTS; one of ``photo_parts``, the head unless a caller names more, or what a hand holds,
        nowhere it lands, nor where it was); a part the target drops, where it was. The pixels a still part shows
        are not in it, even where the moved part's layer took them (its joint discs reach into the torso): the
        unchanged pose gives the photo back, and an unmoved torso beside a raised arm stays the photo's. The
        inpainted share is how much of each pixel is the inpainted background (a guess, with seams at its edge): no
        detail is taken from it. The kept share is how much of each pixel shows a ``photo_parts`` or held layer
        (nothing drawn over it): the network's share, grown past what moved, must not reach into it, and the repaint
        mask is nothing there. Without ``vacated`` the repaint mask holds no place a part left: what a move uncovers
        is the warp engine's inpainted background; with it, none a photo part left."""
        h, w = state.size
        if (target.height, target.width) != (h, w):
            raise ValueError(f"target pose is for {target.width}x{target.height}, the photo is {w}x{h}")
        full_move = max(1.0, REPAINT_MOVE * body_scale(target))
        chosen = self.choose_sources(state, target)
        # the parts that move (or are not drawn); another reference's layers are never still
        moving = label_lut([k + 1 for k, c in enumerate(chosen) if _moves(state, target, k, c)])
        out = self._uncovered(state, moving)
        placed = []
        # what a hand holds comes from one reference, the lowest-numbered of the chosen forearms' that hold
        # something (two photos holding the ball in different hands gave the target two balls); the other hand is
        # drawn without it
        forearms = [PART_NAMES.index(f) for f in ("r_lower_arm", "l_lower_arm")]
        holding = [chosen[k][0] for k in forearms if chosen[k] is not None and chosen[k][1] == k
                   and state.cache["layers"][chosen[k][0]][k].held is not None]
        repaint = inpainted = kept = None
        if silhouette:
            repaint = np.zeros((h, w), np.float32)
            inpainted = np.zeros((h, w), np.float32)
            kept = np.zeros((h, w), np.float32)
            if "hole_labels" in state.cache:
                labels, y0, x0 = state.cache["hole_labels"]
                inpainted[y0:y0 + labels.shape[0], x0:x0 + labels.shape[1]] = moving[labels]
        for part in DEPTH_ORDER:
            k = PART_NAMES.index(part)
            c = chosen[k]
            own = state.cache["layers"][0][k]  # the part where the photo has it
            if c is None:  # dropped by the target (a hidden joint): the network repaints where it was
                if silhouette and vacated and own is not None:
                    max_at(repaint, own.alpha, own.x0, own.y0)
                continue
            i, layer_k, A = c
            layer = state.cache["layers"][i][layer_k]
            # what the hand holds, with the hand: behind its forearm, moved rigidly about the wrist, and the photo's
            # own in a network's render, as the head is (a personal model erased the ball from the hand holding it
            # and drew an orange blur where its video's dribble had the ball most); a forearm borrowed from the
            # other side, or one whose ball another reference gives, brings its hand alone (two balls)
            sub = layer.held if layer_k == k and i == min(holding, default=i) else layer.hand
            if sub is not None:
                held = warp_layer(sub, _held_transform(state.poses[i], PART_NAMES[layer_k], target, part), w, h)
                if held is not None:
                    placed.append((held, 0.0, HELD))
            bend = _head_bend(state, chosen, target) if part == "head" else \
                _torso_bend(state, chosen, target) if part == "torso" else None
            res = warp_layer(layer, A, w, h, bend, moving if i == 0 else ALL_PARTS)
            if res is None:
                continue
            weight = float(np.clip((res[5] - REPAINT_STILL) / full_move, 0.0, 1.0))
            lands = weight
            if part in photo_parts:
                lands = 0.0
            elif part in RIGID_PARTS:
                change = beyond_similarity(state.cache["layers"][i][layer_k], A)
                lands = float(np.clip((change - REPAINT_STILL) / full_move, 0.0, 1.0))
            placed.append((res, lands, PHOTO if part in photo_parts else NETWORK))
            # where a photo part was is the warp render's too: a network repainting a turned head's old place
            # drew a second, blurred head there (a personal model's, dance frame 141 turned 20 degrees)
            if silhouette and vacated and weight > 0 and own is not None and not _still(state, c) \
                    and part not in photo_parts:
                max_at(repaint, weight * own.alpha, own.x0, own.y0)
        held_shown = np.zeros((h, w), np.float32) if silhouette and any(p[2] == HELD for p in placed) else None
        for (rgb, alpha, x0, y0, core, moved), _, whose in placed:
            box = (slice(y0, y0 + alpha.shape[0]), slice(x0, x0 + alpha.shape[1]))
            out[box] *= (1.0 - alpha)[..., None]
            out[box] += rgb
            if silhouette:  # what a layer drawn here covers of where a part was needs no repainting
                inpainted[box] *= 1.0 - alpha
                repaint[box] *= 1.0 - alpha
                kept[box] *= 1.0 - alpha
                if whose != NETWORK:
                    kept[box] += alpha
                if held_shown is not None:
                    held_shown[box] *= 1.0 - alpha
                    if whose == HELD:
                        held_shown[box] += alpha
        if silhouette:  # each moved part where it lands, its own pixels only (no ring of surroundings)
            for (rgb, alpha, x0, y0, core, moved), weight, _ in placed:
                if weight > 0:
                    max_at(repaint, weight * core, x0, y0)
            if held_shown is not None:  # nor where a held thing shows (a moved thigh's took a ball held over it);
                repaint *= 1.0 - held_shown  # a head's soft edge is left as it was measured (docs/backends/warp.md)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8), repaint, inpainted, kept


assert len(DEPTH_ORDER) == NUM_PARTS
