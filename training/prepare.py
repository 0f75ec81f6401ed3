"""``poseeditor-train prepare``: photos or a video of people -> a dataset folder (training/dataset_format.py).

Sources:
- a video (one person): frames sampled (every ``frame_step``-th, at most ``max_frames`` spread over the video);
  the identity is the video's file name;
- a folder with one sub-folder per person (the sub-folder's name is the identity);
- a folder of photos with Market-1501-style names, ``<identity>_<rest>.jpg``; a photo whose name has no '_'
  belongs to the person named after its folder;
- a single photo (identity as for a folder's photo); a folder may also hold videos (one person each).

Each image: pose and person mask from engine.detect (mediapipe; the mask is its segmentation), a crop around the
body with engine.framing.frame_for (the engine frames people the same way at inference), coarse part parsing
(engine.parsing.coarse_parsing). Images with nobody in them are skipped and counted.

Splits: with several people, ~20% of the people are test and never appear in training (the Market-1501 /
DeepFashion protocol). With one person, the split is by time: the last ~20% of the frames (or photos, by name)
are test, after a gap of a few frames so that test poses are not near-copies of the last training ones.
Pairs: every ordered pair of two images of one person in one split where both show both hips and shoulders.

Re-running continues: every processed image (or frame with nobody) is recorded in prepare-journal.jsonl as soon
as its files are written, so an interrupted run loses nothing and a re-run detects only what is new. Nothing in
the folder is ever deleted; the CSVs and dataset.json are rewritten (atomically) from the journal each time.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from engine.errors import DatasetError, ImageReadError, NoPersonError
from engine.fileio import atomic_write_text, check_output_folder, named_path, removed_if_refused, text_lines
from engine.images import load_image
from engine.pose import NUM_JOINTS, Pose

from .dataset_format import (make_pairs, mask_path, parsing_path, read_dataset_json, save_png,
                             write_annotations, write_dataset_json, write_identities, write_pairs)
from .protocol import MAX_FRAME_SELF_PAIRS, TEST_FRACTION, split_counts
from .synth import int_in, parse_size
from .prepare_sources import Item, collect_items
from .video import is_video, read_frames

JOURNAL = "prepare-journal.jsonl"
MAX_PAIRS_PER_PERSON = 20_000  # a long video gives n^2 pairs; a seeded sample keeps the CSV reasonable
MIN_MASK_FRACTION = 0.01       # a segmentation this empty failed: draw the mask from the pose instead


# ================================================================================================================
# The journal: what has been done, image by image
# ================================================================================================================
def read_journal(out: Path) -> dict[str, dict]:
    """name -> latest record. A line cut short by a kill, or damaged, is ignored (its image is simply done
    again): a record counts only with the fields the dataset is written from, of their types."""
    path = out / JOURNAL
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    for _, line in text_lines(path, DatasetError, "prepare journal"):
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if _valid_record(rec):
            records[rec["name"]] = rec
    return records


def has_prepared(out: Path) -> bool:
    """Whether a dataset folder's journal records any image done (a folder to keep: a run again resumes it)."""
    return any(r.get("status") == "ok" for r in read_journal(out).values())


def _valid_record(rec) -> bool:
    if not (isinstance(rec, dict) and isinstance(rec.get("name"), str) and isinstance(rec.get("status"), str)):
        return False
    if rec["status"] != "ok":
        return True
    try:
        _record_pose(rec, (1, 1))
    except (KeyError, TypeError, ValueError):
        return False
    return isinstance(rec.get("identity"), str) and isinstance(rec.get("order"), list) and \
        isinstance(rec.get("group"), str)


def _valid_render(x, out: Path) -> bool:
    """A ``renders`` entry of a record: a name, a pose, and its files there (a damaged one is left out)."""
    try:
        _record_pose(x, (1, 1))
    except (KeyError, TypeError, ValueError):
        return False
    return isinstance(x.get("name"), str) and _files_done(out, x["name"])


def _record_pose(rec: dict, size: tuple[int, int]) -> Pose:
    h, w = size
    return Pose(np.asarray(rec["xy"], np.float32).reshape(NUM_JOINTS, 2), np.asarray(rec["present"], bool), w, h,
                np.asarray(rec.get("confidence", rec["present"]), np.float32))


def _files_done(out: Path, name: str) -> bool:
    return (out / "images" / name).is_file() and mask_path(out, name).is_file() and parsing_path(out, name).is_file()


