"""What a personalisation's files and folders are called: its workspace's folders (``folders``), the user's name
made a file stem (``slug``; its accent rule ``plain_if_unwritable`` is also the app's weights file names'), the
next free name in a folder (``unique_path``, also the app's weights library's), and the photos staged for
prepare (``stage_photos``). Qt-free and torch-free, like training.protocol, which
names its folders with them.
"""
from __future__ import annotations

import re
import shutil
import sys
import unicodedata
from pathlib import Path


def folders(data_dir) -> dict[str, Path]:
    """Where a personalisation keeps its dataset, run and result under one folder (the app's user data folder)."""
    data_dir = Path(data_dir)
    return {"datasets": data_dir / "datasets", "runs": data_dir / "runs", "weights": data_dir / "weights"}


# names Windows keeps for devices, with or without an extension ("con.txt"); the superscript digits count too
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{n}" for d in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3")}


def _slug_char(c: str) -> str:
    # letters and digits of any alphabet, with their combining marks (an Indic vowel sign is not alnum); '.' and
    # '-'; a run of anything else (spaces, '_', path separators, <>:"|?*, control characters, punctuation) is one '-'
    return c if c.isalnum() or c in ".-" or unicodedata.category(c).startswith("M") else "\0"


def slug(name: str) -> str:
    """A folder/file stem from the user's name, in their letters ("phötö 1" -> "phötö-1"): what prepare's
    identity rules keep (no '_', no spaces), and a name every file system takes: no path separators or characters
    Windows refuses, no '.' or '-' at the ends, never a Windows device name ("CON" -> "CON-person"). Accents are
    dropped ("photo-1") only where the file system's encoding cannot write the letters (an ASCII C locale)."""
    s = unicodedata.normalize("NFC", str(name))  # macOS hands over names decomposed ("o" + combining diaeresis)
    s = plain_if_unwritable(s)
    s = re.sub("\0+", "-", "".join(map(_slug_char, s))).strip("-.")[:60].strip("-.") or "person"
    if s.split(".")[0].upper() in _RESERVED:
        head, dot, rest = s.partition(".")
        s = f"{head}-person{dot}{rest}"
    return s


def plain_if_unwritable(text: str) -> str:
    """``text`` as it is, or spelt without accents ("phötö" -> "photo", letters with no plain spelling dropped)
    when the file system's encoding cannot write it (an ASCII C locale). The one rule the dataset folder (slug)
    and the app's weights file (weights_library.safe_name) follow, so both spell a name the same way."""
    if _encodable(text):
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _encodable(text: str) -> bool:
    """Whether the file system's encoding can write ``text`` (UTF-8 nearly everywhere; ASCII under C locales)."""
    try:
        text.encode(sys.getfilesystemencoding() or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def unique_path(folder, stem: str, suffix: str = ".safetensors") -> Path:
    """folder/stem.suffix, or stem-2, stem-3, ... when taken."""
    p = Path(folder) / f"{stem}{suffix}"
    k = 2
    while p.exists():
        p = Path(folder) / f"{stem}-{k}{suffix}"
        k += 1
    return p


def stage_photos(photos: list[str], folder: Path, person: str) -> Path:
    """Copy the photos to folder/person/ in the user's order: prepare reads a sub-folder as one person."""
    from engine.images import IMAGE_SUFFIXES

    dest = Path(folder) / person
    dest.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(photos):
        p = Path(p)
        suffix = p.suffix.lower() if p.suffix.lower() in IMAGE_SUFFIXES else ".png"
        shutil.copyfile(p, dest / f"{i:03d}-{slug(p.stem)}{suffix}")
    return Path(folder)
