"""Ways of putting a network's person back into the photo, compared in one run on the same renders.

    cd PROJECT && PYTHONPATH=$PWD python benchmarks/bench_paste.py --dance spgnet-5min=PATH [--dance ...]
    ... bench_paste.py --raised [dgan attention ...]      (the starters' raised arm on the kept-out photos)
    ... bench_paste.py --dance ... --views DIR             (each variant's render cut round the person, PNG)

Each pair (held-out dance frames, benchmarks/eval_person.py's pairs and scoring: SSIM / L1 on the person's box
at app resolution, PCKh of the detector on it; and "wall", the mean grey-level difference at the photo's
resolution on the wall and floor round the real person, where a rim, an outline or a ghost shows) or kept-out
photo (the raised-arm test's edit and check) is
rendered once through engine.runtime.Engine (the app's backend, precision and framing): the network's crop, the
warp engine's render and its state. Only the paste-back differs between the variants (VARIANTS), so a
difference between them is the paste's alone. "before" is the paste as it was before the paste room's change
(a moved part's whole layer repainted where it was, detail taken from the inpainted background too), kept here
(``before_silhouette``) so that the comparison stays in one run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_person as EP  # noqa: E402  (the pairs, boxes and scoring of the quality benchmark)

from engine import compositing as C  # noqa: E402
from engine.backends import warp as W  # noqa: E402
from engine.backends import warp_layers as WL  # noqa: E402
from engine.encode import PART_NAMES, body_scale  # noqa: E402


@dataclass
class Case:
    """One render's inputs to the paste: everything but the paste itself."""

    name: str
    image: np.ndarray
    target: object
    frame: object
    crop: np.ndarray
    warp: object
    wstate: object
    around: np.ndarray
    silhouette: np.ndarray
    inpainted: np.ndarray
    kept: np.ndarray


def case_for(eng, name: str, image: np.ndarray, target) -> Case:
    b, state = eng.backend, eng.state
    frame = b.target_frame(state, target)
    warp, wstate = state.cache["backdrop"]
    around, sil, inpainted, kept = b.warp_backdrop(state, target)
    return Case(name, image, target, frame, b.render_crop(state, target), warp, wstate, around, sil, inpainted,
                kept)


def before_silhouette(warp, state, target) -> np.ndarray:
    """The repaint mask as it was before: each moved part where it lands and its whole layer where it was
    (joint discs that take torso pixels included), weighted by how far it moved."""
    h, w = state.size
    repaint = np.zeros((h, w), np.float32)
    full_move = max(1.0, W.REPAINT_MOVE * body_scale(target))
    chosen = warp.choose_sources(state, target)
    for part in W.DEPTH_ORDER:
        c = chosen[PART_NAMES.index(part)]
        if c is None:
            continue
        i, layer_k, A = c
        layer = state.cache["layers"][i][layer_k]
        res = WL.warp_layer(layer, A, w, h)
        if res is None:
            continue
        _, _, x0, y0, core, moved = res
        weight = float(np.clip((moved - W.REPAINT_STILL) / full_move, 0.0, 1.0))
        if weight > 0:
            there = repaint[y0:y0 + core.shape[0], x0:x0 + core.shape[1]]
            np.maximum(there, weight * core, out=there)
            if i == 0:
                lh, lw = layer.alpha.shape
                was = repaint[layer.y0:layer.y0 + lh, layer.x0:layer.x0 + lw]
                np.maximum(was, weight * layer.alpha[:was.shape[0], :was.shape[1]], out=was)
    return repaint


def paste(c: Case, silhouette: np.ndarray, inpainted=None, kept=None) -> np.ndarray:
    if not silhouette.any():
        return c.around
    return C.composite_person(c.around, c.crop, c.frame, C.person_alpha(silhouette, c.target, c.frame, kept),
                              inpainted=inpainted)


VARIANTS = {
    "before": lambda c: paste(c, before_silhouette(c.warp, c.wstate, c.target)),
    # the repaint mask leaves out, where a part was, what the layers drawn now cover (a still torso);
    # detail from everywhere
    "mask": lambda c: paste(c, c.silhouette),
    # ... and no detail from the inpainted background (the paste room's)
    "after": lambda c: paste(c, c.silhouette, c.inpainted),
    # ... and the margin grown round what moved kept off the photo's head (the engine's paste now)
    "kept": lambda c: paste(c, c.silhouette, c.inpainted, c.kept),
}