def _check_output(out: Path, size: tuple[int, int], sources=()) -> None:
    """The output folder is new, empty, or an earlier prepare run at the same size: never anything else, never
    beside or inside the sources, and writable (engine.fileio.check_output_folder)."""
    check_output_folder(out, sources, "dataset folder")
    if not out.exists() or not any(out.iterdir()):
        return
    info = read_dataset_json(out) if (out / "dataset.json").exists() else None
    if info is None and not (out / JOURNAL).exists():
        raise DatasetError(f"{out}: folder is not empty and is not a prepared dataset; choose a new folder")
    if info is not None and tuple(info.get("image_size", ())) != tuple(size):
        h, w = info.get("image_size", ("?", "?"))
        raise DatasetError(f"{out}: was prepared at {h}x{w}, not {size[0]}x{size[1]}; use another folder "
                           f"(images of two sizes cannot share a dataset)")
    if info is not None and info.get("parsing") == "synthetic":
        raise DatasetError(f"{out}: holds a synthetic dataset; prepare into another folder")


# ================================================================================================================
# One image
# ================================================================================================================
def _process(image: np.ndarray, item: Item, out: Path, size: tuple[int, int], detector,
             box_height: float | None = None, self_pairs: int = 0) -> dict:
    det = detector.detect(image, name=str(item.source) + (f" frame {item.frame}" if item.frame is not None else ""))
    pose = save_crop(out, item.name, image, det.pose, det.mask, size, box_height)
    rec = _pose_fields(pose)
    rec["score"] = round(det.score, 4)
    if item.frame is None:  # a photo: its outfit, to tell photos of someone else among one person's (run())
        from engine.outfit import outfit

        rec["outfit"] = {k: [c.round(1).tolist(), s.round(3).tolist()]
                         for k, (c, s) in outfit(image, det.pose, det.mask).items()}
    if self_pairs and det.pose.torso_valid():
        rec["renders"] = _renders(image, det, item.name, out, size, self_pairs)
    return rec


def _unlike(records: list[dict]) -> list[str]:
    """A line for each photo whose person looks like someone else than the first photo of their identity
    (engine.outfit): one identity's photos are trained as one person, and a newcomer's five different people
    were, silently (the woman drawn in the man's trousers)."""
    from engine.outfit import looks_different

    first: dict[str, tuple] = {}
    lines = []
    for r in sorted(records, key=lambda r: (r["identity"], tuple(r["order"]), r["name"])):
        got = {k: (np.asarray(c, np.float32), np.asarray(w, np.float32))
               for k, (c, w) in (r.get("outfit") or {}).items()}
        if not got:
            continue
        if r["identity"] not in first:
            first[r["identity"]] = (r["source"], got)
        elif looks_different(first[r["identity"]][1], got):
            lines.append(f"{r['source']}: looks like another person, or other clothes, than "
                         f"{first[r['identity']][0]}; its pairs teach them as one person")
    return lines


def _pose_fields(pose: Pose) -> dict:
    return {"xy": np.round(pose.xy, 2).tolist(), "present": pose.present.astype(int).tolist(),
            "confidence": np.round(pose.confidence, 3).tolist()}


# The warp renders of a frame are made at this many times the crop's height, not at the video's resolution: the
# crop is all that is kept (a 1080p frame's 16 renders took ~1.6 s of CPU at full size).
RENDER_SCALE = 2.0


def _renders(image: np.ndarray, det, name: str, out: Path, size: tuple[int, int], n: int) -> list[dict]:
    """``n`` self-pairs of one image (training.selfpairs: the warp engine's render of it in a perturbed pose as a
    source, the image itself as the target), saved as ``<stem>-w<k>.png`` with the image as ``<stem>-t.png``; each
    entry's name, pose in the crop and target. Each is framed on its own pose, as the app frames a photo, not at
    the video's one scale (the experiment that won framed them so). Seeded by the image's name: a resumed run
    draws the same poses."""
    import zlib

    import cv2

    from engine.framing import frame_for

    from .selfpairs import perturb_pose, warped

    # the frame's scale (model pixels per photo pixel) times RENDER_SCALE
    k = min(1.0, RENDER_SCALE * float(frame_for(det.pose, size).matrix[0, 0]))
    pose, mask = det.pose, det.mask
    if k < 1.0:
        h, w = image.shape[:2]
        sw, sh = max(1, round(w * k)), max(1, round(h * k))
        image = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
        pose = pose.transformed(np.array([[sw / w, 0, 0], [0, sh / h, 0]]), sw, sh)
    rng = np.random.default_rng([2026, zlib.crc32(name.encode())])
    # perturb_pose gives the pose itself when no limb can move and stay in the photo: that pair would teach nothing
    moved = [t for t in (perturb_pose(pose, rng) for _ in range(n)) if t is not pose]
    if not moved:
        return []
    stem = Path(name).stem
    target = f"{stem}-t.png"
    entries = [{"name": target, **_pose_fields(save_crop(out, target, image, pose, mask, size)), "target": None}]
    for j, (t, (render, render_mask)) in enumerate(zip(moved, warped(image, pose, mask, moved))):
        rname = f"{stem}-w{j}.png"
        entries.append({"name": rname, **_pose_fields(save_crop(out, rname, render, t, render_mask, size)),
                        "target": target})
    return entries


