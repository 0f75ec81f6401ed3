"""Evaluating an engine backend on a dataset's test pairs, through the same calls the app makes.

    poseeditor-train evaluate RUN|WEIGHTS --data DATASET [--split test] [--num-sources M] [--limit N]
                              [--backend warp] [-o OUT_DIR] [--no-pckh] [--composite crop|person]

For every pair: ``backend.encode_sources(source crops, their poses, their masks)`` then
``backend.render(state, target pose)`` (the crops are already at the model's size, so framing keeps them
whole), and the metrics of training/metrics.py against the real target. ``--backend warp`` needs no weights
and gives the baseline. A neural backend's output is its whole crop, as the papers evaluate it
(``--composite crop``, the default); ``--composite person`` scores what the app shows, the generated person put
into the source photo (engine.compositing). Writes report.json and grid.png (source | target | output rows) and prints one line.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.errors import PoseEditorError
from engine.fileio import OutputError, atomic_write_text, inside, named_path, read_text

GRID_PAIRS = 8
REPORT, GRID = "report.json", "grid.png"


def _backend_for(target, backend: str | None, device: str, tmp: Path, composite: str = "crop"):
    """(engine backend ready to render, description of the weights)."""
    from engine import registry
    from engine.runtime import pick_device
    from engine.weights import read_meta

    device = pick_device(device)
    if target is None:
        if backend is None:
            raise PoseEditorError("give weights (a run folder or a .safetensors file) or --backend warp")
        cls = registry.backend_class(backend)
        if cls.needs_weights:
            raise PoseEditorError(f"the {backend} backend needs weights: give a run folder or a .safetensors file")
        return registry.create(backend, device=device), "none (built-in)"
    target = Path(target)
    if target.is_dir():
        best = target / "best.safetensors"
        if best.is_file():
            weights = desc = best
        else:
            from .export import export_run

            weights, what = export_run(target, tmp / "latest.safetensors", which="latest")
            desc = f"{target} ({what} checkpoint)"
    elif target.is_file():
        weights = desc = target
    else:
        raise PoseEditorError(f"{target}: no such run folder or weights file")
    meta = read_meta(weights)
    if backend is not None and backend != meta.backend:
        raise PoseEditorError(f"{weights}: these are {meta.backend} weights, not {backend}")
    import torch

    cls = registry.backend_class(meta.backend)
    b = cls(device=device, dtype=torch.float32, load_starter=False, composite=composite)
    b.load_weights(weights)
    from engine.backends.base import NeuralBackend

    if isinstance(b, NeuralBackend):
        # a prepared set's crops are framed already: the network sees each whole, as fit's validation shows it
        # to the generator. Framed again on its pose, a crop whose person fills less than frame_for's share of it
        # was cropped round the body and drawn smaller into a box (a newcomer's evaluate: 0.696 SSIM where the
        # fit's check of the same weights on the same 30 pairs said 0.745). A backend's own framing is its own.
        b.whole_if_fits = 0.0
    return b, str(desc)


def evaluate(target=None, data=None, split: str = "test", num_sources: int = 1, limit: int | None = None,
             backend: str | None = None, out=None, device: str = "auto", pckh: bool = True,
             distribution: bool = True, progress=None, composite: str = "crop") -> dict:
    """Run the evaluation; returns the report (also written to ``out``/report.json with ``out``/grid.png)."""
    from engine.images import save_image

    from . import metrics as M
    from .datasets import PairDataset

    from .run_dir import output_folder, writing

    if data is None:
        raise PoseEditorError("give --data DATASET")
    if limit is not None and int(limit) < 1:
        raise PoseEditorError(f"--limit must be at least 1, not {limit} (leave it out to evaluate every pair)")
    if int(num_sources) < 1:
        raise PoseEditorError(f"--num-sources must be at least 1, not {num_sources}")
    if out is not None:  # before the work: a wrong -o fails at once
        out = output_folder(_check_out(out, target, data), "evaluation folder")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="poseeditor-eval-") as tmp:
        b, weights = _backend_for(target, backend, device, Path(tmp), composite)
    default = None if out is not None else _check_out(_default_out(target, b.name, data, split), target, data)
    size = getattr(b, "image_size", None) if getattr(b, "needs_weights", False) else None
    ds = PairDataset(data, split, num_sources=num_sources, size=tuple(size) if size else None)
    n = len(ds) if limit is None else min(len(ds), int(limit))
    sums: dict[str, float] = {}
    pck = M.PCKh() if pckh else None
    refs, gens, grid_rows = [], [], []
    render_ms = []
    try:
        for i in range(n):
            names = ds.sources_for(i)
            loaded = [ds.load(nm) for nm in names]
            img_t, pose_t, mask_t, _ = ds.load(ds.pairs[i][1])
            state = b.encode_sources([x[0] for x in loaded], [x[1] for x in loaded], [x[2] for x in loaded])
            tr = time.perf_counter()
            gen = b.render(state, pose_t)
            render_ms.append((time.perf_counter() - tr) * 1000)
            if gen.shape != img_t.shape:
                raise PoseEditorError(f"the backend rendered {gen.shape[1]}x{gen.shape[0]} for a "
                                      f"{img_t.shape[1]}x{img_t.shape[0]} target")
            for k, v in M.image_metrics(img_t, gen, pose_t).items():
                sums[k] = sums.get(k, 0.0) + v
            if pck is not None:
                pck.add(gen, pose_t)
            refs.append(img_t)
            gens.append(gen)
            if len(grid_rows) < GRID_PAIRS:
                grid_rows.append((loaded[0][0], img_t, gen))
            if progress:
                progress(i + 1, n)
    finally:
        if pck is not None:
            pck.close()
    if n == 0:
        raise PoseEditorError(f"{data}: the {split} split has no pairs")
    res = {k: v / n for k, v in sums.items()}
    if pck is not None:
        res["pckh"] = pck.value
        res["pckh_joints"] = pck.total
        res["pckh_undetected_images"] = pck.undetected
    else:
        res["pckh"] = "not computed: --no-pckh"
    if distribution:
        res.update(M.distribution_metrics(refs, gens, getattr(b, "device", "cpu")))
    report = {"backend": b.name, "weights": weights, "data": str(Path(data).resolve()), "split": split,
              "pairs": n, "num_sources": num_sources, "image_size": list(refs[0].shape[:2]), "metrics": res,
              "composite": getattr(b, "composite", None),
              "render_ms_mean": float(np.mean(render_ms)), "seconds": round(time.perf_counter() - t0, 2),
              "ssim_settings": "skimage: gaussian_weights, sigma 1.5, population covariance, per channel, "
                               "data range of the generated image"}
    out = out or output_folder(default, "evaluation folder")  # made once there is something to put in it
    atomic_write_text(out / REPORT, json.dumps(report, indent=2) + "\n", "evaluation report")
    with writing(out / GRID, "image grid"):
        save_image(out / GRID, _grid(grid_rows))
    report["out"] = str(out)
    return report


def _check_out(out, target, data) -> Path:
    """The evaluation folder, or OutputError (one line). Never the dataset or inside it, nor the weights or run
    folder evaluated: an output never goes onto or into an input. A folder inside a run folder is allowed: it
    is where evaluate puts its results by default (RUN/eval-...).

    report.json and grid.png already there are replaced only when report.json is one evaluate wrote (an
    earlier evaluation, run again); a report.json of any other kind, or a grid.png without one, is the user's
    and the folder is refused rather than the files replaced."""
    out = Path(out)
    if inside(out, data):
        raise OutputError(f"{out}: the evaluation folder would be the dataset {data} or inside it; choose a "
                          f"folder outside it (-o)")
    if target is not None and os.path.realpath(out) == os.path.realpath(target):
        raise OutputError(f"{out}: is the {'run' if Path(target).is_dir() else 'weights'} being evaluated; "
                          f"choose another folder for the evaluation (-o)")
    if (out / GRID).exists() or (out / REPORT).exists():
        if not _is_report(out / REPORT):
            raise OutputError(f"{out}: already holds a {GRID} or {REPORT} that evaluate did not write; choose "
                              f"another folder for the evaluation (-o)")
    return out


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report.json evaluate wrote (an earlier evaluation in this folder)."""
    try:
        report = json.loads(read_text(path, OutputError, "report"))
    except (OutputError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and {"backend", "metrics", "pairs", "split", "data"} <= report.keys()


def _default_out(target, backend: str, data, split: str) -> Path:
    name = f"eval-{Path(str(data)).name}-{split}"
    if target is None:
        return Path(f"{name}-{backend}")
    t = Path(target)
    return t / name if t.is_dir() else t.parent / f"{t.stem}-{name}"


def _grid(rows: list[tuple]) -> np.ndarray:
    """Columns of pairs; rows source | target | output."""
    gap = 2
    h, w = rows[0][1].shape[:2]
    out = np.full((3 * (h + gap) - gap, len(rows) * (w + gap) - gap, 3), 255, np.uint8)
    for j, imgs in enumerate(rows):
        for i, img in enumerate(imgs):
            if img.shape[:2] != (h, w):
                import cv2

                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = img
    return out


def summary_line(r: dict) -> str:
    m = r["metrics"]
    parts = [f"SSIM {m['ssim']:.4f}", f"mask-SSIM {m['mask_ssim']:.4f}", f"L1 {m['l1']:.4f}", f"PSNR {m['psnr']:.2f} dB"]
    if isinstance(m.get("pckh"), float):
        parts.append(f"PCKh {m['pckh']:.3f}")
    for k in ("fid", "is", "lpips"):
        if isinstance(m.get(k), float):
            parts.append(f"{k.upper()} {m[k]:.3f}")
    return (f"{r['backend']} on {Path(r['data']).name} {r['split']} ({r['pairs']} pairs): " + ", ".join(parts)
            + f" -> {r['out']}/report.json")


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    from .protocol import MAX_SOURCES
    from .synth import int_in

    p.description = "Metrics of a backend on a dataset's test pairs (report.json + grid.png)."
    p.add_argument("target", nargs="?", type=Path, help="run folder or .safetensors weights (none with --backend warp)")
    p.add_argument("--data", required=True, type=Path, help="dataset folder")
    p.add_argument("--split", default="test", choices=("test", "train"), help="pairs to evaluate (default test)")
    p.add_argument("--num-sources", type=int_in(1, MAX_SOURCES), default=1,
                   help="reference photos per pair (multi-shot backends)")
    p.add_argument("--limit", type=int, help="evaluate only the first N pairs")
    p.add_argument("--backend", help="check the weights' backend, or warp for the no-weights baseline")
    p.add_argument("-o", "--out", type=named_path, help="folder for report.json and grid.png (not inside the "
                                                        "dataset; those of an earlier evaluation there are replaced)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--no-pckh", dest="pckh", action="store_false", help="skip PCKh (runs the pose detector)")
    p.add_argument("--composite", choices=("crop", "person"), default="crop",
                   help="neural backends: score the network's whole crop (default, as the papers do) or the "
                        "person put into the source photo, as the app shows it")


def run(args) -> int:
    r = evaluate(args.target, args.data, args.split, args.num_sources, args.limit, args.backend, args.out,
                 args.device, args.pckh, composite=args.composite)
    print(summary_line(r))
    return 0
