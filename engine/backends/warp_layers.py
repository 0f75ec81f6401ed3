"""A part layer of the warp backend and how it is warped into the output.

A layer is one body part of one reference photo, cut to its box: its pixels, its own colours spread past its
edge, its soft alpha and the ring of surroundings it carries while it stays put (engine.backends.warp builds
them when the photos are opened). Rendering moves each layer by its part's affine, a turned head's lower part
bent to the torso's move.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..encode import NUM_PARTS, fit_similarity

# A head turns whole from this share of the way from the neck to the face up; below, its neck and hair bend
# to the torso's move (turned whole, a tilted head left a wedge of background between chin and collar)
HEAD_BEND = 0.6
# A torso bends to the hips' move over this share of the way from the hips to the neck up; below the hips (a
# skirt, a long top) it moves with them. Turned whole, a torso leaning over its still hips swung what hangs below
# them the other way: a wedge of wall split a skirt from the thighs it covers (fashion-real/29, neck dragged)
TORSO_BEND = 0.35
# how much of a continuation past the photo's edge shows the photo mirrored, fading into the edge's blurred colours
# (mirrored all the way, an eye a few pixels below the top edge came back above a turned head)
MIRRORED = 0.25
# a part cut by the photo's edge: its width this many pixels inside (at most) tells whether it closes soon past it
CLOSING_ROWS = 12
# a part whose box's corners move less than this (output pixels) stays: it keeps the photo's pixels exactly (no
# inpainted hole) and shows nothing past the photo's edge (is_still)
STILL_PX = 0.05


def spread_colours(rgb: np.ndarray, hard: np.ndarray, spread: int):
    """(the mean colour of the ``hard`` pixels nearby, by a normalised blur of width ``spread``; the blur's
    weight of them, (h, w, 1)). A wide blur runs on a smaller copy (a 481-px kernel over a 4096-px photo's
    torso took 20 s)."""
    s = min(1.0, 16.0 / spread)
    num, den = rgb * hard[..., None], hard
    if s < 1:
        small = (max(1, round(hard.shape[1] * s)), max(1, round(hard.shape[0] * s)))
        num, den = (cv2.resize(a, small, interpolation=cv2.INTER_AREA) for a in (num, den))
        spread = 17
    num = cv2.GaussianBlur(num, (spread, spread), 0)
    den = cv2.GaussianBlur(den, (spread, spread), 0)
    if s < 1:
        num, den = (cv2.resize(a, (hard.shape[1], hard.shape[0]), interpolation=cv2.INTER_LINEAR) for a in (num, den))
    den = den.reshape(hard.shape)[..., None]
    return num / np.maximum(den, 1e-6), den


@dataclass
class Layer:
    """One part of one reference, cropped to the part's bounding box (ring included)."""

    rgb: np.ndarray      # (h, w, 3) float32, the photo's pixels (not premultiplied: alpha is chosen per render)
    fill: np.ndarray     # the same, with the part's own colours spread past its edge: a moved part's soft edge
                         # must not show the background it was cut from
    alpha: np.ndarray    # (h, w) float32, the part itself
    ring: np.ndarray     # (h, w) float32, what the ring of surroundings adds to alpha while the part stays put
    x0: int
    y0: int
    ring_px: float       # the ring's width: a part moved this far (pixels) or more is drawn without it
    tucked: np.ndarray   # (h, w) uint8: 1 + the part in front where the layer reaches under it, else 0
    tucked_under: tuple  # the labels in ``tucked``
    # how far the part goes on past the photo's edges that cut it, pixels (top, bottom, left, right); extended()
    beyond: tuple = (0, 0, 0, 0)
    # the photo's pixels with what it reaches under in its own colours, per set of those parts that move: built
    # once per set (a drag moves the same parts frame after frame; a 4096-px torso's copy is 100 MB)
    shown: dict = field(default_factory=dict, repr=False)
    # the layer continued past the photo's edges (part_layer): this layer's arrays are its middle
    _extended: Layer | None = field(default=None, repr=False)
    # a forearm's: what its hand holds (engine.held) with the hand, cut to its own box, drawn behind it and moved
    # rigidly about the wrist (a forearm's transform stretches along its bone; a ball held on a foreshortened one
    # became an oval); and its hand alone, drawn when the thing held comes from another reference
    held: Layer | None = field(default=None, repr=False)
    hand: Layer | None = field(default=None, repr=False)
    # (top, bottom, left, right), set on the continuation only (extended()): the photo's edges past which the part
    # goes on without end, not in a rounded end (the torso where the body goes on below a half-body photo's edge:
    # turned by a raised shoulder, a rounded end would show as a round cut with the wall below)
    open_ends: tuple = (False, False, False, False)

    @property
    def goes_on(self) -> bool:
        """Whether this is an open-ended continuation (part_layer's whole layer): drawn to wherever its open
        sides land, their last row repeated."""
        return any(o and n for o, n in zip(self.open_ends, self.beyond))

    def extended(self) -> Layer:
        """The layer continued past the photo's edges that cut it (``beyond``; part_layer builds it): a part
        the photo cuts goes on past the edge, so when it moves or turns its cut end shows more of it, not the
        edge as a straight line or a wedge of background."""
        return self if self._extended is None else self._extended

    def photo(self, gone: np.ndarray | None) -> np.ndarray:
        """The pixels a still or slightly moved layer shows: the photo's, but where it reaches under a part
        that moves (``gone``, a label lookup table), its own colours."""
        key = frozenset(k for k in self.tucked_under if gone is not None and gone[k])
        if not key:
            return self.rgb
        if self._extended is not None:  # one cache, the continuation's, whose middle this layer is
            t, _, left, _ = self.beyond
            h, w = self.alpha.shape
            return self._extended.photo(gone)[t:t + h, left:left + w]
        if key not in self.shown:
            self.shown.clear()
            under = label_lut(key)[self.tucked] > 0
            self.shown[key], = _read_only(np.where(under[..., None], self.fill, self.rgb))
        return self.shown[key]