def save_crop(out: Path, name: str, image: np.ndarray, pose: Pose, mask: np.ndarray, size: tuple[int, int],
              box_height: float | None = None) -> Pose:
    """One dataset image: the crop around ``pose`` (engine.framing), its mask and parsing; the pose in the crop."""
    from engine.detect import pose_mask
    from engine.framing import frame_for
    from engine.parsing import coarse_parsing

    frame = frame_for(pose, size, box_height=box_height)
    crop = frame.crop(image)
    pose = frame.pose_to_model(pose)
    mask = np.clip(frame.crop_mask(mask), 0, 1)
    if (mask > 0.5).mean() < MIN_MASK_FRACTION:
        mask = pose_mask(pose)
    parsing = coarse_parsing(pose, mask)
    save_png(out / "images" / name, crop)
    save_png(mask_path(out, name), np.round(mask * 255).astype(np.uint8))
    save_png(parsing_path(out, name), parsing.astype(np.uint8))
    return pose


# ================================================================================================================
# Splits and pairs
# ================================================================================================================
def split_people(by_person: dict[str, list[str]], usable: set[str] | None = None) -> dict[str, str]:
    """name -> 'train' | 'test' | 'gap' (in no split). ``by_person`` lists each person's names in time order;
    ``usable`` are the images that may be in a pair (None: all). One person is split by time over their usable
    images; with several, the test people are picked among those with two usable images (a pair)."""
    people = sorted(by_person)
    ok = (lambda n: True) if usable is None else (lambda n: n in usable)  # noqa: E731
    split: dict[str, str] = {}
    if len(people) == 1:
        names = [n for n in by_person[people[0]] if ok(n)]
        for nm in by_person[people[0]]:
            split[nm] = "train"  # images in no pair: their split does not matter
        n = len(names)
        _, gap, n_test = split_counts(n)
        for i, nm in enumerate(names):
            split[nm] = "test" if i >= n - n_test else "gap" if i >= n - n_test - gap else "train"
        return split
    pairable = [p for p in people if sum(map(ok, by_person[p])) >= 2]
    n_test = max(1, round(TEST_FRACTION * len(pairable))) if len(pairable) >= 2 else 0
    # spread test people over the sorted list (every k-th) rather than taking the last names alphabetically
    step = len(pairable) / max(n_test, 1)
    test_people = {pairable[min(len(pairable) - 1, int(step * (i + 0.5)))] for i in range(n_test)}
    for p in people:
        for nm in by_person[p]:
            split[nm] = "test" if p in test_people else "train"
    return split


def _pairs_for(names: list[str], usable: set[str], seed: int) -> list[tuple[str, str]]:
    pairs = make_pairs(names, usable)
    if len(pairs) > MAX_PAIRS_PER_PERSON:
        pick = np.random.default_rng(seed).choice(len(pairs), MAX_PAIRS_PER_PERSON, replace=False)
        pairs = [pairs[i] for i in sorted(pick)]
    return pairs