# ----- the held-out dance pairs -------------------------------------------------------------------------------
def dance(specs: list[tuple[str, Path]], variants: list[str], build: Path, views: Path | None) -> dict:
    from engine.runtime import Engine
    from engine.weights import read_meta
    from training import metrics as M

    frames = EP.Frames(build)
    pairs = EP.make_pairs(frames)
    pck = M.PCKh()
    results = {}
    try:
        for label, path in specs:
            eng = Engine(read_meta(path).backend, device="cpu", weights=str(path))
            rows = {v: [] for v in variants}
            for src in sorted({p["source"] for p in pairs}):
                eng.set_sources([frames.image(src)], [frames.pose(src)], [frames.mask(src)])
                for p in (q for q in pairs if q["source"] == src):
                    target = frames.pose(p["target"])
                    c = case_for(eng, f"{src}-{p['target']}", frames.image(src), target)
                    box = EP.person_box(target)
                    ref_app, ref_small, _ = EP.box_views(frames.image(p["target"]), box)
                    # the wall and floor round the real person (its segmentation grown by 3% of the box's
                    # height): where a rim, an outline or a ghost of the old pose shows
                    real = (frames.mask(p["target"])[box] >= 0.5).astype(np.uint8)
                    r = max(1, round(0.03 * real.shape[0]))
                    wall = cv2.dilate(real, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) == 0
                    ref_full = frames.image(p["target"])[box].astype(np.float32)
                    for v in variants:
                        out = VARIANTS[v](c)
                        gen_app, gen_small, s = EP.box_views(out, box)
                        m = np.array([[s, 0, -s * box[1].start], [0, s, -s * box[0].start]], np.float64)
                        ok, n = pck.add(gen_app, target.transformed(m, gen_app.shape[1], gen_app.shape[0]))
                        rows[v].append(dict(p, ssim=M.ssim(ref_app, gen_app), l1=M.l1(ref_app, gen_app),
                                            ssim_small=M.ssim(ref_small, gen_small),
                                            l1_small=M.l1(ref_small, gen_small), correct=ok, joints=n,
                                            render_ms=0.0,
                                            wall=float(np.abs(out[box].astype(np.float32) - ref_full)[wall].mean())))
                        if views is not None:
                            d = views / label / v
                            d.mkdir(parents=True, exist_ok=True)
                            cv2.imwrite(str(d / f"{c.name}.png"), np.ascontiguousarray(out[box][..., ::-1]))
                    if views is not None:
                        d = views / label / "real"
                        d.mkdir(parents=True, exist_ok=True)
                        cv2.imwrite(str(d / f"{c.name}.png"),
                                    np.ascontiguousarray(frames.image(p["target"])[box][..., ::-1]))
            for v in variants:
                results[(label, v)] = rows[v]
                s = EP.summary(rows[v])["all"]
                wall = np.mean([r["wall"] for r in rows[v]])
                print(f"| {label} | {v} | {s['ssim']:.3f} / {s['l1']:.4f} / {s['pckh']:.2f} | "
                      f"{s['ssim_small']:.3f} / {s['l1_small']:.4f} | {wall:.2f} | "
                      f"{paired(rows[v], rows[variants[0]])} |", flush=True)
    finally:
        pck.close()
    return results


def paired(rows: list[dict], base: list[dict]) -> str:
    """Mean per-pair SSIM, L1 and wall L1 difference from the first variant, +- twice the standard error."""
    out = []
    for k in ("ssim", "l1", "wall"):
        d = np.array([r[k] - b[k] for r, b in zip(rows, base)])
        out.append(f"{d.mean():+.4f} \u00b1{2 * d.std(ddof=1) / np.sqrt(len(d)):.4f}" if d.any() else "0")
    return " / ".join(out)


# ----- the starters' raised arm on the kept-out photos ---------------------------------------------------------
def raised(backends: list[str], variants: list[str], views: Path | None) -> None:
    from engine.detect import PoseDetector
    from engine.runtime import Engine
    from tests.backends.test_raised_arm_real import raised_arm_cases
    from tests.engine.test_photo_kinds import arm_reads_raised

    with PoseDetector() as det:
        cases = raised_arm_cases(det)
        for backend in backends:
            eng = Engine(backend, device="cpu")
            got = {v: [] for v in variants}
            for name, img, d, target, side in cases:
                eng.set_sources([img], [d.pose], [d.mask])
                c = case_for(eng, name, img, target)
                for v in variants:
                    out = VARIANTS[v](c)
                    if arm_reads_raised(det, out, d.pose, target, side):
                        got[v].append(name)
                    if views is not None:
                        x0, y0, x1, y1 = (int(k) for k in d.pose.bbox())
                        pad = int(0.35 * (y1 - y0))
                        cut = out[max(0, y0 - pad):y1 + pad // 4, max(0, x0 - pad):x1 + pad]
                        f = views / "raised" / backend / v
                        f.mkdir(parents=True, exist_ok=True)
                        cv2.imwrite(str(f / (name.replace("/", "_") + ".png")), np.ascontiguousarray(cut[..., ::-1]))
            for v in variants:
                missed = [n for n, *_ in cases if n not in got[v]]
                print(f"| {backend} | {v} | {len(got[v])}/{len(cases)} | missed {missed} |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dance", type=EP.weights_arg, action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--raised", nargs="*", metavar="BACKEND", help="starters' raised arm (default: all networks)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--build", type=Path, default=Path("build/quality"), help="eval_person's frame cache")
    ap.add_argument("--views", type=Path, help="write every variant's render, cut round the person, here")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, project {EP.PROJECT} at {EP.commit()}; variants {a.variants}")
    if a.dance:
        print("| weights | variant | app res: SSIM / L1 / PCKh | 256 high: SSIM / L1 | wall L1 (grey levels) | "
              "paired vs first: SSIM / L1 / wall |")
        print("|---|---|---|---|---|---|")
        dance(a.dance, a.variants, a.build, a.views)
    if a.raised is not None:
        print("| starter | variant | raised arm read | |\n|---|---|---|---|")
        raised(a.raised or ["dgan", "dgan-sa", "attention", "spgnet", "pnr"], a.variants, a.views)
    return 0


if __name__ == "__main__":
    sys.exit(main())