def part_layer(rgb: np.ndarray, fill: np.ndarray, alpha: np.ndarray, ring: np.ndarray, x0: int, y0: int,
               ring_px: float, tucked: np.ndarray, beyond: tuple = (0, 0, 0, 0),
               open_ends: tuple = (False, False, False, False)) -> Layer:
    """The Layer of a part's arrays (rgb may be a view of the photo: it is copied). A part the photo's edge cuts
    (``beyond``) is continued past it here (Layer.extended): each stretch the edge cuts ends in a half ellipse
    (_rounded_end); its colours are the photo's mirrored at the edge (hair goes on as hair), fading into the
    edge's colours blurred along it (MIRRORED). Its arrays are the middle of the continuation's, one copy of its
    pixels, not two (a 4096-px half-body photo's torso is ~270 MB)."""
    tucked_under = tuple(int(v) for v in np.unique(tucked) if v)
    if not any(beyond):
        return Layer(*_read_only(rgb.copy(), fill.astype(np.float32), alpha, ring), x0, y0, ring_px,
                     *_read_only(tucked), tucked_under)
    t, b, left, r = beyond
    h, w = alpha.shape

    def pad(a, border=cv2.BORDER_REFLECT):
        return cv2.copyMakeBorder(a, t, b, left, r, border, value=0)
    rgb, fill, alpha = pad(rgb.astype(np.float32, copy=False)), pad(fill.astype(np.float32, copy=False)), \
        pad(alpha, cv2.BORDER_CONSTANT)
    middle = (slice(t, t + h), slice(left, left + w))

    # each side: its depth, the band's rows ordered away from the photo, the edge's own row
    def sides(a):
        own = a[middle]
        return ((t, a[:t, left:left + w][::-1], own[0]), (b, a[t + h:, left:left + w], own[-1]),
                (left, a[t:t + h, :left][:, ::-1].swapaxes(0, 1), own[:, 0]),
                (r, a[t:t + h, left + w:].swapaxes(0, 1), own[:, -1]))
    open_ends = tuple(bool(o and n) for o, n in zip(open_ends, beyond))
    own = alpha[middle]
    k = max(1, min(CLOSING_ROWS, min(h, w) // 4))  # where the part's width at the edge is compared
    inner = (own[min(k, h - 1)], own[max(h - 1 - k, 0)], own[:, min(k, w - 1)], own[:, max(w - 1 - k, 0)])
    for (n, band, edge), inside, open_end in zip(sides(alpha), inner, open_ends):
        if n:
            band[:] = edge if open_end else _rounded_end(edge, n, inside, k)
    if any(open_ends):
        # warped with the edge replicated (warp_layer), so the box's other sides must end at nothing: their
        # outermost row is the faint tail of the part's soft edge, or a rounded end's tip
        for open_end, a in zip(open_ends, (alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1])):
            if not open_end:
                a[:] = 0
    for a in (rgb, fill):
        for n, band, edge in sides(a):
            if n:
                k = 2 * (n // 2) + 1
                flat = cv2.GaussianBlur(np.ascontiguousarray(edge[None]), (k, 1), 0)
                d = np.minimum((np.arange(n, dtype=np.float32) + 0.5) / (MIRRORED * n), 1.0)
                fade = (d * d * (3 - 2 * d))[:, None, None]
                band[:] = band * (1 - fade) + flat * fade
    rgb, fill, alpha, ring, tucked = _read_only(rgb, fill, alpha, pad(ring, cv2.BORDER_CONSTANT), pad(tucked))
    whole = Layer(rgb, fill, alpha, ring, x0 - left, y0 - t, ring_px, tucked, tucked_under, beyond=beyond,
                  open_ends=open_ends)
    return Layer(rgb[middle], fill[middle], alpha[middle], ring[middle], x0, y0, ring_px, tucked[middle],
                 tucked_under, beyond, _extended=whole)


def held_layer(forearm: Layer, alpha: np.ndarray, ring: np.ndarray | None = None) -> Layer:
    """The layer of what a forearm's hand holds: the forearm's pixels and colours (views, no copy) under its own
    ``alpha`` and ``ring`` (the forearm's box; no ring by default), cut to where they are: warped every render,
    the forearm's whole box cost a 4096-px photo's render a tenth more."""
    ring = np.zeros_like(alpha) if ring is None else ring
    ys, xs = np.nonzero((alpha > 0) | (ring > 0))
    if not len(ys):
        ys, xs = np.array([0]), np.array([0])
    h, w = alpha.shape  # a pixel beyond, where the box's edge has one: the warp replicates its edge pixels there
    box = (slice(max(0, ys.min() - 1), min(h, ys.max() + 2)), slice(max(0, xs.min() - 1), min(w, xs.max() + 2)))
    alpha, ring = (np.ascontiguousarray(a[box], np.float32) for a in (alpha, ring))
    return Layer(forearm.rgb[box], forearm.fill[box], *_read_only(alpha, ring), forearm.x0 + box[1].start,
                 forearm.y0 + box[0].start, forearm.ring_px, *_read_only(np.zeros(alpha.shape, np.uint8)), ())


def _read_only(*arrays):
    """The arrays, made read-only: a layer's are never written once built, and a cut layer's (and the photo it
    shows) are views of its continuation's, so a write to one would change the other."""
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _rounded_end(edge: np.ndarray, depth: int, inner: np.ndarray | None = None, k: int = 1) -> np.ndarray:
    """(depth, len(edge)) alpha of what goes on past a photo's edge, its rows away from it: each stretch the edge
    cuts (alpha > 0.5) ends in a half ellipse as wide as the stretch and at most ``depth`` long, in the edge's
    own soft alpha: a rounded end, as a head or a limb has, not a column of the edge repeated. ``inner`` is the
    part's row ``k`` pixels inside the photo: where the part narrows towards the edge (the top of a head that
    grazes it) the end goes no further than the circle through both widths (a portrait's tilted head grew two
    round ears of hair, as deep as half their width, where its top touched the edge)."""
    out = np.zeros((depth, len(edge)), np.float32)
    inside = np.concatenate([[False], edge > 0.5, [False]])
    starts, ends = np.nonzero(inside[1:] & ~inside[:-1])[0], np.nonzero(~inside[1:] & inside[:-1])[0]
    wide = None if inner is None else inner > 0.5
    for s, e in zip(starts, ends):
        half = (e - s) / 2.0
        long = max(1, int(min(depth, half)))
        if wide is not None:
            # the inner row's stretch that overlaps this one most (not their union: a limb crossing the edge at a
            # slant would look narrower at the edge than inside it), and how much wider it is k pixels in
            runs = np.flatnonzero(np.diff(np.concatenate([[0], wide.astype(np.int8), [0]])))
            overlap = [(min(e, b) - max(s, a), b - a) for a, b in zip(runs[::2], runs[1::2])]
            best = max(overlap, default=(0, 0))
            a0, ak = (e - s) / 2.0, best[1] / 2.0
            if best[0] > 0 and ak > a0 + 0.5:
                # narrowing towards the edge: the circle through both widths, and how far past the edge it closes
                centre = (ak * ak - a0 * a0 + k * k) / (2.0 * k)  # its centre's distance inside the edge
                long = max(1, min(long, int(round(np.hypot(a0, centre) - centre))))
        d = (np.arange(long, dtype=np.float32) + 0.5) / long
        reach = half * np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0))  # the ellipse's half width at each row
        x = np.arange(len(edge), dtype=np.float32)[None, :] + 0.5 - (s + e) / 2.0
        out[:long] = np.maximum(out[:long], np.clip(reach[:, None] - np.abs(x) + 0.5, 0.0, 1.0))
    return out * edge[None, :]