def write_dataset(out: Path, records: list[dict], size: tuple[int, int], sources: list[str], options: dict) -> dict:
    """Write the CSVs and dataset.json from the journal's records of images that are there. A record's
    ``renders`` (``--self-pairs``) add train pairs (render, image) for the images in the train split."""
    poses = {r["name"]: _record_pose(r, size) for r in records}
    idents = {r["name"]: r["identity"] for r in records}
    renders = {r["name"]: [x for x in r.get("renders") or () if _valid_render(x, out)] for r in records}
    by_person: dict[str, list[str]] = {}
    for r in sorted(records, key=lambda r: (r["identity"], tuple(r["order"]), r["name"])):
        by_person.setdefault(r["identity"], []).append(r["name"])
    usable = {n for n, p in poses.items() if p.torso_valid()}
    split = split_people(by_person, usable)
    pairs = {"train": [], "test": []}
    for k, (person, names) in enumerate(sorted(by_person.items())):
        for s in pairs:
            pairs[s] += _pairs_for([n for n in names if split[n] == s], usable, k)
    self_pairs = 0
    for name, rs in sorted(renders.items()):
        if split.get(name) == "train" and name in usable:  # a test frame's renders would leak it into training
            for x in rs:
                poses[x["name"]], idents[x["name"]] = _record_pose(x, size), idents[name]
                if x.get("target") in poses:
                    pairs["train"].append((x["name"], x["target"]))
                    self_pairs += 1
    write_annotations(out / "annotations.csv", poses)
    for s in pairs:
        write_pairs(out / f"pairs-{s}.csv", pairs[s])
    write_identities(out / "identities.csv", idents)
    write_dataset_json(out, size, len(by_person), len(poses), "coarse", "; ".join(sources), prepare=options)
    return {"identities": len(by_person), "images": len(poses), "usable": len(usable),
            "pairs_train": len(pairs["train"]), "pairs_test": len(pairs["test"]), "self_pairs": self_pairs,
            "test_identities": sorted({idents[n] for n, s in split.items() if s == "test"})
            if len(by_person) > 1 else []}


