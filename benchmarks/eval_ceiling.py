"""What a perfect network would score as the app shows it: the ceiling of eval_person's figures.

The "network" here draws the real target frame, cut to the crop it would draw (at its own model size, or k
times it), and the engine composites that exactly as it does a network's picture (the repaint mask, the
photo's detail, the framing). So the rows say how much of the gap to the real frame is the networks' drawing,
and how much the model size and the compositing:

    PYTHONPATH=. python benchmarks/eval_ceiling.py [--scale 1 2] [--build build/quality]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0, 2.0],
                    help="the perfect crop's size in multiples of the model's (default 1 2)")
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
    for r in results.values():
        r["summary"] = E.summary(r["pairs"])
    print(E.table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
