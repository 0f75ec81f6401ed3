"""The bad-input table's helpers: one folder of inputs (good and bad) made once, and a runner that calls a CLI
the way a user does and checks the promise: exit status 2, one line on stderr starting with the program's name
and "error:", no traceback, no input changed, nothing left in the output folder.

Inputs are made here, from the project's own procedural person and starter weights, so the table runs in a
fresh clone. Every row names its inputs as ``{name}`` (a file of this folder) and its outputs under ``{out}``.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
STARTERS = ROOT / "resources" / "weights"


@dataclass
class Row:
    """One bad input: the CLI ("render" or "train"), its arguments, the words the error must contain."""

    id: str
    cli: str
    args: list[str]
    match: str
    setup: Callable | None = None   # setup(out_dir, inputs) before the run: symlinks, hard links, folders
    fault: str | None = None        # "full-disk": every write ends in ENOSPC
    writes: bool = False            # the command may leave files in {out} (a journal of what it did)
    params: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)  # environment variables set for the run


def _weights_bytes(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _safetensors_with(src: Path, dst: Path, *, meta_edit=None, tensor_edit=None) -> None:
    """A copy of ``src`` with its PoseEditor metadata and/or one tensor changed (the rest stays valid)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        meta = json.loads(f.metadata()["poseeditor"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta_edit:
        meta_edit(meta)
    if tensor_edit:
        tensor_edit(tensors)
    save_file(tensors, str(dst), metadata={"poseeditor": json.dumps(meta)})


def make_inputs(d: Path) -> dict[str, Path]:
    import torch
    from PIL import Image

    from training.synth import make_synthetic_dataset, synth_image

    p: dict[str, Path] = {}

    def put(name, data):
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
        p[Path(name).stem] = path
        return path

    img, _, pose = synth_image(7, 0, 0, (256, 128))
    Image.fromarray(img).save(d / "photo.png")
    p["photo"] = d / "photo.png"
    pose.save_json(d / "pose.json")
    p["pose"] = d / "pose.json"
    good = json.loads((d / "pose.json").read_text())
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 200, 3)).astype(np.uint8)).save(d / "noise.png")
    p["noise"] = d / "noise.png"
    put("notes.txt", "not an image\n")
    put("empty.png", b"")
    put("truncated.png", (d / "photo.png").read_bytes()[:200])
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(d / "tiny.png")
    p["tiny"] = d / "tiny.png"

    def pose_variant(name, edit=None, text=None, raw=None):
        if raw is not None:
            return put(name, raw)
        if text is not None:
            return put(name, text)
        data = json.loads(json.dumps(good))
        edit(data)
        return put(name, json.dumps(data, allow_nan=True))

    kp = lambda v: lambda g: g["people"][0].__setitem__("pose_keypoints_2d", v)  # noqa: E731
    pose_variant("p_notjson.json", text="{not json")
    pose_variant("p_empty.json", text="")
    pose_variant("p_deep.json", text="[" * 100_000 + "]" * 100_000)
    pose_variant("p_inf_canvas.json", lambda g: g.__setitem__("canvas_width", float("inf")))
    pose_variant("p_nan_canvas.json", lambda g: g.__setitem__("canvas_height", float("nan")))
    pose_variant("p_huge_canvas.json", lambda g: g.__setitem__("canvas_width", 1e308))
    pose_variant("p_zero_canvas.json", lambda g: g.__setitem__("canvas_width", 0))
    pose_variant("p_str_canvas.json", lambda g: g.__setitem__("canvas_height", "tall"))
    pose_variant("p_1e308.json", kp([1e308, 1e308, 1.0] * 18))
    pose_variant("p_nan_kp.json", kp([float("nan"), 1.0, 1.0] * 18))
    pose_variant("p_str_kp.json", kp(["a", "b", "c"] * 18))
    pose_variant("p_short_kp.json", kp([1.0, 2.0, 1.0] * 17))
    pose_variant("p_nested_kp.json", kp([[1.0, 2.0, 1.0]] * 18))
    pose_variant("p_bigint.json", text='{"people": [{"pose_keypoints_2d": [' + "9" * 5000 + "]}]}")
    pose_variant("p_no_people.json", lambda g: g.__setitem__("people", []))
    pose_variant("p_people_dict.json", lambda g: g.__setitem__("people", {"a": 1}))
    pose_variant("p_number.json", text="42")
    pose_variant("p_latin1.json", raw=json.dumps(good).replace("1.3", '"caf\u00e9"').encode("latin-1"))
    pose_variant("p_all_missing.json", kp([0, 0, 0] * 18))
    pose_variant("p_other_canvas.json", lambda g: g.update(canvas_width=640, canvas_height=480))

    # weights: the dgan starter and variants of it (dgan's starter is 128x64 cpu-small, ~7 MB at fp16)
    import shutil

    p["root"] = d
    dgan = shutil.copy(STARTERS / "dgan.safetensors", d / "w_dgan.safetensors")
    att = shutil.copy(STARTERS / "attention.safetensors", d / "w_attention.safetensors")
    p["w_dgan"], p["w_attention"] = Path(dgan), Path(att)
    dgan, att = Path(dgan), Path(att)

    def nan_at(v):
        def edit(t):
            k = sorted(t)[len(t) // 2]
            t[k] = t[k].clone()
            t[k].view(-1)[0] = v
        return edit

    for name, kw in {
        "w_nan": dict(tensor_edit=nan_at(float("nan"))),
        "w_inf": dict(tensor_edit=nan_at(float("inf"))),
        "w_cfg_list": dict(meta_edit=lambda m: m.__setitem__("config", [1, 2])),
        "w_size_str": dict(meta_edit=lambda m: m.__setitem__("image_size", "big")),
        "w_backend_num": dict(meta_edit=lambda m: m.__setitem__("backend", 7)),
        "w_backend_zzz": dict(meta_edit=lambda m: m.__setitem__("backend", "zzz")),
        "w_width200": dict(meta_edit=lambda m: m["config"].__setitem__("width", 200)),
        "w_size2e20": dict(meta_edit=lambda m: m["config"].__setitem__("image_size", [2 ** 20, 2 ** 19])),
        "w_nan_width": dict(meta_edit=lambda m: m["config"].__setitem__("width", float("nan"))),
    }.items():
        _safetensors_with(dgan, d / f"{name}.safetensors", **kw)
        p[name] = d / f"{name}.safetensors"
    for name, ngf in (("w_ngf_huge", 100_000), ("w_ngf_1000", 1000)):
        _safetensors_with(att, d / f"{name}.safetensors", meta_edit=lambda m, n=ngf: m["config"].__setitem__("ngf", n))
        p[name] = d / f"{name}.safetensors"
    put("w_truncated.safetensors", dgan.read_bytes()[:100_000])
    put("w_header_garbage.safetensors", struct.pack("<Q", 40) + b"\xff" * 40 + b"\0" * 64)
    put("w_header_list.safetensors", struct.pack("<Q", 6) + b"[1, 2]" + b"\0" * 8)
    bad_entry = {"a": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}}
    put("w_header_offsets.safetensors", _weights_bytes(bad_entry, b"\0" * 4))
    put("w_meta_notjson.safetensors", _weights_bytes({"__metadata__": {"poseeditor": "{oops"}}))
    put("w_meta_deep.safetensors", _weights_bytes({"__metadata__": {"poseeditor": "[" * 50_000 + "]" * 50_000}}))
    put("w_meta_numbers.safetensors", _weights_bytes({"__metadata__": {"poseeditor": 5}}))
    put("w_no_meta.safetensors", _weights_bytes({}))
    put("w_h5.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
    put("w_zip.pth", b"PK\x03\x04" + b"\0" * 100)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    put("w_evil.pth", pickle.dumps({"netG": Evil()}))
    torch.save({"net.conv.weight": torch.zeros(3, 3)}, d / "w_wrong_layout.pth")
    p["w_wrong_layout"] = d / "w_wrong_layout.pth"
    put("w_garbage.pth", b"this is not a torch file at all" * 10)

    # datasets: a small good one, then damaged copies
    ds = d / "ds"
    make_synthetic_dataset(ds, 2, 3, (32, 16), seed=1)
    p["ds"] = ds

    def ds_variant(name, **files):
        v = d / name
        shutil.copytree(ds, v)
        for rel, content in files.items():
            target = v / rel.replace("__", "/")
            (target.write_bytes if isinstance(content, bytes) else target.write_text)(content)
        p[name] = v

    ann = (ds / "annotations.csv").read_text().splitlines()
    info = json.loads((ds / "dataset.json").read_text())
    ds_variant("ds_json_list", **{"dataset.json": "[1, 2]"})
    ds_variant("ds_json_size", **{"dataset.json": json.dumps(dict(info, image_size="big"))})
    ds_variant("ds_json_version", **{"dataset.json": json.dumps(dict(info, version="one"))})
    ds_variant("ds_json_flip", **{"dataset.json": json.dumps(dict(info, parsing_flip=[1, 2]))})
    latin1 = ("\n".join(ann[:2]) + "\ncaf\u00e9" + ann[2] + "\n").encode("latin-1")
    ds_variant("ds_latin1", **{"annotations.csv": latin1})
    ds_variant("ds_short_row", **{"annotations.csv": "\n".join(ann[:2] + [ann[2].rsplit(",", 1)[0] + "]"]) + "\n"})
    ds_variant("ds_nan_row", **{"annotations.csv": "\n".join(ann[:2] + [re.sub(r"\[-?\d+", "[NaN", ann[2], 1)]) + "\n"})
    ds_variant("ds_pairs_fields", **{"pairs-test.csv": "from,to\na,b,c,d\n"})
    ds_variant("ds_pairs_missing", **{"pairs-test.csv": "from,to\nnobody.png,0000_000.png\n"})

    # prepare sources
    (d / "people").mkdir()
    Image.fromarray(img).save(d / "people" / "a_1.png")
    p["people"] = d / "people"
    (d / "emptydir").mkdir()
    p["emptydir"] = d / "emptydir"
    put("broken.mp4", b"\0\0\0\x18ftypmp42" + b"\x13" * 500)
    # a recording stopped before its first frame: a movie box with its header and no track
    put("noframes.mp4", b"\0\0\0\x18ftypisom\0\0\2\0isommp41" + b"\0\0\0\x08mdat"
        + b"\0\0\0\x74moov" + b"\0\0\0\x6cmvhd" + bytes(100))
    (d / "nobody").mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 200, 3)).astype(np.uint8)).save(
        d / "nobody" / "x_1.png")
    p["nobody"] = d / "nobody"
    posegan = d / "posegan"
    posegan.mkdir()
    (posegan / "fashion-annotation-train.csv").write_text(ANN_HEADER + "\n")
    (posegan / "fashion-pairs-train.csv").write_text("from,to\n")
    p["posegan"] = posegan
    return p