def label_lut(labels) -> np.ndarray:
    """A uint8 lookup table that is 1 at ``labels``: lut[label_image] is their mask (np.isin is ~20x slower)."""
    lut = np.zeros(256, np.uint8)
    lut[list(labels)] = 1
    return lut


ALL_PARTS = label_lut(range(1, NUM_PARTS + 1))


def landed_corners(layer: Layer, A: np.ndarray, reach=(0, 0, 0, 0)):
    """(the layer's box corners in the photo, where they land in the target: A^-1, source -> target), (4, 2)
    each; None when A cannot be inverted. ``reach``: the box grown by this many pixels (top, bottom, left,
    right) first."""
    h, w = layer.alpha.shape
    try:
        inv = np.linalg.inv(np.vstack([A, [0, 0, 1]]))
    except np.linalg.LinAlgError:
        return None
    t, b, left, r = reach
    xa, xb, ya, yb = layer.x0 - left, layer.x0 + w + r, layer.y0 - t, layer.y0 + h + b
    corners = np.array([[xa, ya], [xb, ya], [xa, yb], [xb, yb]], np.float64)
    return corners, corners @ inv[:2, :2].T + inv[:2, 2]


def _corner_move(landed) -> float:
    """How far (output pixels) a layer's box corners move, from landed_corners."""
    corners, tc = landed
    return float(np.abs(tc - corners).max())


