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


def generator_tensors(state_dict: dict, half: bool = False, where="") -> dict:
    """The state dict on the CPU, floating tensors as fp16 with ``half`` (the engine casts them back on load);
    WeightsError naming ``where`` for a finite tensor that fp16 cannot hold (beyond 65504 it is infinite)."""
    import torch

    out = {}
    for k, v in state_dict.items():
        v = v.detach().to("cpu")
        if half and v.is_floating_point():
            small = v.half()
            if not bool(torch.isfinite(small).all()) and bool(torch.isfinite(v).all()):
                raise WeightsError(f"{where}: tensor {k} holds values beyond fp16's range; export it without --half")
            v = small
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


def check_exportable(tensors: dict, backend, config, where) -> None:
    """WeightsError (one line naming ``where``, the file the tensors came from) unless the engine would load these
    tensors as ``backend``'s network with ``config``: the engine's own checks as it loads a weights file (the
    backend, its configuration, finite tensors, then engine.backends.base.fitted_network)."""
    from engine.backends.base import fitted_network
    from engine.registry import backend_class
    from engine.weights import check_config, check_finite

    try:
        cls = backend_class(backend)
    except PoseEditorError as e:
        raise WeightsError(f"{where}: {e}") from None
    check_config(cls, config, where)
    check_finite(tensors, where)
    if getattr(cls, "build_network", None) is not None:  # a network backend (warp has none to check)
        fitted_network(cls, tensors, config, where, meta=True)


def _optional(record: dict, key: str, kinds, where):
    """record[key] (None when absent or null) if it is of ``kinds``; PoseEditorError naming the file otherwise."""
    v = record.get(key)
    if v is not None and not isinstance(v, kinds):
        raise PoseEditorError(f"{where}: \"{key}\" (damaged?) has the wrong type ({type(v).__name__})")
    return v


def record_for_export(run: Path) -> dict:
    """What export reads of a run's training_options.json, checked (PoseEditorError naming the file): the backend
    (a name the engine knows), the dataset's name, the command and perceptual backbone, for the provenance."""
    from engine.registry import BACKENDS

    from .protocol import OPTIONS_FILE
    from .run_dir import read_options

    record, where = read_options(run), run / OPTIONS_FILE
    backend = record.get("backend")
    if not isinstance(backend, str) or not backend:
        what = "no \"backend\"" if backend is None else f"a \"backend\" of the wrong type ({type(backend).__name__})"
        raise PoseEditorError(f"{where}: the run's record has {what} (damaged?)")
    if backend not in BACKENDS:
        raise PoseEditorError(f"{where}: the run's record names an unknown backend {backend[:40]!r} (damaged?); "
                              f"known: {', '.join(BACKENDS)}")
    dataset = _optional(record, "dataset", dict, where) or {}
    return {"backend": backend, "data": _optional(dataset, "name", str, f"{where}: dataset"),
            "command": _optional(record, "command", str, where),
            "perceptual": _optional(record, "perceptual_backbone", str, where)}


def export_run(run, out, which: str = "auto", half: bool = False, label: str | None = None) -> tuple[Path, str]:
    """Write a run's generator to ``out``; returns (path, what was exported). Everything is checked before
    anything is written: a refused export leaves no file.

    ``which``: "best" (best.safetensors, selected on the validation metric), "latest" (the newest checkpoint) or
    "auto" (best when the run has one, else latest).
    """
    from .checkpoint import load_latest
    from .protocol import OPTIONS_FILE
    from .run_dir import read_options

    run = Path(run)
    if not run.is_dir():
        raise PoseEditorError(f"{run}: no such run folder")
    read_options(run)  # a run folder: its record is there and readable
    best = run / "best.safetensors"
    if which not in ("auto", "best", "latest"):
        raise PoseEditorError(f"--which must be best, latest or auto, not {which!r}")
    if which == "best" and not best.is_file():
        raise PoseEditorError(f"{run}: the run has no best.safetensors yet (no validation has run); use --which latest")
    if which in ("best", "auto") and best.is_file():
        from engine.weights import load_weights

        tensors, meta = load_weights(best)
        tensors = generator_tensors(tensors, half, best)  # the engine's checks below are on what is written
        check_exportable(tensors, meta.backend, meta.config, best)
        prov = dict(meta.provenance, exported_from=f"{run.name}/best.safetensors")
        path = export_generator(out, tensors, meta.backend, meta.config, prov,
                                label if label is not None else meta.label)
        return path, f"best (step {meta.provenance.get('step', '?')})"
    opts = record_for_export(run)
    ckpt_path, state = load_latest(run, fields=True)  # its fields there and of their kinds (check_checkpoint)
    if state["backend"] != opts["backend"]:
        raise PoseEditorError(f"{ckpt_path}: a checkpoint of the {state['backend']!r} backend, where the run's "
                              f"{OPTIONS_FILE} names {opts['backend']!r} (one of them is damaged)")
    gen, step = generator_tensors(state["recipe"]["modules"]["generator"], half, ckpt_path), state["step"]
    check_exportable(gen, state["backend"], state["net_config"], ckpt_path)
    prov = {"data": opts["data"], "steps": step, "run": run.name, "selected_by": "latest",
            "command": opts["command"], "perceptual": opts["perceptual"],
            "exported_from": f"{run.name}/checkpoints/{ckpt_path.name}"}
    text = label if label is not None else f"{state['backend']} {run.name} step {step}"
    path = export_generator(out, gen, state["backend"], state["net_config"], prov, text)
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
    # neither into the run read here (its checkpoints and best weights; those first, so that writing onto them is
    # said as overwriting an input) nor into the dataset it trained on (its options name it)
    check_output(args.out, inputs=[args.run / "best.safetensors", _run_data(args.run), args.run], what="weights")
    with writing(args.out, "weights"):
        path, what = export_run(args.run, args.out, args.which, args.half, args.label)
    meta = read_meta(path)
    size_mb = path.stat().st_size / 1e6
    print(f"{path}: {meta.backend} generator, {what}, {meta.image_size[0]}x{meta.image_size[1]}, "
          f"{'fp16' if args.half else 'fp32'}, {size_mb:.1f} MB")
    return 0