# ================================================================================================================
# The whole run
# ================================================================================================================
def prepare_dataset(sources: list[Path], out: Path, size=(256, 176), frame_step: int = 1,
                    max_frames: int | None = None, progress=None, self_pairs: int = 0) -> dict:
    """Prepare a dataset from photos and/or videos into ``out``; returns a summary dict.

    ``self_pairs`` N: each image also gives N warp renders of itself in perturbed poses, and those of the images
    in the train split are train pairs (render -> image): poses beyond the video's own, which the person's
    held-apart frames need (docs/personalize-measured.md).

    ``progress(done, total, name)`` is called after each image. Raises DatasetError for unusable sources and,
    after writing what it could, when a source (video or folder) has nobody in it at all.
    """
    t0 = time.perf_counter()
    out = Path(out)
    size = (int(size[0]), int(size[1]))
    if not sources:
        raise DatasetError("no sources given (photos folder or video)")
    _check_output(out, size, sources)
    items = collect_items([Path(s) for s in sources], frame_step, max_frames)
    if not items:
        raise DatasetError(f"{', '.join(map(str, sources))}: nothing to prepare")
    for sub in ("images", "masks", "parsing"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    journal = read_journal(out)

    def done(it: Item) -> bool:
        rec = journal.get(it.name)
        return rec is not None and (rec["status"] != "ok" or _files_done(out, it.name))

    pending = [it for it in items if not done(it)]
    counts = {"new": 0, "no_person": 0, "unreadable": 0}
    no_person_files: list[str] = []
    detect_seconds = 0.0
    if pending:
        from engine.detect import PoseDetector, native_stderr_silenced

        with contextlib.ExitStack() as stack:
            stack.enter_context(native_stderr_silenced())  # the detector's notices come until it is closed
            # joints and outline only: the records keep no hand landmarks, and the parsing saved beside them must
            # be the one datasets.py draws from the records again
            detector = stack.enter_context(PoseDetector(hands=False))
            scales = _video_scales(out, pending, size, detector)
            log = stack.enter_context(open(out / JOURNAL, "a", encoding="utf-8"))
            for k, (it, image) in enumerate(_images(pending)):
                rec = {"name": it.name, "identity": it.identity, "source": str(it.source), "frame": it.frame,
                       "order": list(it.order), "group": it.group}
                t1 = time.perf_counter()
                if isinstance(image, ImageReadError):
                    rec.update(status="unreadable", error=str(image))
                    counts["unreadable"] += 1
                else:
                    try:
                        rec.update(status="ok", **_process(image, it, out, size, detector, scales.get(it.group),
                                                           self_pairs))
                        counts["new"] += 1
                    except NoPersonError:
                        rec["status"] = "no-person"
                        counts["no_person"] += 1
                        no_person_files.append(it.name)
                detect_seconds += time.perf_counter() - t1
                log.write(json.dumps(rec) + "\n")
                log.flush()
                journal[it.name] = rec
                if progress:
                    progress(k + 1, len(pending), it.name)
            log.flush()
            os.fsync(log.fileno())

    # the dataset: everything this folder holds from every run, not only this run's sources
    records = [r for r in journal.values() if r["status"] == "ok" and _files_done(out, r["name"])]
    options = {"size": list(size), "frame_step": frame_step, "max_frames": max_frames, "self_pairs": self_pairs}
    summary = {"out": str(out), "new": counts["new"], "already_done": len(items) - len(pending),
               "no_person": counts["no_person"], "unreadable": counts["unreadable"],
               "no_person_files": no_person_files[:20]}
    if records:
        from .dataset_format import split_images

        held_before = split_images(out, "test")
        summary.update(write_dataset(out, records, size, sorted({r["group"] for r in records}), options))
        moved = held_before & split_images(out, "train")
        if moved:
            # a second source changes how the set is split (one person's frames by time, several people by
            # person): a newcomer's 30 held-out dance frames became training pairs, unremarked
            summary["unlike"] = [f"{out}: {len(moved)} image{'s' * (len(moved) != 1)} held out before "
                                 f"{'are' if len(moved) != 1 else 'is'} now in the training split (the new "
                                 f"sources changed the split): runs and evaluations made on this set before are "
                                 f"not comparable with new ones"]
    summary["unlike"] = summary.get("unlike", []) + _unlike(records)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["seconds_per_image"] = round(detect_seconds / max(1, len(pending)), 4) if pending else 0.0

    # a video or folder in which nobody was found at all is an error (after the others were written)
    groups: dict[str, list[str]] = {}
    for it in items:
        groups.setdefault(it.group, []).append(journal.get(it.name, {}).get("status", "missing"))
    empty = [g for g, st in groups.items() if "ok" not in st]
    if empty:
        g = empty[0]
        kind = "frames" if is_video(Path(g)) else "photos"
        n = len(groups[g])
        unreadable = sum(s == "unreadable" for s in groups[g])
        why = f"none of its {n} {kind} could be read" if unreadable == n else f"no person found in any of its {n} {kind}"
        first = next((journal[it.name].get("error") for it in items if it.group == g and it.name in journal
                      and journal[it.name].get("error")), None)
        if unreadable == n and first:  # say why, as the one photo given was read
            why += f" ({first})"
        rest = f"; the other sources were prepared into {out} ({len(records)} images)" if records else ""
        raise DatasetError(f"{g}: {why}{rest}")
    return summary


VIDEO_SCALES = "video-scales.json"
SCALE_SAMPLES = 16


def _video_scales(out: Path, pending: list[Item], size: tuple[int, int], detector) -> dict[str, float]:
    """One crop height per video, so all its frames share one scale (the camera does not move; a person who
    crouches or leans toward the camera must not be zoomed in). Taken as the 90th percentile of the heights
    frame_for would choose on up to 16 frames spread over the video; kept in video-scales.json so a re-run
    crops new frames at the same scale."""
    from engine.framing import box_height_for

    path = out / VIDEO_SCALES
    try:
        scales = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        scales = {}
    if not isinstance(scales, dict) or not all(isinstance(v, (int, float)) for v in scales.values()):
        scales = {}  # damaged: measured again
    todo: dict[str, list[Item]] = {}
    for it in pending:
        if it.frame is not None and it.group not in scales:
            todo.setdefault(it.group, []).append(it)
    for group, its in todo.items():
        pick = sorted({its[int(k)].frame for k in np.linspace(0, len(its) - 1, min(SCALE_SAMPLES, len(its)))})
        heights = []
        for _, rgb in read_frames(its[0].source, pick):
            try:
                heights.append(box_height_for(detector.detect(rgb).pose, size))
            except NoPersonError:
                pass
        if heights:
            scales[group] = float(np.percentile(heights, 90))
    if todo:
        atomic_write_text(path, json.dumps(scales, indent=1), "video scales")
    return scales


def _images(items: list[Item]):
    """(item, RGB image or ImageReadError) in processing order; each video is read once, sequentially."""
    i = 0
    while i < len(items):
        it = items[i]
        if it.frame is None:
            try:
                yield it, load_image(it.source)
            except ImageReadError as e:
                yield it, e
            i += 1
            continue
        j = i
        while j < len(items) and items[j].source == it.source and items[j].frame is not None:
            j += 1
        run = items[i:j]
        by_frame = {x.frame: x for x in run}
        got = set()
        for f, rgb in read_frames(it.source, list(by_frame)):
            got.add(f)
            yield by_frame[f], rgb
        for x in run:  # frames the container announced but the decoder never delivered
            if x.frame not in got:
                yield x, ImageReadError(f"{x.source}: frame {x.frame} could not be decoded")
        i = j


# ================================================================================================================
# CLI (mounted by training/cli.py as `poseeditor-train prepare`)
# ================================================================================================================
def add_arguments(parser) -> None:
    parser.description = ("Make a training dataset from photos (one sub-folder per person, or Market-style "
                          "<person>_<...>.jpg names) or from a video of one person.")
    parser.add_argument("sources", nargs="+", type=named_path, metavar="SRC",
                        help="photo folder(s), photo(s) or video(s)")
    parser.add_argument("-o", "--out", required=True, type=named_path, help="dataset folder (new, or one to continue)")
    parser.add_argument("--size", type=parse_size, default=(256, 176),
                        help="crop size HEIGHTxWIDTH (default 256x176; e.g. 256x256, 128x64)")
    parser.add_argument("--fps-step", dest="frame_step", type=int_in(1, 1_000_000), default=1, metavar="N",
                        help="take every N-th frame of a video (default 1)")
    parser.add_argument("--max-frames", type=int_in(1, 10_000_000), default=None, metavar="N",
                        help="at most N frames per video, spread over the whole video")
    parser.add_argument("--self-pairs", type=int_in(0, MAX_FRAME_SELF_PAIRS), default=0, metavar="N",
                        help="also N warp renders of each image in moved poses, as train pairs (render -> image)")


def _progress_printer(stream=None, every_s: float | None = None):
    """Progress on stderr: one updating line on a terminal; with ``every_s`` (not a terminal: personalize's child,
    a log) a plain line that often at most, so a long prepare is not silent (a video's 150 frames with their
    self-pairs said nothing for four minutes)."""
    start = time.perf_counter()
    last = [start]

    def show(done, total, name):
        now = time.perf_counter()
        rate = done / max(now - start, 1e-6)
        out = stream or sys.stderr  # looked up each time: detection swaps sys.stderr (native_stderr_silenced)
        if every_s is None:
            end = "\n" if done == total else ""
            out.write(f"\rprepare {done}/{total}  {rate:.1f} img/s  {name[:40]:<40}{end}")
        elif now - last[0] >= every_s:  # not at the end: the summary (or a refusal, alone) follows
            last[0] = now
            left = (total - done) / rate if rate > 0 else 0
            out.write(f"prepare {done}/{total} images, {rate:.2f} a second, ~{left:.0f} s left\n")
        out.flush()
    return show


def run(args) -> int:
    import os

    seen = {}
    for src in args.sources:  # one photo given twice made pairs of the photo with itself
        key = os.path.realpath(src)
        if key in seen:
            raise DatasetError(f"{src}: given twice (as {seen[key]} too)")
        seen[key] = src
    # a folder left without a dataset (nobody found in any photo) goes; a journal of work (a disk full half-way)
    # stays, to resume
    with removed_if_refused(args.out, keep=has_prepared):
        s = prepare_dataset(args.sources, args.out, args.size, args.frame_step, args.max_frames,
                            progress=_progress_printer(every_s=None if sys.stderr.isatty() else 15.0),
                            self_pairs=args.self_pairs)
    skipped = []
    if s["no_person"]:
        skipped.append(f"{s['no_person']} without a person")
    if s["unreadable"]:
        skipped.append(f"{s['unreadable']} unreadable")
    n, people = s.get("images", 0), s.get("identities", 0)
    print(f"{s['out']}: {n} image{'s' * (n != 1)} of {people} {'person' if people == 1 else 'people'} "
          f"({s['new']} new, {s['already_done']} already done"
          f"{', skipped ' + ', '.join(skipped) if skipped else ''}); "
          f"{s.get('pairs_train', 0)} train / {s.get('pairs_test', 0)} test pairs; {s['seconds']:.1f} s")
    for line in s.get("unlike", []):
        print(line, file=sys.stderr)
    if not s.get("pairs_train"):
        # fit would refuse it later; a one-frame video passed here with exit 0 (a newcomer review)
        print(f"{s['out']}: no training pairs: fit needs two usable images of one person, or use --self-pairs "
              f"(or `personalize`, which makes them)", file=sys.stderr)
    return 0
