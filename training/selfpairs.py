"""``poseeditor-train self-pairs``: a real-people prior from single photos, as an ordinary dataset folder.

A network that has only seen procedural people draws a real photo's person as a blur of its colours. Pairs of
one real person in two poses are rare (a video is one person), but single photos are many. So each photo gives
pairs on its own: the target is the real photo, the source is the warp engine's render of that photo into a
perturbed pose (arms and legs moved as a user drags them), with the perturbed pose as the source pose. The
network learns to draw a real person's face, colours and clothes in the photo's pose from a source that has the
warp engine's seams, tears and inpainted holes. Photos of one person (a folder given with ``--same-person``, e.g.
a walk sequence's frames) add real pairs of two real poses; ``--mix`` adds another dataset's pairs (the
procedural people, which carry the large pose changes), so that `fit` reads one folder unchanged.

Why a command of its own rather than an option of ``prepare``: its inputs are many people's single photos, the
kept-out list and another dataset to mix in; ``prepare``'s journal, time split and one-folder-per-person rules
do not apply to renders made from the photos.

Photos listed in benchmarks/heldout.json (``photos_kept_out``) are never read, whatever is given.

``personal_pairs`` is the same for one person's photo(s): the pairs a quick personalisation trains on.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from engine.errors import DatasetError, ImageReadError, NoPersonError
from engine.fileio import check_input, check_output_folder, named_path, removed_if_refused
from engine.images import IMAGE_SUFFIXES, load_image
from engine.pose import Pose

from .dataset_format import (mask_path, parsing_path, read_annotations, read_identities, read_pairs,
                             write_annotations, write_dataset_json, write_identities, write_pairs)
from .prepare import save_crop, split_people
from .synth import int_in, parse_size

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "benchmarks" / "heldout.json"
SAME_PERSON_PAIRS = 600  # a 67-frame walk gives 4,422 pairs: a seeded sample, so single photos are not drowned
TEST_EVERY = 10          # every 10th photo (sorted) gives test pairs only: validation on people fit never saw


# ================================================================================================================
# Kept out of all training
# ================================================================================================================
def kept_out(heldout: Path | None = HELDOUT) -> set[tuple[str, str]]:
    """(folder name, file name) of every shared photo no training may read (benchmarks/heldout.json); None:
    nothing kept out (a person's own photos)."""
    if heldout is None:
        return set()
    try:
        info = json.loads(Path(heldout).read_text())
        return {(folder, name) for folder, names in info["photos_kept_out"].items() for name in names}
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise DatasetError(f"{heldout}: cannot read the kept-out photos ({e})") from None


def _photos(paths: list[Path], out_of_bounds: set[tuple[str, str]]) -> list[Path]:
    found = []
    for p in map(Path, paths):
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
        found += [q for q in files if (q.parent.name, q.name) not in out_of_bounds]
    return found


# ================================================================================================================
# Poses moved as a user drags them
# ================================================================================================================
LIMBS = (("r_shoulder", "r_elbow", "r_wrist", 110, 90), ("l_shoulder", "l_elbow", "l_wrist", 110, 90),
         ("r_hip", "r_knee", "r_ankle", 30, 40), ("l_hip", "l_knee", "l_ankle", 30, 40))
ARM_MOVES, LEG_MOVES = 0.75, 0.3  # how often each arm / leg moves: users drag arms far more than legs


def _turned(pose: Pose, pivot: str, joints, degrees: float) -> Pose:
    c = pose.point(pivot)
    a = np.radians(degrees)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    for n in joints:
        if pose.has(n):
            pose = pose.moved(n, *(c + R @ (pose.point(n) - c)))
    return pose


def perturb_pose(pose: Pose, rng: np.random.Generator, tries: int = 20) -> Pose:
    """``pose`` with some arms and legs turned about their shoulder / hip (the whole limb) and elbow / knee (the
    lower part), as a drag does: at least one bone turns by 25 degrees or more in the image, and every joint
    stays in the photo (else drawn again, with angles up to 35% of the full range on the last tries). The
    pose itself when no draw satisfies both."""
    for k in range(tries):
        scale = max(0.35, 1.0 - k / tries)
        out, moved = pose, 0.0
        for (root, mid, end, big, small), often in zip(LIMBS, (ARM_MOVES, ARM_MOVES, LEG_MOVES, LEG_MOVES)):
            if not pose.has(root, mid) or rng.random() > often:
                continue
            a, b = scale * rng.uniform(-big, big), scale * rng.uniform(-small, small)
            out = _turned(_turned(out, root, (mid, end), a), mid, (end,), b)
            moved = max(moved, abs(a), abs(a + b) if pose.has(end) else 0.0)
        xy = out.xy[out.present]
        inside = (xy[:, 0] >= 0).all() and (xy[:, 0] < pose.width).all() and (xy[:, 1] >= 0).all() and \
            (xy[:, 1] < pose.height).all()
        if moved >= 25 and inside:
            return out
    return pose


def warped(image: np.ndarray, pose: Pose, mask: np.ndarray, targets: list[Pose]):
    """(render, mask) per target pose: the warp engine's render of the photo, and of its person mask the same way
    (the moved person's outline, which no detector is needed for)."""
    from engine.backends.warp import WarpBackend
    from engine.held import held_objects

    warp = WarpBackend()
    # what a hand holds is found in the photo; the mask drawn as an image holds it too, and moves with it
    held = [held_objects(image, pose, mask)]
    state = warp.encode_sources([image], [pose], [mask], held=held)
    whole = np.maximum(np.clip(mask, 0, 1), held[0] > 0)
    as_image = np.repeat(np.round(whole * 255).astype(np.uint8)[..., None], 3, axis=2)
    mask_state = warp.encode_sources([as_image], [pose], [mask], held=held)
    return [(warp.render(state, t), warp.render(mask_state, t)[..., 0].astype(np.float32) / 255) for t in targets]


# ================================================================================================================
# Writing the dataset
# ================================================================================================================
class _Writer:
    def __init__(self, out: Path, size: tuple[int, int]):
        self.out, self.size = out, size
        self.poses: dict[str, Pose] = {}
        self.identity: dict[str, str] = {}
        for sub in ("images", "masks", "parsing"):
            (out / sub).mkdir(parents=True, exist_ok=True)

    def add(self, name: str, identity: str, image, pose: Pose, mask) -> str:
        self.poses[name] = save_crop(self.out, name, image, pose, mask, self.size)
        self.identity[name] = identity
        return name


def self_pairs_of(writer: _Writer, photo: Path, per_photo: int, rng, detector,
                  both_ways: bool = False) -> list[tuple[str, str]]:
    """Write one photo and ``per_photo`` warp renders of it into perturbed poses; (render, photo) pairs, and with
    ``both_ways`` (photo, render) pairs too. Empty when nobody with both shoulders and hips is found in it;
    ImageReadError when it cannot be read."""
    image = load_image(photo)
    try:
        det = detector.detect(image, str(photo))
    except NoPersonError:
        return []
    if not det.pose.torso_valid():
        return []
    ident = f"{photo.parent.name}-{photo.stem}"
    target = writer.add(f"{ident}.png", ident, image, det.pose, det.mask)
    moved = [perturb_pose(det.pose, rng) for _ in range(per_photo)]
    pairs = []
    for k, (t, (render, mask)) in enumerate(zip(moved, warped(image, det.pose, det.mask, moved))):
        pairs.append((writer.add(f"{ident}-w{k}.png", ident, render, t, mask), target))
    return pairs + [(b, a) for a, b in pairs] if both_ways else pairs


def same_person_pairs(writer: _Writer, folder: Path, detector, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Real pairs of one person in two poses from a folder of their photos (split by time, as prepare does)."""
    names = []
    for photo in _photos([folder], set()):
        try:
            image = load_image(photo)
            det = detector.detect(image, str(photo))
        except (ImageReadError, NoPersonError):
            continue
        if det.pose.torso_valid():
            names.append(writer.add(f"{folder.name}-{photo.stem}.png", folder.name, image, det.pose, det.mask))
    if len(names) < 2:  # a folder of nothing usable added nothing, without a word
        raise DatasetError(f"{folder}: --same-person needs two photos of the person with their torso found; "
                           f"{'one was' if names else 'none was'}")
    split = split_people({folder.name: names})
    rng = np.random.default_rng([seed, 7])
    out = {}
    for s in ("train", "test"):
        own = [n for n in names if split[n] == s]
        pairs = [(a, b) for a in own for b in own if a != b]
        cap = SAME_PERSON_PAIRS if s == "train" else SAME_PERSON_PAIRS // 10
        out[s] = [pairs[i] for i in sorted(rng.permutation(len(pairs))[:cap])]
    return out


def mix_in(writer: _Writer, other: Path, pairs: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """A seeded sample of ``pairs`` train pairs (and a tenth as many test pairs) of another dataset folder in
    this one's format (the procedural people), its files linked (copied across devices), names prefixed."""
    from .dataset_format import locate

    rng = np.random.default_rng([seed, 8])
    info = locate(other, "train").info or {}
    if tuple(info.get("image_size", ())) != tuple(writer.size):
        raise DatasetError(f"{other}: images are {info.get('image_size')}, not {list(writer.size)}")
    poses = {}
    for ann in locate(other, "train").annotations:
        poses.update(read_annotations(ann, writer.size))
    ident = read_identities(other / "identities.csv") if (other / "identities.csv").is_file() else {}
    out = {}
    for s, n in (("train", pairs), ("test", max(1, pairs // 10))):
        rows = read_pairs(locate(other, s).pairs)
        picked = [rows[i][:2] for i in sorted(rng.permutation(len(rows))[:n])]
        for name in {x for ab in picked for x in ab}:
            new = f"{other.name}-{name}"
            for src, dst in ((other / "images" / name, writer.out / "images" / new),
                             (mask_path(other, name), mask_path(writer.out, new)),
                             (parsing_path(other, name), parsing_path(writer.out, new))):
                if src.is_file() and not dst.exists():
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copyfile(src, dst)
            writer.poses[new] = poses[name]
            writer.identity[new] = f"{other.name}-{ident.get(name, name)}"
        out[s] = [(f"{other.name}-{a}", f"{other.name}-{b}") for a, b in picked]
    return out


def build_self_pairs(photos: list[Path], out: Path, per_photo: int = 8, size=(256, 128), seed: int = 0,
                     same_person: list[Path] = (), mix: Path | None = None, mix_pairs: int = 0,
                     heldout: Path | None = HELDOUT, both_ways: bool = False, progress=None) -> dict:
    """The dataset folder ``out`` (new or empty): self-pairs of every photo in ``photos`` (files or folders) but
    the kept-out ones, real pairs of each ``same_person`` folder, ``mix_pairs`` pairs of ``mix``. Every
    ``TEST_EVERY``-th photo's pairs are test pairs (validation on people training never saw)."""
    from engine.detect import PoseDetector, native_stderr_silenced

    t0 = time.perf_counter()
    out = Path(out)
    check_output_folder(out, [*photos, *same_person, mix], "dataset folder")
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out}: folder is not empty; self-pairs writes a new dataset")
    files = _photos(photos, kept_out(heldout))
    if not files and not same_person:
        raise DatasetError(f"{', '.join(map(str, photos))}: no photos (after the kept-out ones)")
    writer = _Writer(out, (int(size[0]), int(size[1])))
    rng = np.random.default_rng(seed)
    pairs = {"train": [], "test": []}
    skipped, unreadable = [], []
    with native_stderr_silenced(), PoseDetector() as detector:
        for k, photo in enumerate(files):
            try:
                got = self_pairs_of(writer, photo, per_photo, rng, detector, both_ways)
            except ImageReadError as e:
                got = []
                unreadable.append(str(e))
            if not got:
                skipped.append(photo.name)
            pairs["test" if k % TEST_EVERY == TEST_EVERY - 1 else "train"] += got
            if progress:
                progress(k + 1, len(files), photo.name)
        for folder in same_person:
            for s, p in same_person_pairs(writer, Path(folder), detector, seed).items():
                pairs[s] += p
    real = {s: len(p) for s, p in pairs.items()}
    if mix is not None and mix_pairs:
        for s, p in mix_in(writer, Path(mix), mix_pairs, seed).items():
            pairs[s] += p
    if not pairs["train"]:
        if unreadable and len(unreadable) == len(files):  # not "no person": the photos themselves are at fault
            raise DatasetError(f"none of the {len(files)} photos could be read (" + "; ".join(unreadable[:2]) +
                               ("; ..." if len(unreadable) > 2 else "") + ")")
        raise DatasetError(f"{out}: no training pairs (no person with shoulders and hips found in the photos)")
    for why in unreadable:  # said once the dataset is made: a refusal is its one line alone
        print(f"{why}; skipped", file=sys.stderr)
    # validation reads the first test pairs: shuffled, so real and mixed-in ones both come first
    pairs["test"] = [pairs["test"][i] for i in rng.permutation(len(pairs["test"]))]
    write_annotations(out / "annotations.csv", writer.poses)
    for s, p in pairs.items():
        write_pairs(out / f"pairs-{s}.csv", p)
    write_identities(out / "identities.csv", writer.identity)
    options = {"per_photo": per_photo, "both_ways": both_ways, "seed": seed, "photos": len(files), "skipped": skipped,
               "same_person": [str(p) for p in same_person], "mix": str(mix) if mix else None,
               "mix_pairs": mix_pairs, "real_pairs": real}
    write_dataset_json(out, writer.size, len(set(writer.identity.values())), len(writer.poses), "coarse",
                       "self-pairs: " + "; ".join(map(str, [*photos, *same_person])), self_pairs=options)
    return {"out": str(out), "images": len(writer.poses), "pairs_train": len(pairs["train"]),
            "pairs_test": len(pairs["test"]), "real_pairs": real, "skipped": skipped,
            "seconds": round(time.perf_counter() - t0, 1)}


def personal_pairs(photos: list[Path], out: Path, per_photo: int = 24, size=(256, 128), seed: int = 0) -> dict:
    """Quick personalisation from one photo (or a few) of one person: the photos' self-pairs, all for training
    (the person's own photo is what the app will render from), a few held back for validation. For the
    personal protocol: ``fit --data out --init STARTER`` then reads it like a prepared video."""
    out = Path(out)
    summary = build_self_pairs(photos, out, per_photo, size, seed, heldout=None)
    rows = read_pairs(out / "pairs-train.csv") + read_pairs(out / "pairs-test.csv")
    pairs = [(a, b) for a, b, _ in rows]
    n_test = max(1, len(pairs) // 8)
    write_pairs(out / "pairs-train.csv", pairs[n_test:])
    write_pairs(out / "pairs-test.csv", pairs[:n_test])
    return dict(summary, pairs_train=len(pairs) - n_test, pairs_test=n_test)


# ================================================================================================================
# CLI (mounted by training/cli.py as `poseeditor-train self-pairs`)
# ================================================================================================================
def add_arguments(parser) -> None:
    parser.description = ("Make a dataset of real-people pairs from single photos: each photo is the target of "
                          "pairs whose source is the warp engine's render of it in a perturbed pose. Photos in "
                          "benchmarks/heldout.json are never read.")
    parser.add_argument("sources", nargs="+", type=named_path, metavar="SRC",
                        help="photos or photo folders (any people)")
    parser.add_argument("-o", "--out", required=True, type=named_path, help="dataset folder (new)")
    parser.add_argument("--per-photo", type=int_in(1, 1000), metavar="N",
                        help="perturbed renders per photo (default 8; 24 with --personal)")
    parser.add_argument("--size", type=parse_size, default=(256, 128), help="crop size HEIGHTxWIDTH (256x128)")
    parser.add_argument("--same-person", type=Path, action="append", default=[], metavar="DIR",
                        help="a folder of photos of one person: real pairs of two poses (repeatable)")
    parser.add_argument("--mix", type=Path, help="another dataset folder to sample pairs from (the procedural one)")
    parser.add_argument("--mix-pairs", type=int_in(0, 10_000_000), default=0, metavar="N",
                        help="how many of --mix's train pairs (a tenth as many test pairs)")
    parser.add_argument("--seed", type=int_in(0, 2**31 - 1), default=0)
    parser.add_argument("--both-ways", action="store_true",
                        help="also the reverse pairs: the photo as source, its render as target (the network "
                             "learns to move the photo's own limbs where the pose says, as the warp engine does)")
    parser.add_argument("--personal", action="store_true",
                        help="one person's own photo(s): nothing kept out, one pair in eight held back for "
                             "validation (quick personalisation; no --same-person or --mix)")


def run(args) -> int:
    for src in args.sources:  # a name mistyped among several was passed over without a word
        check_input(src, DatasetError, "photo", folder=True)
    if args.mix is not None and not args.mix_pairs:
        raise DatasetError("--mix needs --mix-pairs N")
    if args.personal and (args.mix is not None or args.same_person):
        raise DatasetError("--personal takes one person's photos only (no --mix, no --same-person)")
    per = {} if args.per_photo is None else {"per_photo": args.per_photo}  # each function's own default
    with removed_if_refused(args.out):  # a refusal leaves no half-made dataset (images of nobody's pairs)
        s = personal_pairs(args.sources, args.out, size=args.size, seed=args.seed, **per) if args.personal else \
            build_self_pairs(args.sources, args.out, size=args.size, seed=args.seed, same_person=args.same_person,
                             mix=args.mix, mix_pairs=args.mix_pairs, both_ways=args.both_ways, **per)
    print(f"{s['out']}: {s['images']} images; {s['pairs_train']} train / {s['pairs_test']} test pairs "
          f"(real: {s['real_pairs']['train']} / {s['real_pairs']['test']}); "
          f"{len(s['skipped'])} photos without a usable person; {s['seconds']:.1f} s", file=sys.stdout)
    return 0
