"""The dataset folder format on disk: writing it, and reading it (and pose-gan / PATN folders) with every bad
byte, row or field ending in a DatasetError that names the file and the line.

The folder format (written by ``poseeditor-train prepare`` and ``synth``)::

    dataset.json                 {"format": "poseeditor-dataset", "version": 1, "image_size": [H, W], ...}
    images/<name>.png            RGB crops at image_size
    masks/<stem>.png             person mask, uint8 0..255
    parsing/<stem>.png           part labels, uint8 (engine.parsing's labels unless dataset.json says otherwise)
    annotations.csv              pose-gan format: ``name:keypoints_y:keypoints_x`` then ``name: [y..]: [x..]``
    pairs-train.csv, pairs-test.csv   ``from,to`` (same identity)
    identities.csv               ``name,identity``

A pose-gan / PATN folder is read as it is: its ``*annotation*.csv`` + ``*pairs*<split>*.csv`` + an images
folder (``images/``, ``<split>/`` or ``*/<split>/``).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from engine.errors import DatasetError, PoseFormatError
from engine.fileio import atomic_output, atomic_write_text, read_text, text_lines
from engine.pose import Pose, parse_json

FORMAT = "poseeditor-dataset"
FORMAT_VERSION = 1
ANNOTATION_HEADER = "name:keypoints_y:keypoints_x"
SPLITS = ("train", "test")
MAX_IMAGE_SIDE = 8192  # dataset.json's image_size: beyond it, a damaged file


# ================================================================================================================
# Writing the format
# ================================================================================================================
def write_annotations(path: Path, poses: dict[str, Pose]) -> None:
    lines = [ANNOTATION_HEADER] + [poses[name].to_posegan_row(name) for name in sorted(poses)]
    atomic_write_text(path, "\n".join(lines) + "\n", "dataset file")


def write_pairs(path: Path, pairs: Iterable[tuple[str, str]]) -> None:
    lines = ["from,to"] + [f"{a},{b}" for a, b in pairs]
    atomic_write_text(path, "\n".join(lines) + "\n", "dataset file")


def write_identities(path: Path, identities: dict[str, str]) -> None:
    lines = ["name,identity"] + [f"{n},{identities[n]}" for n in sorted(identities)]
    atomic_write_text(path, "\n".join(lines) + "\n", "dataset file")


def write_dataset_json(root: Path, image_size: tuple[int, int], identities: int, images: int, parsing: str,
                       source: str, **extra) -> dict:
    import datetime

    info = {"format": FORMAT, "version": FORMAT_VERSION, "image_size": [int(image_size[0]), int(image_size[1])],
            "identities": int(identities), "images": int(images), "parsing": parsing, "num_parsing_labels": 11,
            "source": source, "created": datetime.datetime.now().isoformat(timespec="seconds"), **extra}
    atomic_write_text(Path(root) / "dataset.json", json.dumps(info, indent=1) + "\n", "dataset file")
    return info


def mask_path(root: Path, name: str) -> Path:
    return Path(root) / "masks" / (Path(name).stem + ".png")


def parsing_path(root: Path, name: str) -> Path:
    return Path(root) / "parsing" / (Path(name).stem + ".png")


def save_png(path: Path, array: np.ndarray) -> None:
    """PNG, atomically (engine.fileio): a killed run leaves either the whole file or none."""
    arr = np.ascontiguousarray(array)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    with atomic_output(path, "image", suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), arr):
            raise DatasetError(f"{path}: cannot write image")


def make_pairs(names: list[str], usable: set[str]) -> list[tuple[str, str]]:
    """Every ordered pair of two different usable images among ``names`` (one person's images of one split)."""
    ok = [n for n in names if n in usable]
    return [(a, b) for a in ok for b in ok if a != b]


# ================================================================================================================
# Reading the format (and pose-gan / PATN folders)
# ================================================================================================================
def read_annotations(path: Path, size: tuple[int, int] | None) -> dict[str, Pose]:
    """name -> Pose from a pose-gan annotation CSV; DatasetError naming the file and line on a bad row.

    ``size`` is (H, W) of the images; None leaves width/height 0 for the caller to set.
    """
    path = Path(path)
    h, w = size if size else (0, 0)
    poses: dict[str, Pose] = {}
    first = True
    for lineno, line in text_lines(path, DatasetError, "annotation CSV"):
        if not line.strip():
            continue
        if first:
            first = False
            if "keypoints" in line.replace(" ", ""):
                continue  # header
        try:
            name, pose = Pose.from_posegan_row(line, max(w, 1), max(h, 1))
        except PoseFormatError as e:
            raise DatasetError(f"{path}: line {lineno}: {e}") from None
        if not name:
            raise DatasetError(f"{path}: line {lineno}: empty image name")
        if name in poses:
            raise DatasetError(f"{path}: line {lineno}: image {name!r} is annotated twice")
        poses[name] = pose
    if not poses:
        raise DatasetError(f"{path}: no annotation rows")
    return poses


def _csv_rows(path: Path, what: str):
    """(line number, fields) of a small CSV, one physical line per row (names never hold newlines)."""
    for lineno, line in text_lines(path, DatasetError, what):
        try:
            row = next(csv.reader([line]), [])
        except csv.Error as e:
            raise DatasetError(f"{path}: line {lineno}: {e}") from None
        yield lineno, row


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    """(from, to, line number) rows of a pairs CSV (header ``from,to``)."""
    path = Path(path)
    out = []
    for lineno, row in _csv_rows(path, "pairs CSV"):
        if not row or not "".join(row).strip():
            continue
        if lineno == 1 and {c.strip().lower() for c in row} & {"from", "to", "imga", "imgb"}:
            continue  # header: from,to (pose-gan), imgA,imgB (pose-transfer), ,from,to (pandas)
        if len(row) != 2 and not (len(row) == 3 and row[0].strip().isdigit()):
            raise DatasetError(f"{path}: line {lineno}: expected 'from,to', got {len(row)} fields")
        a, b = (row[1], row[2]) if len(row) == 3 else (row[0], row[1])  # pandas writes an index column
        if not a.strip() or not b.strip():
            raise DatasetError(f"{path}: line {lineno}: an empty image name")
        out.append((a.strip(), b.strip(), lineno))
    return out


def split_images(root: Path, split: str) -> set[str]:
    """The image names a set's ``pairs-{split}.csv`` names (empty without one): the test split's are the images
    prepare held apart, the refiner's targets."""
    path = Path(root) / f"pairs-{split}.csv"
    return {n for a, b, _ in read_pairs(path) for n in (a, b)} if path.is_file() else set()


def read_identities(path: Path) -> dict[str, str]:
    path = Path(path)
    out = {}
    for lineno, row in _csv_rows(path, "identities CSV"):
        if not row or not "".join(row).strip() or (lineno == 1 and row[0].strip().lower() == "name"):
            continue
        if len(row) != 2:
            raise DatasetError(f"{path}: line {lineno}: expected 'name,identity', got {len(row)} fields")
        out[row[0].strip()] = row[1].strip()
    return out


def read_dataset_json(root: Path) -> dict | None:
    """dataset.json checked field by field (types and ranges), or None when the folder has none."""
    p = Path(root) / "dataset.json"
    if not p.exists():
        return None
    info = parse_json(read_text(p, DatasetError, "dataset description"), p, DatasetError)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        what = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise DatasetError(f"{p}: not a {FORMAT} description (format {what!r})")
    version = info.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise DatasetError(f"{p}: 'version' must be a whole number")
    if version > FORMAT_VERSION:
        raise DatasetError(f"{p}: format version {version} is newer than this program reads")
    if "image_size" in info:
        size = info["image_size"]
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_IMAGE_SIDE for v in size)):
            raise DatasetError(f"{p}: 'image_size' must be [height, width], each 1..{MAX_IMAGE_SIDE} pixels")
    for key in ("parsing", "source", "created"):
        if key in info and not isinstance(info[key], str):
            raise DatasetError(f"{p}: {key!r} must be a string")
    flip = info.get("parsing_flip")
    if flip is not None and not (isinstance(flip, dict) and all(
            str(k).isdigit() and int(k) < 256 and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256
            for k, v in flip.items())):
        raise DatasetError(f"{p}: 'parsing_flip' must map label numbers to label numbers (0..255)")
    return info


