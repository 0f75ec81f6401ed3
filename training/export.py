"""Engine weights from training: the generator of a run (its best or its latest state) as a .safetensors file.

    poseeditor-train export RUN -o FILE.safetensors [--which best|latest] [--half] [--label TEXT]

The file is the engine's one weights format (engine/weights.py): tensors plus metadata naming the backend, the
network config that rebuilds the generator, its image size and where it came from.
"""
from __future__ import annotations

import re
from pathlib import Path

from engine.errors import PoseEditorError, WeightsError
from engine.fileio import OutputError, describe_os_error
from engine.weights import WeightsMeta, read_meta, save_weights


def generator_tensors(state_dict: dict, half: bool = False) -> dict:
    """The state dict on the CPU, floating tensors as fp16 with ``half`` (the engine casts them back on load)."""
    out = {}
    for k, v in state_dict.items():
        v = v.detach().to("cpu")
        if half and v.is_floating_point():
            v = v.half()
        out[k] = v.contiguous()
    return out


def export_generator(path, state_dict: dict, backend: str, config: dict, provenance: dict | None = None,
                     label: str = "", half: bool = False) -> Path:
    size = config.get("image_size", (256, 256))
    meta = WeightsMeta(backend=backend, config=dict(config), image_size=(int(size[0]), int(size[1])),
                       provenance=dict(provenance or {}), label=label)
    from safetensors import SafetensorError

    path = Path(path)
    try:
        return save_weights(path, generator_tensors(state_dict, half), meta)
    except (OSError, SafetensorError) as e:
        # engine.fileio removed the temporary file; a failed write leaves nothing behind
        if isinstance(e, OSError):
            raise
        # safetensors reports the operating system's error as text: "I/O error: ... (os error 28)"
        m = re.search(r"os error (\d+)", str(e))
        err = OSError(int(m.group(1)), str(e)) if m else OSError(str(e))
        raise OutputError(describe_os_error(path, err, "weights")) from None


def export_run(run, out, which: str = "auto", half: bool = False, label: str | None = None) -> tuple[Path, str]:
    """Write a run's generator to ``out``; returns (path, what was exported).

    ``which``: "best" (best.safetensors, selected on the validation metric), "latest" (the newest checkpoint) or
    "auto" (best when the run has one, else latest).
    """
    from .checkpoint import load_latest
    from .run_dir import read_options

    run = Path(run)
    if not run.is_dir():
        raise PoseEditorError(f"{run}: no such run folder")
    opts = read_options(run)
    best = run / "best.safetensors"
    if which not in ("auto", "best", "latest"):
        raise PoseEditorError(f"--which must be best, latest or auto, not {which!r}")
    if which == "best" and not best.is_file():
        raise PoseEditorError(f"{run}: the run has no best.safetensors yet (no validation has run); use --which latest")
    if which in ("best", "auto") and best.is_file():
        from engine.weights import load_weights

        tensors, meta = load_weights(best)
        prov = dict(meta.provenance, exported_from=f"{run.name}/best.safetensors")
        path = export_generator(out, tensors, meta.backend, meta.config, prov,
                                label if label is not None else meta.label, half)
        return path, f"best (step {meta.provenance.get('step', '?')})"
    ckpt_path, state = load_latest(run)
    gen = state["recipe"]["modules"]["generator"]
    step = int(state["step"])
    prov = {"data": opts.get("dataset", {}).get("name"), "steps": step, "run": run.name,
            "selected_by": "latest", "command": opts.get("command"),
            "perceptual": opts.get("perceptual_backbone"), "exported_from": f"{run.name}/checkpoints/{ckpt_path.name}"}
    text = label if label is not None else f"{opts['backend']} {run.name} step {step}"
    path = export_generator(out, gen, opts["backend"], state.get("net_config") or opts["net_config"], prov, text, half)
    return path, f"latest (step {step})"


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.description = "Write a run's generator as engine weights (.safetensors)."
    p.add_argument("run", type=Path, help="run folder (runs/NNNNN-...)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .safetensors file")
    p.add_argument("--which", choices=("auto", "best", "latest"), default="auto",
                   help="best (validation-selected), latest checkpoint, or auto: best if present (default)")
    p.add_argument("--half", action="store_true", help="store fp16 tensors (half the size)")
    p.add_argument("--label", help="human name shown by the app")


def _run_data(run: Path):
    """The dataset folder a run's options name, or None where they cannot be read (the export says why later)."""
    from .run_dir import read_options

    try:
        record = read_options(run)
        data = (record.get("options") or {}).get("data") or (record.get("dataset") or {}).get("path")
    except (PoseEditorError, AttributeError):
        return None
    return data if isinstance(data, str) else None


def run(args) -> int:
    from engine.fileio import check_output

    from .run_dir import writing

    if args.out.suffix != ".safetensors":
        raise WeightsError(f"{args.out}: the output must end in .safetensors")
    # nor into the dataset the run trained on (its options name it), which prepare and fit read
    check_output(args.out, inputs=[args.run / "best.safetensors", _run_data(args.run)], what="weights")
    with writing(args.out, "weights"):
        path, what = export_run(args.run, args.out, args.which, args.half, args.label)
    meta = read_meta(path)
    size_mb = path.stat().st_size / 1e6
    print(f"{path}: {meta.backend} generator, {what}, {meta.image_size[0]}x{meta.image_size[1]}, "
          f"{'fp16' if args.half else 'fp32'}, {size_mb:.1f} MB")
    return 0