ANN_HEADER = "name:keypoints_y:keypoints_x"


def tree_digest(folder: Path) -> dict[str, object]:
    """path -> what says whether a file under ``folder`` was touched: its size, inode and modification and change
    times (symlinks by their target's text). Any write or replacement changes the change time, which no program
    can set back (os.utime changes it too), so this tells as much as a hash of the contents and more (a file
    rewritten with the same bytes counts as touched), without reading the ~100 MB of weights twice a row (that
    was 29 s of the table's 30)."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            st = path.stat()
            out[rel] = (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        elif path.is_dir():
            out[rel] = "dir"
    return out


def run_cli(cli: str, argv: list[str], capfd) -> tuple[int, str]:
    """Run a CLI's main in this process as its console script would; (exit status, stderr)."""
    if cli == "render":
        from engine.cli_render import main
    else:
        from training.cli import main
    capfd.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    err = capfd.readouterr().err
    return code, err


def check_one_line(prog: str, code, err: str, match: str) -> None:
    lines = err.splitlines()
    assert code == 2, f"exit status {code}, stderr: {err[-2000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{err[-3000:]}"
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    assert re.search(match, lines[0], re.IGNORECASE), f"{match!r} not in {lines[0]!r}"


def python_exe() -> str:
    return sys.executable