def _pick(root: Path, exact: str, pattern: str, split: str | None) -> list[Path]:
    if (root / exact).is_file():
        return [root / exact]
    found = sorted(p for p in root.rglob(pattern) if p.is_file() and ".part" not in p.name)
    found = [p for p in found if len(p.relative_to(root).parts) <= 3]
    if split is not None:
        own = [p for p in found if split in p.stem.lower()]
        if own:
            return own
        other = [s for s in SPLITS if s != split]
        found = [p for p in found if not any(s in p.stem.lower() for s in other)]
    return found


@dataclass
class DatasetFiles:
    """Where a dataset folder keeps its parts, for one split."""

    root: Path
    annotations: list[Path]
    pairs: Path
    identities: Path | None
    info: dict | None


def locate(root: Path, split: str) -> DatasetFiles:
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: is a file, not a dataset folder")
    if not any(root.iterdir()):
        raise DatasetError(f"{root}: the folder is empty (run `poseeditor-train prepare` or `synth` into it)")
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    info = read_dataset_json(root)
    ann = _pick(root, "annotations.csv", "*annotation*.csv", None)
    if not ann:
        raise DatasetError(f"{root}: no annotation CSV (annotations.csv or *annotation*.csv)")
    pairs = _pick(root, f"pairs-{split}.csv", f"*pairs*{split}*.csv", split)
    if not pairs:
        raise DatasetError(f"{root}: no pairs CSV for the {split} split (pairs-{split}.csv or *pairs*{split}*.csv)")
    ident = root / "identities.csv"
    return DatasetFiles(root, ann, pairs[0], ident if ident.is_file() else None, info)


def _image_dirs(root: Path, split: str) -> list[Path]:
    dirs = [root / "images", root / split]
    dirs += sorted(p for p in root.glob(f"*/{split}") if p.is_dir())
    dirs += sorted(p for p in root.glob("*/images") if p.is_dir())
    return [d for d in dirs if d.is_dir()]


def _components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find over pairs: each image -> a representative of its connected group (one person)."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}
