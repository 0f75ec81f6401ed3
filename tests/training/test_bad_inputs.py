"""The training CLI's bad inputs: every row exits 2 with one line, no traceback, and leaves its inputs as they
were. Writing faults are real: a read-only file system and a full disk are tmpfs mounts made in a private mount
namespace (``unshare``), so the CLI meets the operating system's own EROFS and ENOSPC."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ("from engine import registry\n"
        "registry.register('tiny-test', 'tests.training.test_loop:TinyBackend', 'tests.training.test_loop:TinyRecipe')\n")
FIT = ["--backend", "tiny-test", "--steps", "3", "--batch", "2", "--val-every", "1", "--ckpt-every", "1",
       "--grid-every", "1", "--val-pairs", "2", "--no-progress"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A dataset and a finished tiny run (step 3) to point the bad arguments at."""
    from tests.training.test_loop import tiny_run

    tmp = tmp_path_factory.mktemp("bad")
    run = tiny_run(tmp, 3, 4)
    (tmp / "file.txt").write_text("a file, not a folder")
    return {"tmp": tmp, "data": tmp / "data", "run": run, "file": tmp / "file.txt"}


@pytest.fixture
def tiny(monkeypatch):
    from tests.training.test_loop import register_tiny

    register_tiny(monkeypatch)