def is_still(layer: Layer, A: np.ndarray) -> bool:
    """Whether a layer warped by A (target -> source pixels) stays where the photo has it: its box's corners
    move less than STILL_PX in the output (placement's ``moved``). The one rule for a part that keeps the photo's
    pixels (its place not inpainted) and shows nothing past the photo's edge."""
    landed = landed_corners(layer, A)
    return landed is not None and _corner_move(landed) < STILL_PX


def placement(layer: Layer, A: np.ndarray, out_w: int, out_h: int, also: np.ndarray | None = None):
    """Where a layer warped by A (target -> source pixels) lands in the output: (M, size, x0, y0, moved) for
    cv2.warpAffine with WARP_INVERSE_MAP, ``moved`` the largest shift of its box's corners in output pixels
    (is_still's measure); or None. With ``also``, the box covers where that transform puts the layer too (a bent
    head)."""
    landed = landed_corners(layer, A)
    if landed is None:
        return None
    moved = _corner_move(landed)
    tc = landed[1]
    if layer.goes_on:  # the cut sides go on to wherever they land in the photo
        far = out_w + out_h
        reach = tuple(far if o and n else 0 for o, n in zip(layer.open_ends, layer.beyond))
        tc = np.concatenate([tc, landed_corners(layer, A, reach)[1]])
    if also is not None:
        other = landed_corners(layer, also)
        if other is not None:
            tc = np.concatenate([tc, other[1]])
    x0 = max(0, int(np.floor(tc[:, 0].min())) - 1)
    y0 = max(0, int(np.floor(tc[:, 1].min())) - 1)
    x1 = min(out_w, int(np.ceil(tc[:, 0].max())) + 2)
    y1 = min(out_h, int(np.ceil(tc[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    # output pixel (x + x0, y + y0) samples the layer at A @ [x + x0, y + y0, 1] - [layer.x0, layer.y0]
    M = A.astype(np.float64).copy()
    M[:, 2] = A[:, :2] @ np.array([x0, y0]) + A[:, 2] - np.array([layer.x0, layer.y0])
    return M, (x1 - x0, y1 - y0), x0, y0, moved


def bent_maps(layer: Layer, A: np.ndarray, bend, x0: int, y0: int, size):
    """cv2.remap maps (fixed point) of the output box (x0, y0, size) into a layer bent by ``bend`` = (B, root,
    tip, share): its own transform A from ``share`` of the way from the target's ``root`` to its ``tip`` on, the
    transform B at the root and before it, blended between (a head's neck to the torso's, a torso's waist to the
    hips'). Affine maps are linear in x and y: built from a row and a column, broadcast once."""
    B, root, tip, share = bend
    w, h = size
    xs = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    axis = (tip - root).astype(np.float32) / max(float((tip - root) @ (tip - root)), 1e-6)
    t = np.clip(((xs - root[0]) * axis[0] + (ys - root[1]) * axis[1]) / share, 0.0, 1.0)
    t = t * t * (3 - 2 * t)  # smooth at both ends: no kink
    D = (A - B).astype(np.float32)
    mx = (B[0, 0] * xs + B[0, 2] - layer.x0) + B[0, 1] * ys + t * (D[0, 0] * xs + D[0, 1] * ys + D[0, 2])
    my = (B[1, 0] * xs + B[1, 2] - layer.y0) + B[1, 1] * ys + t * (D[1, 0] * xs + D[1, 1] * ys + D[1, 2])
    return cv2.convertMaps(mx.astype(np.float32), my.astype(np.float32), cv2.CV_16SC2)


def beyond_similarity(layer: Layer, A: np.ndarray) -> float:
    """How far (pixels) a layer's box corners land from where the best similarity (shift, turn, scale) of the
    same corners would put them under A (target -> source pixels): the part's change of shape."""
    landed = landed_corners(layer, A)
    if landed is None:
        return np.inf
    src, dst = landed
    S = fit_similarity(src, dst)
    return float(np.abs(src @ S[:, :2].T + S[:, 2] - dst).max())


# Parts are resampled bicubically: bilinear resampling halves a face's detail at a half-pixel shift (the variance of
# its Laplacian, fashion-real/47: 17.8k -> 5.8k; bicubic 8.9k), and a mirrored pose, every part moved a little,
# blurred the whole person (the newcomer review). Its cost: `benchmarks/bench_warp.py --resample` (README).
RESAMPLE = cv2.INTER_CUBIC
# A part whose transform is a shift alone, within this many pixels over its box, is shifted by whole pixels: its
# pixels exactly, not resampled (half a pixel of place against all of the detail)
SNAP_PX = 0.25


def _warp(a: np.ndarray, M: np.ndarray, size, border=cv2.BORDER_CONSTANT) -> np.ndarray:
    return cv2.warpAffine(a, M, size, flags=RESAMPLE | cv2.WARP_INVERSE_MAP, borderMode=border, borderValue=0)


def snapped(layer: Layer, A: np.ndarray) -> np.ndarray:
    """A (target -> source pixels) as a shift by whole pixels when it is a shift alone within SNAP_PX over the
    layer's box, else A."""
    h, w = layer.alpha.shape
    L = A[:, :2] - np.eye(2)
    if float(np.abs(L @ np.array([[w, w, 0.0], [h, 0.0, h]])).max()) >= SNAP_PX:
        return A
    S = np.zeros((2, 3), np.float64)
    S[:, :2] = np.eye(2)
    middle = np.array([layer.x0 + w / 2, layer.y0 + h / 2])
    S[:, 2] = np.round(A[:, :2] @ middle + A[:, 2] - middle)  # the shift at the box's middle, rounded
    return S.astype(A.dtype)


def warp_layer(layer: Layer, A: np.ndarray, out_w: int, out_h: int, bend=None, gone: np.ndarray | None = None):
    """Warp a layer by A (target -> source pixels) into the output; returns (premultiplied rgb, alpha, x0, y0,
    the part's own alpha without its ring, how far it moved in pixels) or None. ``bend`` bends a part's end to
    another's move (bent_maps: a head's neck to the torso, a torso's waist to the hips). ``gone``
    (a label lookup table) marks the parts in front that move: where the layer reaches under one of them it
    shows its own colours, not the photo's, which are that part's."""
    placed = placement(layer, A, out_w, out_h, None if bend is None else bend[0])
    if placed is None:
        return None
    M, size, x0, y0, moved = placed
    if any(layer.beyond) and not is_still(layer, A):  # a part that stays shows nothing past the photo's edge
        layer = layer.extended()
        M, size, x0, y0, _ = placement(layer, A, out_w, out_h, None if bend is None else bend[0])
    # an open-ended layer's cut sides go on as their last row (part_layer ended its other sides at nothing)
    edge = cv2.BORDER_REPLICATE if layer.goes_on else cv2.BORDER_CONSTANT
    if bend is None:
        def warp(a, border=edge):
            return _warp(a, M, size, border)
    else:
        maps = bent_maps(layer, A, bend, x0, y0, size)

        def warp(a, border=edge):
            return cv2.remap(a, *maps, RESAMPLE, borderMode=border, borderValue=0)
    # the ring fades out over a move of its own width: a part that stays put shows the photo exactly
    keep_ring = max(0.0, 1.0 - moved / max(layer.ring_px, 1.0))
    def warp_alpha(a):  # bicubic overshoots a soft edge a little: alpha stays within 0..1
        return np.clip(warp(a), 0.0, 1.0)
    core = warp_alpha(layer.alpha)
    if keep_ring <= 0 or keep_ring >= 1:  # moved past its ring: its own colours; still: the photo, ring and all
        alpha = core if keep_ring <= 0 else warp_alpha(layer.alpha + layer.ring)
        rgb = np.clip(warp(layer.fill if keep_ring <= 0 else layer.photo(gone), cv2.BORDER_REPLICATE), 0, 255) \
            * alpha[..., None]
    else:
        # the part's soft edge turns from the photo's pixels to its own colours as it moves; the ring stays the
        # photo's surroundings and only fades. The ring in the part's colours (the fill reaches into it) drew a
        # grey band a ring wide round a person whose every part moved a little (dance pairs a few frames apart)
        ring = keep_ring * layer.ring
        a_core = layer.alpha[..., None]
        premult = a_core * (layer.fill + keep_ring * (layer.photo(gone) - layer.fill)) + ring[..., None] * layer.rgb
        alpha = warp_alpha(layer.alpha + ring)
        rgb = np.clip(warp(premult), 0, 255 * alpha[..., None])
    return rgb, alpha, x0, y0, core, moved


def max_at(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """canvas = max(canvas, patch placed at (x0, y0)), in place; the patch is clipped to the canvas."""
    there = canvas[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]]
    np.maximum(there, patch[:there.shape[0], :there.shape[1]], out=there)
