"""Quality as the app shows it: a person reposed in the full photo, scored on the person's box.

    cd PROJECT && PYTHONPATH=$PWD nice -n 10 python benchmarks/eval_person.py --starters
    ... eval_person.py --weights spgnet-10min=run.safetensors [--weights NAME=PATH ...]
    ... eval_person.py --personalize 10 [--parallel 2] [--backends spgnet attention] [--personalize-args '...']

The project code is the one on PYTHONPATH (this file may be run from another checkout, one that has
engine.framing.person_box: from 2026-12-05 night on). Pairs (source frame,
target frame) come only from the held-out frames of the shared dance video (benchmarks/heldout.json). For each
pair: the source frame at full resolution goes through the app's calls (the mediapipe detector, then
engine.runtime.Engine(backend, weights): set_sources, render, with the app's compositing); the target pose is
the pose detected on the target frame (same camera, same pixel frame). The target person's box (the crop the
engine frames a person with, engine.framing.frame_for, at 1:2) is cut out of the render and of the real
target frame and scored with training/metrics.py: SSIM and L1 at the box's own resolution (long side capped
at 512 px, for time) and at 256 px high (the issue's 256x128; a box the photo's edge cuts keeps its
aspect), PCKh of the mediapipe detector run on the rendered box against the
target pose. "far" is the third of the pairs whose target pose is least like any training frame's (0-99).

The warp backend is always scored; every network is printed beside it with the differences. Frames and
detections are cached in --build (default build/quality); per-pair figures and the box crops go there too.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

import engine  # the project under test: whatever PYTHONPATH points at
from engine.framing import person_box  # the target person's box: the app's refiner works in the same one

PROJECT = Path(engine.__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSEEDITOR_SHARED_DATA", PROJECT.parent / "shared" / "data"))
HELDOUT = PROJECT / "benchmarks" / "heldout.json"
SOURCES = 3          # source frames, spread over the held-out range
TARGETS = 8          # targets per source
APP_SIDE = 512       # the box's long side is capped at this for the "app resolution" figures (time)
SMALL = (256, 128)   # the figures
FAR_SHARE = 1 / 3    # the pairs whose target is furthest from every training pose


# ----- frames, detections, pairs (cached) ----------------------------------------------------------------------
def split() -> dict:
    return json.loads(HELDOUT.read_text())


def _pose_json(pose) -> dict:
    return {"pose": pose.to_openpose(), "hands": {str(k): v.tolist() for k, v in pose.hands.items()}}


def _pose_from(d: dict, w: int, h: int):
    from engine.pose import Pose

    pose = Pose.from_openpose(d["pose"], w, h)
    pose.hands = {int(k): np.asarray(v, np.float32) for k, v in d["hands"].items()}  # as the app's detection has
    return pose


class Frames:
    """The dance video's frames and their detections, decoded and detected once, kept in ``build``."""

    def __init__(self, build: Path):
        s = split()
        self.video = SHARED / s["dance_video"]
        if not self.video.is_file():
            raise SystemExit(f"{self.video}: the shared dance video is not there")
        self.train = list(range(*s["dance_frames"]["train"]))
        self.heldout = list(range(*s["dance_frames"]["heldout"]))
        self.dir = build / "frames"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._poses_file = build / "poses.json"
        stamp = f"{self.video.stat().st_size}:{int(self.video.stat().st_mtime)}:hands"  # detections with hands
        cached = json.loads(self._poses_file.read_text()) if self._poses_file.is_file() else {}
        self._poses = cached.get("poses", {}) if cached.get("video") == stamp else {}
        self._stamp = stamp
        self._size = tuple(cached.get("size", (0, 0)))
        self._images: dict[int, np.ndarray] = {}

    def image(self, i: int) -> np.ndarray:
        if i not in self._images:
            from engine.images import load_image, save_image

            p = self.dir / f"{i:03d}.png"
            if not p.is_file():
                from training.video import read_frames

                for _, img in read_frames(self.video, [i]):
                    save_image(p, img)
            self._images[i] = load_image(p)
        return self._images[i]

    def mask(self, i: int) -> np.ndarray:
        p = self.dir / f"{i:03d}-mask.npz"
        if not p.is_file():
            self.detect([i], masks=True)
        with np.load(p, allow_pickle=False) as z:
            return z["mask"].astype(np.float32)

    def detect(self, frames, masks: bool = False) -> None:
        """Detect (once) the frames not yet cached; all at once, one detector, frames decoded in order."""
        todo = [i for i in frames if str(i) not in self._poses or
                (masks and not (self.dir / f"{i:03d}-mask.npz").is_file())]
        if not todo:
            return
        from engine.detect import PoseDetector, native_stderr_silenced
        from training.video import read_frames

        with native_stderr_silenced(), PoseDetector() as det:
            for i, img in read_frames(self.video, todo):
                d = det.detect(img, f"frame {i}")
                self._poses[str(i)] = _pose_json(d.pose)
                self._size = (img.shape[1], img.shape[0])
                if masks:
                    from engine.fileio import atomic_output

                    with atomic_output(self.dir / f"{i:03d}-mask.npz", "mask", ".npz") as tmp:
                        np.savez_compressed(tmp, mask=d.mask.astype(np.float16))
        from engine.fileio import atomic_write_text

        atomic_write_text(self._poses_file, json.dumps({"video": self._stamp, "size": self._size,
                                                        "poses": self._poses}), "detections")

    def pose(self, i: int):
        self.detect([i])
        return _pose_from(self._poses[str(i)], *self._size)