def digest(*folders) -> dict:
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file() and p.name != ".lock":
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line(capsys, code, *words):
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("poseeditor-train: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


def config(w, name, value) -> str:
    p = w["tmp"] / f"{name}.json"
    p.write_text(json.dumps(value))
    return str(p)


def raw(w, name, text) -> str:
    (w["tmp"] / name).write_text(text)
    return str(w["tmp"] / name)


def damaged_run(w, name, content) -> str:
    run = w["tmp"] / name
    if not run.exists():
        shutil.copytree(w["run"], run)
    p = run / "training_options.json"
    p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    return str(run)


def options_with(w, **changes) -> str:
    record = json.loads((w["run"] / "training_options.json").read_text())
    record["options"].update(changes)
    return json.dumps(record)


# (id, argv from the world, words of the one line)
ROWS = [
    ("config-steps-text", lambda w: ["fit", "--data", str(w["data"]), "--config", config(w, "c1", {"steps": "abc"}),
                                     *FIT[:2]], ['"steps" must be a whole number']),
    ("config-net-number", lambda w: ["fit", "--data", str(w["data"]), "--config", config(w, "c2", {"net": 5}),
                                     *FIT[:2]], ['"net" must be a JSON object']),
    ("config-augment-text", lambda w: ["fit", "--data", str(w["data"]), "--config",
                                       config(w, "c3", {"augment": "yes"}), *FIT[:2]], ["true or false"]),
    ("config-size-text", lambda w: ["fit", "--data", str(w["data"]), "--config", config(w, "c4", {"size": "big"}),
                                    *FIT[:2]], ["two whole numbers"]),
    ("config-batch-list", lambda w: ["fit", "--data", str(w["data"]), "--config", config(w, "c5", {"batch": [8]}),
                                     *FIT[:2]], ['"batch" must be a whole number']),
    ("config-budget-negative", lambda w: ["fit", "--data", str(w["data"]), "--config",
                                          config(w, "c6", {"time_budget": -1}), *FIT[:2]], ["above 0"]),
    ("config-missing", lambda w: ["fit", "--data", str(w["data"]), "--config", str(w["tmp"] / "none.json"),
                                  *FIT[:2]], ["cannot read the config file"]),
    ("config-not-json", lambda w: ["fit", "--data", str(w["data"]), "--config", raw(w, "c8.json", "{steps: 3"),
                                   *FIT[:2]], ["not valid JSON"]),
    ("config-a-list", lambda w: ["fit", "--data", str(w["data"]), "--config", raw(w, "c9.json", "[3]"), *FIT[:2]],
     ["the config file must be a JSON object"]),
    ("config-recipe-list", lambda w: ["fit", "--data", str(w["data"]), "--config", config(w, "c7", {"recipe": []}),
                                      *FIT[:2]], ['"recipe" must be a JSON object']),
    ("width-absurd", lambda w: ["fit", "--data", str(w["data"]), "--width", "1000", *FIT[:2]], ["lower its width"]),
    ("attention-width-200", lambda w: ["fit", "--data", str(w["data"]), "--backend", "attention", "--width", "200"],
     ["the attention network: network configuration refused: width 200.0", "lower its width"]),
    ("config-size-absurd", lambda w: ["fit", "--data", str(w["data"]), "--config",
                                      config(w, "c10", {"size": [2 ** 20, 2 ** 20]}), *FIT[:2]],
     ["from 16 to 1024"]),
    ("config-net-size-absurd", lambda w: ["fit", "--data", str(w["data"]), "--config",
                                          config(w, "c11", {"net": {"image_size": [2 ** 20, 64]}}), *FIT[:2]],
     ["the network config: image size", "from 16 to 1024"]),
    ("net-unknown-option", lambda w: ["fit", "--data", str(w["data"]), "--net", '{"widht": 0.5}', *FIT[:2]],
     ["network has no option 'widht'", "its options:", "width"]),
    ("workers-negative", lambda w: ["fit", "--data", str(w["data"]), "--workers", "-1", *FIT[:2]],
     ["--workers must be at least 0"]),
    ("time-budget-negative", lambda w: ["fit", "--data", str(w["data"]), "--time-budget", "-1", *FIT[:2]],
     ["--time-budget must be a number above 0"]),
    ("time-budget-zero", lambda w: ["fit", "--data", str(w["data"]), "--time-budget", "0", *FIT[:2]],
     ["--time-budget must be a number above 0"]),
    ("stop-after-zero", lambda w: ["fit", "--data", str(w["data"]), "--stop-after", "0", *FIT[:2]],
     ["--stop-after must be at least 1"]),
    ("resume-steps-below", lambda w: ["fit", "--resume", str(w["run"]), "--steps", "2"],
     ["--steps 2 is below the run's step 3"]),
    ("options-not-json", lambda w: ["fit", "--resume", damaged_run(w, "r1", "{not json")], ["not valid JSON"]),
    ("options-a-list", lambda w: ["fit", "--resume", damaged_run(w, "r2", "[1, 2]")],
     ["training_options.json: the run record must be a JSON object"]),
    ("options-options-text", lambda w: ["fit", "--resume", damaged_run(w, "r3", '{"options": "x"}')], ["damaged"]),
    ("options-batch-text", lambda w: ["fit", "--resume", damaged_run(w, "r4", options_with(w, batch="x"))],
     ['"batch" (damaged?) must be a whole number']),
    ("options-binary", lambda w: ["fit", "--resume", damaged_run(w, "r5", b"\xff\xfe{\x00\x9c")],
     ["training_options.json: not readable JSON"]),
    ("options-no-backend", lambda w: ["fit", "--resume", damaged_run(w, "r7", options_with(w, backend=None))],
     ['the run\'s record has no "backend"', "give --backend"]),
    ("evaluate-limit-negative", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]), "--no-pckh",
                                           "--limit", "-1"], ["--limit must be at least 1"]),
    ("evaluate-limit-zero", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]), "--no-pckh",
                                       "--limit", "0"], ["--limit must be at least 1"]),
    ("evaluate-sources-zero", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]), "--no-pckh",
                                         "--num-sources", "0"], ["--num-sources: 0 is out of range (1..16)"]),
    # a tester's (2026-12-07): tracebacks, out-of-memory and 20,000-character lines before these were checked
    ("fit-seed-negative", lambda w: ["fit", "--data", str(w["data"]), "--seed", "-1", *FIT],
     ["--seed must be at least 0"]),
    ("fit-seed-too-large", lambda w: ["fit", "--data", str(w["data"]), "--seed", str(10 ** 20), *FIT],
     ["--seed must be at most"]),
    ("fit-sources-a-thousand", lambda w: ["fit", "--data", str(w["data"]), "--num-sources", "1000", *FIT],
     ["--num-sources must be at most 16"]),
    ("fit-gan-start-negative", lambda w: ["fit", "--data", str(w["data"]), "--gan-start-step", "-1", *FIT],
     ["--gan-start-step must be at least 0"]),
    ("fit-config-nested-deep", lambda w: ["fit", "--data", str(w["data"]), "--config",
                                          raw(w, "deep.json", '{"steps": ' + "[" * 5000 + "]" * 5000 + "}"),
                                          *FIT], ["nested too deeply"]),
    ("fit-net-nested-deep", lambda w: ["fit", "--data", str(w["data"]), "--net",
                                       '{"a":' * 5000 + "1" + "}" * 5000, *FIT], ["not a JSON object"]),
    ("options-nested-deep", lambda w: ["fit", "--resume", damaged_run(w, "r6", '{"a":' * 100000 + "1" + "}" * 100000)],
     ["nested too deeply"]),
    ("evaluate-sources-a-thousand", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]),
                                               "--no-pckh", "--num-sources", "99999"], ["out of range (1..16)"]),
    ("bench-steps-zero", lambda w: ["bench", "--backend", "attention", "--steps", "0"], ["out of range"]),
    ("bench-batch-zero", lambda w: ["bench", "--backend", "attention", "--batch", "0"], ["out of range"]),
    ("bench-sources-zero", lambda w: ["bench", "--backend", "attention", "--num-sources", "0"], ["out of range"]),
    ("bench-width-100", lambda w: ["bench", "--backend", "attention", "--width", "100"], ["width 100.0 is outside"]),
    ("bench-width-nan", lambda w: ["bench", "--backend", "attention", "--width", "nan"], ["width nan is outside"]),
    ("fit-runs-missing-folder", lambda w: ["fit", "--data", str(w["data"]), "--runs-dir",
                                           str(w["tmp"] / "nowhere" / "runs"), *FIT], ["does not exist"]),
    ("fit-runs-under-a-file", lambda w: ["fit", "--data", str(w["data"]), "--runs-dir", str(w["file"] / "runs"),
                                         *FIT], ["is a file, not a folder"]),
    ("fit-runs-is-a-file", lambda w: ["fit", "--data", str(w["data"]), "--runs-dir", str(w["file"]), *FIT],
     ["is a file, not a folder"]),
    ("export-missing-folder", lambda w: ["export", str(w["run"]), "-o", str(w["tmp"] / "nowhere" / "w.safetensors")],
     ["does not exist"]),
    ("export-under-a-file", lambda w: ["export", str(w["run"]), "-o", str(w["file"] / "w.safetensors")],
     ["is a file, not a folder"]),
    ("export-onto-its-input", lambda w: ["export", str(w["run"]), "-o", str(w["run"] / "best.safetensors")],
     ["overwrite an input"]),
    ("evaluate-missing-folder", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]), "--no-pckh",
                                           "--limit", "1", "-o", str(w["tmp"] / "nowhere" / "eval")],
     ["does not exist"]),
    ("evaluate-under-a-file", lambda w: ["evaluate", "--backend", "warp", "--data", str(w["data"]), "--no-pckh",
                                         "--limit", "1", "-o", str(w["file"] / "eval")], ["is a file, not a folder"]),
    # the whole split in one batch took a minute a step and 9 GB (a newcomer's --batch 100000); said before a run
    # folder is made
    ("fit-batch-above-the-pairs", lambda w: ["fit", "--data", str(w["data"]), "--runs-dir", str(w["tmp"] / "runs"),
                                             *FIT, "--batch", "100000"], ["larger than the training pairs"]),
    ("fit-runs-inside-the-data", lambda w: ["fit", "--data", str(w["data"]), "--runs-dir", str(w["data"] / "runs"),
                                            *FIT], ["inside the dataset"]),
    ("import-our-own-weights", lambda w: ["import-weights", str(w["run"] / "best.safetensors"), "--backend",
                                          "attention", "-o", str(w["tmp"] / "imported.safetensors")],
     ["already PoseEditor weights"]),
    ("export-into-the-runs-data", lambda w: ["export", str(w["run"]), "-o", str(w["data"] / "w.safetensors")],
     ["inside the input"]),
]


