"""Dataset preparation speed: seconds per frame of `poseeditor-train prepare` on the shared dance video.

    python benchmarks/bench_prepare.py [VIDEO] [--frames N]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from training.prepare import prepare_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=str(SHARED / "dance-video" / "dance_train_150f.mp4"))
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="256x176")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s = prepare_dataset([Path(a.video)], Path(tmp) / "ds", size=(h, w), max_frames=a.frames)
        first = time.perf_counter() - t
        t = time.perf_counter()
        prepare_dataset([Path(a.video)], Path(tmp) / "ds", size=(h, w), max_frames=a.frames)
        again = time.perf_counter() - t
    print(f"prepare {Path(a.video).name}: {a.frames} frames at {a.size}: {first / a.frames * 1000:.0f} ms/frame "
          f"({s.get('images', '?')} images kept); re-run (nothing new) {again:.2f} s")


if __name__ == "__main__":
    main()
