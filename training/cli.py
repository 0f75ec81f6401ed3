"""poseeditor-train: datasets in, engine weights out.

    poseeditor-train synth -o DATASET --identities 20 --poses-per-identity 10 --size 128x64
    poseeditor-train prepare VIDEO_OR_FOLDER... -o DATASET --size 256x176
    poseeditor-train fit --backend dgan --data DATASET [--steps N] [--resume RUN] ...
    poseeditor-train evaluate RUN|WEIGHTS --data DATASET [--backend warp]
    poseeditor-train export RUN -o FILE.safetensors [--half]
    poseeditor-train import-weights FILE --backend NAME -o OUT.safetensors
    poseeditor-train bench --backend all --size 128x64 --batch 8
    poseeditor-train personalize VIDEO|PHOTO... --backend NAME [--minutes M] -o WEIGHTS.safetensors
    poseeditor-train refine WEIGHTS.safetensors --data DATASET [--minutes 2]

A user error (bad dataset, unknown backend, missing file) is one line on stderr and exit status 2;
--verbose shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys

from .protocol import PROG, error_line

# subcommand -> (module with add_arguments(parser) + run(args), one-line help). Modules are imported only for
# the subcommand being run, so `poseeditor-train --help` and `synth` do not pay for what they do not use.
COMMANDS = {
    "prepare": ("training.prepare", "make a dataset from photos or a video of people"),
    "self-pairs": ("training.selfpairs", "make a real-people dataset from single photos (warp renders in "
                                         "perturbed poses as sources, the photos as targets)"),
    "synth": ("training.synth", "make a dataset of procedural people (tests, smoke runs)"),
    "fit": ("training.options", "train a backend on a dataset (numbered run folder, checkpoints, best weights)"),
    "evaluate": ("training.evaluate", "SSIM, mask-SSIM, L1, PSNR, PCKh of weights or a run on a dataset's test pairs"),
    "export": ("training.export", "write a run's generator as engine weights (.safetensors)"),
    "import-weights": ("training.importers", "convert the authors' released weights to engine weights"),
    "refine": ("training.refine", "train a person's refiner after their model and add it to its weights file"),
    "bench": ("training.bench", "training iterations per second of each backend"),
    "personalize": ("training.personalize", "the app's Train on This Person as one command: a video or photos "
                                            "of a person in, fine-tuned weights out"),
}


def _verbose_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks and informational messages")
    return p


def _chosen(argv: list[str]) -> str | None:
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parent = _verbose_parent()
    from engine.errors import OneLineArgumentParser  # usage errors are one line too

    parser = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], parents=[parent],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run `poseeditor-train COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen(argv)
    for name, (module, text) in COMMANDS.items():
        sp = sub.add_parser(name, help=text, description=text, parents=[parent])
        sp.set_defaults(_module=module)
        if name == chosen:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise
                sp.set_defaults(_missing=f"`{name}` is not available in this installation ({module} is missing)")
                continue
            mod.add_arguments(sp)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from engine.errors import PoseEditorError

    args = build_parser(argv).parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format=f"{PROG}: %(levelname)s: %(message)s")
    if hasattr(args, "_missing"):
        print(error_line(args._missing), file=sys.stderr)
        return 2
    args.command_line = f"{PROG} " + " ".join(shlex.quote(a) for a in argv)
    try:
        mod = importlib.import_module(args._module)
        return int(mod.run(args) or 0)
    except (PoseEditorError, OSError) as e:
        if verbose:
            raise
        print(error_line(str(e).strip() or type(e).__name__), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