@pytest.mark.parametrize("argv,words", [pytest.param(a, w, id=i) for i, a, w in ROWS])
def test_bad_input_is_one_line_and_touches_nothing(tiny, world, capsys, argv, words):
    args = argv(world)
    before = digest(world["tmp"])  # the dataset, the runs (damaged ones too), the configs
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as e:  # a usage error: argparse exits, as it does from the command line
        code = e.code
    one_line(capsys, code, *words)
    assert digest(world["tmp"]) == before
    assert not (world["tmp"] / "nowhere").exists()


def test_a_run_being_trained_refuses_a_second_resume(tiny, world, capsys):
    """Two resumes of one run at once: the second refuses in one line while the first holds the run's lock."""
    from training.run_dir import RunLock

    run = world["tmp"] / "locked"
    shutil.copytree(world["run"], run)
    before = digest(run)
    lock = RunLock(run)  # what a training process holds for as long as it trains the run
    try:
        one_line(capsys, main(["fit", "--resume", str(run), "--steps", "5"]), "being trained by another process")
    finally:
        lock.release()
    assert digest(run) == before
    assert main(["fit", "--resume", str(run), "--steps", "4"]) == 0  # free again: it resumes
    rows = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]


# ----- the operating system's own faults, in a private mount namespace --------------------------------------------
# (tmpfs: its size in KB, or None for read-only; argv from the world and the tmpfs's folder). Each runs on a tmpfs
# of its own, all in one process (the CLI's main, as its console script calls it): one torch import, not eight.
FAULTS = {
    # a fit's sizes run out at the best weights, the first grid and the first checkpoint (the writers that are not
    # engine.fileio's own; the statistics, written by it, run out first on a 16 KB disk)
    "fit-40": (40, lambda w, m: ["fit", "--data", w["data"], "--runs-dir", f"{m}/runs", *FIT]),
    "fit-60": (60, lambda w, m: ["fit", "--data", w["data"], "--runs-dir", f"{m}/runs", *FIT]),
    "fit-100": (100, lambda w, m: ["fit", "--data", w["data"], "--runs-dir", f"{m}/runs", *FIT]),
    "export-full": (16, lambda w, m: ["export", w["run"], "-o", f"{m}/w.safetensors"]),
    "evaluate-full": (4, lambda w, m: ["evaluate", "--backend", "warp", "--data", w["data"], "--no-pckh",
                                       "--limit", "2", "-o", f"{m}/e"]),
    "fit-read-only": (None, lambda w, m: ["fit", "--data", w["data"], "--runs-dir", m, *FIT]),
    "export-read-only": (None, lambda w, m: ["export", w["run"], "-o", f"{m}/w.safetensors"]),
    "evaluate-read-only": (None, lambda w, m: ["evaluate", "--backend", "warp", "--data", w["data"], "--no-pckh",
                                               "--limit", "1", "-o", f"{m}/e"]),
}
# In the namespace: mounts each case's tmpfs, runs the CLI with the process's stderr (fd 2, native writers too)
# in a file, and records its exit status, that stderr, the .part files left on its tmpfs and the inputs' hashes.
RUNNER = TINY + """
import hashlib, json, os, subprocess, sys, tempfile
from pathlib import Path
from training.cli import main
cases, inputs = json.loads(Path(sys.argv[1]).read_text())

def digest():
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for folder in inputs
            for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != ".lock"}

out = {}
for key, (mnt, opts, args) in cases.items():
    before = digest()
    Path(mnt).mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt]).returncode:
        sys.exit(99)
    with tempfile.TemporaryFile() as err:
        sys.stderr.flush()
        fd2 = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code
        except BaseException:
            import traceback
            traceback.print_exc()
            code = -1
        finally:
            sys.stderr.flush()
            os.dup2(fd2, 2)
            os.close(fd2)
        err.seek(0)
        out[key] = {"code": code, "stderr": err.read().decode("utf-8", "replace"),
                    "parts": sorted(str(p) for p in Path(mnt).rglob("*.part*")),
                    "inputs_before": before, "inputs_after": digest()}
Path(sys.argv[2]).write_text(json.dumps(out))
"""


