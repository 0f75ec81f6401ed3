"""poseeditor-render: detect a pose, or repose a person, from the command line.

    poseeditor-render --source PHOTO [--source PHOTO ...] [--pose-out POSE.json]
                      [--target POSE.json|PHOTO] [--backend NAME] [--weights FILE]
                      [--device auto|cpu|cuda] [-o OUT.png]

With no target it only detects and writes the source pose (to --pose-out, or prints it). With a target (a pose
JSON in the first photo's pixels, or a photo whose detected pose is moved onto the source person) it renders.
Every user error is one line on stderr and exit status 2; --verbose shows tracebacks.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import NoPersonError, PoseEditorError, PoseFormatError, OneLineArgumentParser, error_line
from .images import IMAGE_SUFFIXES, MAX_SIDE

PROG = "poseeditor-render"


def _parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--source", action="append", metavar="PHOTO",
                   help="reference photo of the person (repeat for several photos of the same person); required "
                        "but with --list-backends")
    p.add_argument("--source-pose", action="append", metavar="POSE.json",
                   help="use this pose for the matching --source instead of detecting it")
    p.add_argument("--pose-out", metavar="POSE.json", help="write the first source's detected pose (OpenPose JSON)")
    p.add_argument("--target", metavar="POSE.json|PHOTO", help="target pose (JSON) or a photo to take it from")
    p.add_argument("--backend", default="warp", help="engine backend (default: warp); --list-backends lists them")
    p.add_argument("--weights", metavar="FILE", help="weights (.safetensors) for a neural backend")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="auto (default: bf16 on a CPU that has it; env POSEEDITOR_PRECISION) | fp32 | bf16")
    p.add_argument("-o", "--output", metavar="OUT.png", help="where to write the rendered image")
    p.add_argument("--list-backends", action="store_true", help="list the backends and exit")
    p.add_argument("--verbose", action="store_true", help="show tracebacks")
    return p


def _target_pose(arg: str, like, detector, photo=None):
    """A target from a pose JSON, or from another photo (``photo``, already read): its pose moved and scaled
    onto the source person."""
    from .pose import Pose, for_photo, retarget

    path = Path(arg)
    if photo is not None:
        det = detector.detect(photo, str(path))
        return retarget(det.pose, like)
    pose = for_photo(Pose.load_json(path, like.width, like.height), like)
    if pose.count == 0:
        raise PoseFormatError(f"{path}: the target pose has no joints")
    return pose


def _check_before_work(args):
    """Everything that can be refused before a photo is read or a model loaded: a source that is no file, the
    outputs (writable, not an input, not each other) and the output's image type; with a target, the engine and
    its weights."""
    from .fileio import check_input, check_outputs
    from .images import image_format

    inputs = [*args.source, *(args.source_pose or []), args.target, args.weights]
    for path in args.source:  # a folder given as a photo is that input's fault, not the output's inside it
        check_input(path, what="image")
    check_outputs({"pose file": args.pose_out, "rendered image": args.output}, inputs)
    if args.output:
        image_format(args.output)
    from .pose import Pose

    # pose files are small: read them now so a bad one is refused before the detector starts (1 x 1 stands in
    # for the photo's size, which only a file without a canvas size needs, and only to scale)
    for path in [*(args.source_pose or []), args.target]:
        if path is not None and Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            Pose.load_json(path, 1, 1)
    if not args.target:
        return None
    from .runtime import Engine

    engine = Engine(args.backend, args.device, weights=args.weights, precision=args.precision)
    if not engine.backend.ready:
        raise PoseEditorError(f"backend '{args.backend}' has {engine.backend.weights_info.label}")
    return engine


def run(args) -> int:
    from .images import load_image, save_image
    from .pose import Pose

    if args.list_backends:
        from . import registry

        for name in registry.backend_names():
            cls = registry.backend_class(name)
            print(f"{name:12s} {cls.title}")
        for name, why in registry.unavailable().items():
            print(f"{name:12s} unavailable: {why}")
        return 0
    if not args.source:
        raise PoseEditorError("give --source PHOTO (the person to repose)")
    if not args.pose_out and not args.target:
        raise PoseEditorError("nothing to do: give --pose-out to detect, or --target to render")
    if args.target and not args.output:
        raise PoseEditorError("give -o OUT.png for the rendered image")
    if args.source_pose and len(args.source_pose) != len(args.source):
        raise PoseEditorError("give one --source-pose per --source, or none")
    engine = _check_before_work(args)
    # every photo is read before the detector starts and before anything is written: a bad target must not
    # leave --pose-out already replaced
    images = [load_image(src) for src in args.source]
    target_photo = (load_image(args.target) if args.target and Path(args.target).suffix.lower() in IMAGE_SUFFIXES
                    else None)
    given = []
    for path, src, img in zip(args.source_pose or [], args.source, images):
        pose = Pose.load_json(path, img.shape[1], img.shape[0])
        if (pose.width, pose.height) != (img.shape[1], img.shape[0]):
            raise PoseFormatError(f"{path}: pose is for a {pose.width}x{pose.height} image, {src} is "
                                  f"{img.shape[1]}x{img.shape[0]}")
        given.append(pose)

    from .detect import PoseDetector, native_stderr_silenced, pose_mask
    from .hands import keep_hands

    poses, masks = [], []
    with native_stderr_silenced(), PoseDetector() as detector:
        for i, (src, img) in enumerate(zip(args.source, images)):
            if given:
                # the pose is given; the detector is asked only for the person's outline (and the hands it finds
                # at the wrists the given pose keeps, as the app keeps them), and a photo it finds nobody in still
                # renders, with the outline drawn from the given skeleton
                try:
                    det = detector.detect(img, src)
                    masks.append(det.mask)
                    poses.append(keep_hands(given[i], det.pose))
                except NoPersonError:
                    masks.append(pose_mask(given[i]))
                    poses.append(given[i])
            else:
                det = detector.detect(img, src)
                masks.append(det.mask)
                poses.append(det.pose)
        target = _target_pose(args.target, poses[0], detector, target_photo) if args.target else None

    out = None
    if target is not None:
        engine.set_sources(images, poses, masks)
        out = engine.render(target)
    # the files are written only once everything they depend on has succeeded
    if args.pose_out:
        poses[0].save_json(args.pose_out)
        print(f"{args.source[0]}: {poses[0].count} of 18 joints -> {args.pose_out}")
    if out is not None:
        save_image(args.output, out)
        from .images import upright_size

        w, h = upright_size(args.source[0])
        # a 12000x12000 photo came out 4096x4096 with nothing said (a newcomer review)
        reduced = (f" (the photo is {w}x{h}: reduced to {MAX_SIDE} px on its long side, the size PoseEditor "
                   f"works at)" if (w, h) != (out.shape[1], out.shape[0]) else "")
        print(f"{args.output}: {out.shape[1]}x{out.shape[0]} rendered by {args.backend} in "
              f"{engine.last_render_ms:.0f} ms{reduced}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (PoseEditorError, OSError) as e:
        if args.verbose:
            raise
        print(error_line(PROG, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
