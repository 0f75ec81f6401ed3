"""What a perfect network would score as the app shows it: the ceiling of eval_person's figures.

The "network" here draws the real target frame, cut to the crop it would draw (at its own model size, or k
times it), and the engine composites that exactly as it does a network's picture (the repaint mask, the
photo's detail, the framing). So the rows say how much of the gap to the real frame is the networks' drawing,
and how much the model size and the compositing:

    PYTHONPATH=. python benchmarks/eval_ceiling.py [--scale 1 2] [--flow 1 2] [--build build/quality]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_person as E  # noqa: E402


def perfect(frames: E.Frames, pairs: list[dict], scale: float):
    """A ``prepare`` for eval_person.score_pairs: the network backend draws the real target frame, cut by its
    own framing (a ``scale`` times larger crop)."""
    from engine.framing import Frame

    targets = {frames.pose(p["target"]).xy.tobytes(): p["target"] for p in pairs}

    def prepare(backend):
        own = backend.target_frame

        def target_frame(state, target):
            f = own(state, target)
            h, w = f.model_size
            return f if scale == 1 else Frame(f.matrix * scale, (round(h * scale), round(w * scale)), f.photo_size)

        def render_crop(state, target):
            return target_frame(state, target).crop(frames.image(targets[target.xy.tobytes()]))

        # a network that draws the person (as weights trained on them do), not one that leans on the photo
        backend.target_frame, backend.render_crop = target_frame, render_crop
        backend.leans_on_the_photo = lambda: False
    return prepare


def moved_by_flow(frames: E.Frames, sigma: float):
    """A ``post`` for eval_person.score_pairs: the render moved onto the real target by optical flow (OpenCV DIS,
    from the target to the render, in the scored box), the flow smoothed over ``sigma`` model pixels (the box's
    height / 128), so that it carries no detail finer than a 128x64 network could predict. An oracle: the flow
    sees the target."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def post(render, pair):
        box = E.person_box(frames.pose(pair["target"]), E.SMALL)
        have, want = render[box], frames.image(pair["target"])[box]
        grey = [np.ascontiguousarray(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)) for a in (want, have)]
        flow = cv2.GaussianBlur(dis.calc(*grey, None), (0, 0), sigma * have.shape[0] / 128)
        h, w = have.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        out = render.copy()
        out[box] = cv2.remap(have, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        return out
    return post


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0, 2.0],
                    help="the perfect crop's size in multiples of the model's (default 1 2)")
    ap.add_argument("--flow", type=float, nargs="*", default=[], metavar="SIGMA",
                    help="also the warp render moved onto the target by its optical flow, smoothed over SIGMA "
                         "model pixels (docs/quality.md: 1 2)")
    ap.add_argument("--build", type=Path, default=Path("build/quality"), help="eval_person's cache folder")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    frames = E.Frames(a.build)
    pairs = E.make_pairs(frames)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {len(pairs)} pairs; project at {E.commit()}", flush=True)
    results = {"warp": {"backend": "warp", "pairs": E.score_pairs("warp", None, frames, pairs)}}
    starter = E.starters()["attention starter"]  # any network backend: only its framing and compositing count
    for scale in a.scale:
        rows = E.score_pairs("attention", starter, frames, pairs, prepare=perfect(frames, pairs, scale))
        results[f"perfect, {scale:g}x model size"] = {"backend": "-", "pairs": rows}
    for sigma in a.flow:
        rows = E.score_pairs("warp", None, frames, pairs, post=moved_by_flow(frames, sigma))
        results[f"warp moved by the target's flow, {sigma:g} model px"] = {"backend": "warp", "pairs": rows}
    for r in results.values():
        r["summary"] = E.summary(r["pairs"])
    print(E.table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