@pytest.fixture(scope="module")
def faults(world, tmp_path_factory):
    """{case: {"code", "stderr", "parts", "inputs_before", "inputs_after"}} of every FAULTS case, run once in this
    test run (tests/once.py); the inputs are the run and the dataset the cases read."""
    from tests.once import once_per_run

    def compute(folder):
        if shutil.which("unshare") is None:
            pytest.skip("no unshare here")
        w = {k: str(v) for k, v in world.items()}
        cases = {key: (str(folder / key), "ro" if kb is None else f"size={kb}k", argv(w, str(folder / key)))
                 for key, (kb, argv) in FAULTS.items()}
        (folder / "cases.json").write_text(json.dumps([cases, [w["run"], w["data"]]]))
        proc = subprocess.run(["unshare", "-rm", sys.executable, "-c", RUNNER, str(folder / "cases.json"),
                               str(folder / "results.json")], capture_output=True, text=True, timeout=600, cwd=ROOT)
        if proc.returncode == 99:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        assert proc.returncode == 0, proc.stderr
        return json.loads((folder / "results.json").read_text())

    return once_per_run(tmp_path_factory, "bad-inputs-faults", compute)


def _check(result, *words):
    """One line, exit 2, no traceback, no .part file left, and the run and the dataset it read as they were."""
    code, err, parts = result["code"], result["stderr"], result["parts"]
    lines = [ln for ln in err.splitlines() if ln.startswith("poseeditor-train")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("poseeditor-train: error: "), err
    assert "Traceback" not in err and parts == [], (err, parts)
    for w in words:
        assert w in lines[0], lines[0]
    assert result["inputs_after"] == result["inputs_before"]


@pytest.mark.parametrize("size_kb", [40, 60, 100])
def test_fit_on_a_full_disk_is_one_line_and_leaves_no_part_file(faults, size_kb):
    _check(faults[f"fit-{size_kb}"], "the disk is full")


def test_export_and_evaluate_on_a_full_disk(faults):
    _check(faults["export-full"], "the disk is full")
    _check(faults["evaluate-full"], "the disk is full")


def test_read_only_outputs(faults):
    """Root writes into a chmod 500 folder; a read-only file system stops everyone."""
    _check(faults["fit-read-only"], "read-only")
    _check(faults["export-read-only"], "not writable")
    _check(faults["evaluate-read-only"], "read-only")


def test_two_processes_resuming_one_run(world, tmp_path, capsys, tiny):
    """A resume running in another process holds the lock: a second resume refuses, the first one goes on."""
    import signal
    import time

    run = tmp_path / "shared-run"
    shutil.copytree(world["run"], run)
    runner = "import sys\n" + TINY + "from training.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    first = subprocess.Popen([sys.executable, "-c", runner, "fit", "--resume", str(run), "--steps", "100000",
                              "--val-every", "1000000", "--grid-every", "1000000", "--ckpt-every", "1000000"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and '"step": 5,' not in (run / "stats.jsonl").read_text():
            time.sleep(0.1)
        capsys.readouterr()
        one_line(capsys, main(["fit", "--resume", str(run), "--steps", "100000"]), "being trained by another process")
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    rows = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert steps == list(range(1, len(steps) + 1)) and rows[-1]["kind"] == "done"  # one writer, no lost rows
