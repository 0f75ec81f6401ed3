"""Warp backend render latency: p50 / p95 over a drag, with the cached source state and without it.

    python benchmarks/bench_warp.py [--resample] [PHOTO ...]

Defaults to the shared DeepFashion photo (176x256, also resized to 256x256) and a full-HD frame of the shared
dance video. A "drag" is 40 small moves of the right wrist; "cached" renders from one encode_sources, "uncached"
re-encodes the references for every move (what a drag would cost without the cache). With --resample, the cached
drag again with the parts resampled bilinearly (the engine's bicubic against it, one run, side by side).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

from engine.backends.warp import WarpBackend
from engine.detect import detect_pose
from engine.images import load_image

from benchlib import drag, pct, machine_line  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def cached_ms(img, det, n=40) -> list[float]:
    """The render times (ms) of a drag of ``n`` moves from one encode of the photo."""
    b = WarpBackend()
    targets = drag(det.pose, n)
    state = b.encode_sources([img], [det.pose], [det.mask])
    b.render(state, targets[0])  # warm-up
    ms = []
    for t in targets:
        t0 = time.perf_counter()
        b.render(state, t)
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def measure(label, img, det, n=40):
    b = WarpBackend()
    targets = drag(det.pose, n)
    cached, uncached = cached_ms(img, det, n), []
    for t in targets[:10]:
        t0 = time.perf_counter()
        b.render(b.encode_sources([img], [det.pose], [det.mask]), t)
        uncached.append((time.perf_counter() - t0) * 1000)
    p = pct
    print(f"{label:28s} {img.shape[1]:>5d}x{img.shape[0]:<5d} cached p50 {p(cached, 50):7.1f} ms  p95 "
          f"{p(cached, 95):7.1f} ms | uncached p50 {p(uncached, 50):7.1f} ms  p95 {p(uncached, 95):7.1f} ms")


def main(paths):
    resample = '--resample' in paths
    paths = [p for p in paths if p != '--resample']
    print(machine_line("warp backend render latency"))
    inputs = []
    if paths:
        inputs = [(Path(p).name, load_image(p)) for p in paths]
    else:
        women = load_image(SHARED / "fashion-sources" / "women1.jpg")
        inputs.append(("women1 padded to 256x256", cv2.copyMakeBorder(women, 0, 0, 40, 40, cv2.BORDER_REPLICATE)))
        inputs.append(("women1 own size", women))
        cap = cv2.VideoCapture(str(SHARED / "dance-video" / "dance_train_150f.mp4"))
        ok, frame = cap.read()
        if ok:
            inputs.append(("dance frame own size", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    for label, img in inputs:
        det = detect_pose(img, label)
        measure(label, img, det)
        if resample:
            from engine.backends import warp_layers

            cubic = warp_layers.RESAMPLE
            times = {}
            for turn in range(3):  # interleaved: a busy machine slows both alike
                for name, flag in (("bicubic", cubic), ("bilinear", cv2.INTER_LINEAR)):
                    warp_layers.RESAMPLE = flag
                    times.setdefault(name, []).append(pct(cached_ms(img, det, 20), 50))
            warp_layers.RESAMPLE = cubic
            c, lin = (sorted(times[n])[1] for n in ("bicubic", "bilinear"))
            print(f"{'':28s} resampling: bicubic {c:6.1f} ms, bilinear {lin:6.1f} ms, ratio {c / lin:.2f}x")



if __name__ == "__main__":
    main(sys.argv[1:])