def normalised(pose) -> np.ndarray:
    """Joints relative to the torso's centre, in units of the body's size (camera distance and place out)."""
    from engine.encode import body_scale

    centre = np.mean([pose.point(n) for n in ("neck", "r_hip", "l_hip") if pose.has(n)] or [pose.xy[pose.present].mean(0)], 0)
    return (pose.xy - centre) / max(body_scale(pose), 1e-6)


def novelty(pose, train_poses) -> float:
    """Mean joint distance (body units) to the nearest training pose, over the joints both have."""
    a = normalised(pose)
    best = np.inf
    for t in train_poses:
        both = pose.present & t.present
        if both.any():
            best = min(best, float(np.linalg.norm(a[both] - normalised(t)[both], axis=1).mean()))
    return best


def make_pairs(frames: Frames) -> list[dict]:
    """3 sources spread over the held-out frames, 8 targets each (interleaved over the rest), each with its
    novelty; the furthest third are "far"."""
    held = frames.heldout
    pick = np.linspace(0, len(held) - 1, SOURCES + 2)[1:-1].round().astype(int)
    sources = [held[k] for k in pick]
    others = [f for f in held if f not in sources]
    step = max(1, len(others) // TARGETS)
    frames.detect(frames.train + held)
    train_poses = [frames.pose(i) for i in frames.train]
    pairs = []
    for k, s in enumerate(sources):
        for t in others[k::step][:TARGETS]:
            pairs.append({"source": s, "target": t, "novelty": novelty(frames.pose(t), train_poses)})
    cut = sorted(p["novelty"] for p in pairs)[::-1][max(1, round(FAR_SHARE * len(pairs))) - 1]
    for p in pairs:
        p["far"] = p["novelty"] >= cut
    return pairs


# ----- scoring --------------------------------------------------------------------------------------------------
def box_views(image: np.ndarray, box) -> tuple[np.ndarray, np.ndarray, float]:
    """(the box at the app's resolution capped at APP_SIDE, the box SMALL[0] high, the cap's scale). The box is
    1:2 unless the photo's edge cuts it (a person filling the frame's height): it is not stretched to 1:2."""
    crop = image[box]
    h, w = crop.shape[:2]
    s = min(1.0, APP_SIDE / max(h, w))
    app = cv2.resize(crop, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else crop.copy()
    small = cv2.resize(crop, (round(w * SMALL[0] / h), SMALL[0]), interpolation=cv2.INTER_AREA)
    return app, small, s


def score_pairs(backend: str, weights, frames: Frames, pairs: list[dict], crops: Path | None = None,
                prepare=None, post=None) -> list[dict]:
    """Per pair: ssim/l1 at app resolution and 256 high, pckh of the detector on the rendered box. ``prepare``
    (given) is called with the backend before the first render, ``post(render, pair)`` on each render before it is
    scored (benchmarks/eval_ceiling.py)."""
    from engine.runtime import Engine
    from training import metrics as M

    eng = Engine(backend, device="cpu", weights=str(weights) if weights else None)
    if prepare is not None:
        prepare(eng.backend)
    if not eng.backend.ready:
        raise SystemExit(f"{backend}: {eng.backend.weights_info.label}")
    pck = M.PCKh()
    rows = []
    try:
        for src in sorted({p["source"] for p in pairs}):
            eng.set_sources([frames.image(src)], [frames.pose(src)], [frames.mask(src)])
            for p in (q for q in pairs if q["source"] == src):
                target = frames.pose(p["target"])
                t0 = time.perf_counter()
                out = eng.render(target)
                ms = (time.perf_counter() - t0) * 1000
                if post is not None:
                    out = post(out, p)
                box = person_box(target, SMALL)
                gen_app, gen_small, s = box_views(out, box)
                ref_app, ref_small, _ = box_views(frames.image(p["target"]), box)
                # the target pose in the rendered box's pixels, for PCKh
                m = np.array([[s, 0, -s * box[1].start], [0, s, -s * box[0].start]], np.float64)
                c, n = pck.add(gen_app, target.transformed(m, gen_app.shape[1], gen_app.shape[0]))
                row = dict(p, render_ms=ms, box=[gen_app.shape[1], gen_app.shape[0]],
                           ssim=M.ssim(ref_app, gen_app), l1=M.l1(ref_app, gen_app),
                           ssim_small=M.ssim(ref_small, gen_small), l1_small=M.l1(ref_small, gen_small),
                           pckh=c / n if n else 0.0, joints=n, correct=c)
                rows.append(row)
                if crops is not None:
                    from engine.images import save_image

                    crops.mkdir(parents=True, exist_ok=True)
                    save_image(crops / f"{p['source']}-{p['target']}.png", gen_app)
    finally:
        pck.close()
    return rows


def summary(rows: list[dict]) -> dict:
    """Means over all pairs and over the far ones; PCKh pooled over joints."""
    out = {}
    for part, sel in (("all", rows), ("far", [r for r in rows if r["far"]])):
        d = {k: float(np.mean([r[k] for r in sel])) for k in ("ssim", "l1", "ssim_small", "l1_small")}
        d["pckh"] = sum(r["correct"] for r in sel) / max(1, sum(r["joints"] for r in sel))
        d["pairs"] = len(sel)
        out[part] = d
    out["render_ms"] = float(np.median([r["render_ms"] for r in rows]))
    return out


# ----- the table ------------------------------------------------------------------------------------------------
def cell(m: dict, base: dict | None, res: str) -> str:
    ssim_k, l1_k = ("ssim", "l1") if res == "app" else ("ssim_small", "l1_small")
    if base is None:
        return f"{m[ssim_k]:.3f} / {m[l1_k]:.3f} / {m['pckh']:.2f}"
    return (f"{m[ssim_k]:.3f} ({m[ssim_k] - base[ssim_k]:+.3f}) / {m[l1_k]:.3f} ({m[l1_k] - base[l1_k]:+.3f}) / "
            f"{m['pckh']:.2f} ({m['pckh'] - base['pckh']:+.2f})")


def paired(rows: list[dict], base: list[dict], key: str = "ssim") -> str:
    """The mean per-pair difference from warp on the same pairs, +- twice its standard error: whether a
    difference is more than the choice of pairs."""
    b = {(r["source"], r["target"]): r[key] for r in base}
    d = np.array([r[key] - b[(r["source"], r["target"])] for r in rows])
    return f"{d.mean():+.3f} \u00b1{2 * d.std(ddof=1) / np.sqrt(len(d)):.3f}" if len(d) > 1 else "-"


def table(results: dict) -> str:
    """One Markdown table: warp first, then each network (a backend's rows together) with its differences from
    warp in brackets, and what training took for the personalised ones."""
    warp = results["warp"]
    order = list(dict.fromkeys(r["backend"] for r in results.values()))
    results = dict(sorted(results.items(), key=lambda kv: order.index(kv[1]["backend"])))
    cols = [("all", "app"), ("all", "256"), ("far", "app"), ("far", "256")]
    head = ["weights", "backend"] + [f"{p}, {'app res' if r == 'app' else '256 high'}: SSIM / L1 / PCKh" for p, r in cols]
    trained = any(r.get("training") for r in results.values())
    head += ["SSIM - warp, paired (all, app res)", "render ms"] + (["training: steps, train s, CPU s"] if trained else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, res in results.items():
        s = res["summary"]
        cells = [cell(s[p], None if label == "warp" else warp["summary"][p], r) for p, r in cols]
        t = res.get("training")
        more = ([f"{t.get('steps', '?')}, {t.get('train_seconds', 0):.0f}, {t['cpu_seconds']:.0f}" if t else "-"]
                if trained else [])
        diff = paired(res["pairs"], warp["pairs"]) if label != "warp" and "pairs" in res else "-"
        lines.append(f"| {label} | {res['backend']} | " + " | ".join(cells) + f" | {diff} | {s['render_ms']:.0f} |"
                     + "".join(f" {x} |" for x in more))
    w = warp["summary"]
    lines.append(f"\n{w['all']['pairs']} pairs ({w['far']['pairs']} far); in brackets: the difference from warp "
                 f"(the goal: SSIM +0.03, L1 -0.01, PCKh no lower than -0.02); app res = the box at the photo's "
                 f"resolution, long side capped at {APP_SIDE} px.")
    return "\n".join(lines)


# ----- Train on This Person, as a user would run it ----------------------------------------------------------
def training_clip(frames: Frames, build: Path) -> Path:
    """The training frames (0-99) as a video clip, what a user would give the app."""
    clip = build / "dance-train.mp4"
    if clip.is_file():
        return clip
    from engine.fileio import atomic_output
    from training.video import read_frames

    with atomic_output(clip, "training clip", ".mp4") as tmp:
        vw = None
        for _, img in read_frames(frames.video, frames.train):
            if vw is None:
                vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (img.shape[1], img.shape[0]))
            vw.write(np.ascontiguousarray(img[..., ::-1]))
        vw.release()
    return clip


def personalize(backend: str, minutes: float, clip: Path, out_dir: Path, extra: list[str]) -> dict:
    """``poseeditor-train personalize CLIP --backend B --minutes M`` as a child process (the app's pipeline:
    prepare, fit from the starter, export); its wall and CPU time (with its own children), steps and best."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, work = out_dir / f"{backend}.safetensors", out_dir / f"{backend}.work"
    log = out_dir / f"{backend}.log"
    # run in out_dir: "python -m" puts the working folder first on sys.path, before PYTHONPATH's project
    cmd = [sys.executable, "-m", "training.cli", "personalize", str(clip.resolve()), "--backend", backend,
           "--minutes", f"{minutes:g}", "-o", str(weights), "--work", str(work), *extra]
    t = time.perf_counter()
    with open(log, "w") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=out_dir)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    row = {"backend": backend, "weights": str(weights), "seconds": time.perf_counter() - t,
           "cpu_seconds": usage.ru_utime + usage.ru_stime, "log": str(log)}
    if proc.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"personalize {backend} failed ({log}): {' '.join(tail)}")
    stats = sorted((work / "runs").glob("*/stats.jsonl"), key=lambda p: p.stat().st_mtime)
    if stats:
        rows = [json.loads(x) for x in stats[-1].read_text().splitlines() if x.strip()]
        done = [r for r in rows if r.get("kind") == "done"]
        row["steps"] = max(r.get("step", 0) for r in rows)
        row["train_seconds"] = max((r.get("elapsed", 0.0) for r in rows), default=0.0)
        row["best"] = (done[-1].get("best_metric") if done else None)
    return row


# ----- looking at it -------------------------------------------------------------------------------------------
VIEW_HEIGHT = 300
JPEG_LIMIT = 120_000  # bytes: the images live in git forever


def _labelled(img: np.ndarray, lines: list[str]) -> np.ndarray:
    """``img`` at VIEW_HEIGHT with its label lines on a white strip above."""
    h, w = img.shape[:2]
    img = cv2.resize(img, (max(1, round(w * VIEW_HEIGHT / h)), VIEW_HEIGHT), interpolation=cv2.INTER_AREA)
    strip = np.full((16 * len(lines) + 4, img.shape[1], 3), 255, np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(strip, text, (3, 14 + 16 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, img], 0)


def side_by_side(frames: Frames, results: dict, pair: dict, build: Path) -> np.ndarray:
    """source | real target | each scored label's render, the person's box at one height, labelled with the
    pair's SSIM / L1 at app resolution."""
    src, tgt = pair["source"], pair["target"]
    box = person_box(frames.pose(tgt))
    cols = [_labelled(frames.image(src)[person_box(frames.pose(src))], [f"source (frame {src})", ""]),
            _labelled(frames.image(tgt)[box], [f"real target ({tgt})", "far" if pair["far"] else ""])]
    for label, res in results.items():
        row = next(r for r in res["pairs"] if r["source"] == src and r["target"] == tgt)
        from engine.images import load_image

        crop = load_image(crop_dir(build, label) / f"{src}-{tgt}.png")
        cols.append(_labelled(crop, [label, f"{row['ssim']:.3f} / {row['l1']:.3f}"]))
    gap = np.full((cols[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([c for col in cols for c in (col, gap)][:-1], 1)


def write_views(frames: Frames, results: dict, build: Path, out_dir: Path) -> list[Path]:
    """Two pairs side by side as JPEGs under the size limit: an ordinary one (median novelty) and the
    furthest one from the training poses."""
    pairs = sorted(results["warp"]["pairs"], key=lambda r: r["novelty"])
    chosen = {"ordinary": pairs[len(pairs) // 2], "far": pairs[-1]}
    written = []
    for name, pair in chosen.items():
        path = out_dir / f"{name}-{pair['source']}-{pair['target']}.jpg"
        written.append(write_jpeg(side_by_side(frames, results, pair, build), path))
    return written


def write_jpeg(img: np.ndarray, path: Path) -> Path:
    """The best JPEG quality that keeps the file under JPEG_LIMIT; below quality 50, a smaller image instead."""
    from engine.fileio import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        for q in (88, 80, 70, 60, 50):
            _, data = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
            if len(data) <= JPEG_LIMIT:
                return atomic_write_bytes(path, data.tobytes(), "image")
        img = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)


# ----- first launch: the starters on kept-out photos, an arm raised -------------------------------------------
def first_launch(labels: dict, views: Path | None = None) -> str:
    """Per scored backend: on the kept-out fashion-real photos, is a person found in the render with the arm
    raised where the edit put it (the raised-arm test's own edit and check)? A Markdown table of counts; with
    ``views``, the first two photos and every backend's render side by side in ``views``/first-launch.jpg."""
    sys.path.insert(0, str(PROJECT))  # the tests' helpers of the project under test
    from engine.detect import PoseDetector, native_stderr_silenced
    from engine.errors import NoPersonError
    from engine.images import load_image
    from engine.runtime import Engine
    from tests.engine.test_photo_kinds import arm_reads_raised, raised_arm

    names = split()["photos_kept_out"]["fashion-real"]
    lines = ["| weights | photos | person found | arm found raised | unchanged pose: SSIM in the box |",
             "|---|---|---|---|---|"]
    with native_stderr_silenced(), PoseDetector() as det:
        shots = []
        for n in names:
            img = load_image(SHARED / "fashion-real" / n)
            try:
                d = det.detect(img, n)
            except NoPersonError:
                continue
            if any(d.pose.has(f"{s}_shoulder", f"{s}_elbow", f"{s}_wrist") for s in "rl"):
                shots.append((img, d))
        from training.metrics import ssim

        print("\n".join(lines), flush=True)
        cols = [[_labelled(img, [f"photo {k + 1}", "(kept out)"])] for k, (img, _) in enumerate(shots[:2])]
        for label, (backend, path) in labels.items():
            eng = Engine(backend, device="cpu", weights=str(path) if path else None)
            found = raised = 0
            same = []
            for k, (img, d) in enumerate(shots):
                eng.set_sources([img], [d.pose], [d.mask])
                target, side = raised_arm(d.pose)
                out = eng.render(target)
                try:
                    det.detect(out)
                    found += 1
                except NoPersonError:
                    pass
                up = arm_reads_raised(det, out, d.pose, target, side)
                raised += up
                box = person_box(d.pose)
                same.append(ssim(img[box].copy(), eng.render(d.pose)[box]))
                if k < len(cols):
                    cols[k].append(_labelled(out, [label, "arm found raised" if up else "arm not found"]))
            lines.append(f"| {label} | {len(shots)} | {found} | {raised} | {min(same):.3f} (lowest) |")
            print(lines[-1], flush=True)
    if views is not None:
        rows = [np.concatenate([c for col in row for c in (col, np.full((col.shape[0], 4, 3), 255, np.uint8))], 1)
                for row in cols]
        write_jpeg(np.concatenate([rows[0], np.full((6, rows[0].shape[1], 3), 255, np.uint8)] + rows[1:], 0),
                   views / "first-launch.jpg")
    return "\n".join(lines)


def commit() -> str:
    """The project's git commit (and "+changes" when its files differ from it), for the record."""
    git = ["git", "-C", str(PROJECT)]
    try:
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + (" +changes" if dirty else "")


def crop_dir(build: Path, label: str) -> Path:
    return build / "crops" / label.replace(" ", "-").replace("/", "-")


def weights_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=PATH")
    return name, Path(path)


def starters() -> dict[str, Path]:
    from engine import registry
    from engine.backends.base import starter_path

    out = {}
    for name in registry.backend_names():
        p = starter_path(name)
        if registry.backend_class(name).needs_weights and p.is_file():
            out[f"{name} starter"] = p
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starters", action="store_true", help="score each backend's starter weights")
    ap.add_argument("--weights", type=weights_arg, action="append", default=[], metavar="NAME=PATH",
                    help="score this weights file under the label NAME (its backend is read from the file)")
    ap.add_argument("--build", type=Path, default=Path("build/quality"), help="cache and results folder")
    ap.add_argument("--json", type=Path, help="also write the figures (per pair and means) to this file")
    ap.add_argument("--personalize", type=float, metavar="MINUTES",
                    help="train each backend on frames 0-99 (poseeditor-train personalize) and score the result")
    ap.add_argument("--parallel", type=int, default=1, help="personalisations run at once (default 1)")
    ap.add_argument("--backends", nargs="+", help="with --personalize: these backends only (default: every "
                    "backend with starter weights)")
    ap.add_argument("--personalize-args", default="", metavar="'OPTIONS'",
                    help="extra options passed to every personalize run, e.g. '--clock cpu'")
    ap.add_argument("--images", type=Path, metavar="DIR", help="write two pairs side by side (JPEG) into DIR")
    ap.add_argument("--first-launch", action="store_true", help="also: each scored backend on the kept-out "
                    "fashion photos with an arm raised (person found, arm found raised)")
    ap.add_argument("--table", type=Path, metavar="JSON", help="print the table of a run saved with --json (and with --images, draw its images again)")
    a = ap.parse_args(argv)
    if a.table:  # a saved run: its table, and its images again from the crops it left in --build
        saved = json.loads(a.table.read_text())
        print(table(saved))
        for p in write_views(Frames(a.build), saved, a.build, a.images) if a.images else []:
            print(f"# {p} ({p.stat().st_size // 1000} KB)")
        return 0
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from engine.weights import read_meta

    todo = {"warp": ("warp", None)}
    if a.starters:
        todo.update({k: (read_meta(p).backend, p) for k, p in starters().items()})
    for name, path in a.weights:
        todo[name] = (read_meta(path).backend, path)
    frames = Frames(a.build)
    t0 = time.perf_counter()
    pairs = make_pairs(frames)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}; {len(pairs)} pairs from held-out frames {frames.heldout[0]}-{frames.heldout[-1]} "
          f"(sources {sorted({p['source'] for p in pairs})}); project {PROJECT} at {commit()}; "
          f"frames and detections {time.perf_counter() - t0:.0f} s", flush=True)
    trained = {}
    if a.personalize:
        start = starters()
        backends = a.backends or [k.split()[0] for k in start]
        if not a.starters:  # the personal row is read beside its starter
            todo.update({f"{b} starter": (b, start[f"{b} starter"]) for b in backends if f"{b} starter" in start})
        clip = training_clip(frames, a.build)
        opts = shlex.split(a.personalize_args)
        print(f"# personalize {', '.join(backends)} for {a.personalize:g} min each on {clip}, {a.parallel} at once",
              flush=True)
        with ThreadPoolExecutor(max(1, a.parallel)) as pool:
            runs = list(pool.map(lambda b: personalize(b, a.personalize, clip, a.build / "personal", opts), backends))
        for r in runs:
            label = f"{r['backend']} personal"
            trained[label] = r
            todo[label] = (r["backend"], Path(r["weights"]))
            print(f"# {label}: {r.get('steps', '?')} steps, {r['seconds']:.0f} s wall, {r['cpu_seconds']:.0f} s CPU",
                  flush=True)
    results = {}
    for label, (backend, path) in todo.items():
        t, cpu = time.perf_counter(), time.process_time()
        rows = score_pairs(backend, path, frames, pairs, crop_dir(a.build, label))
        results[label] = {"backend": backend, "weights": str(path) if path else None, "summary": summary(rows),
                          "training": trained.get(label),
                          "pairs": rows, "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu}
        print(f"# {label}: {cell(results[label]['summary']['all'], None, 'app')} "
              f"({results[label]['seconds']:.0f} s, {results[label]['cpu_seconds']:.0f} s of CPU)", flush=True)
    print()
    print(table(results))
    if a.json:
        from engine.fileio import atomic_write_text

        atomic_write_text(a.json, json.dumps(results, indent=1), "figures")
    if a.images:
        for p in write_views(frames, results, a.build, a.images):
            print(f"# {p} ({p.stat().st_size // 1000} KB)")
    if a.first_launch:
        print()
        first_launch({k: todo[k] for k in results if "personal" not in k}, a.images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
