"""At first launch, on real photos no training saw (benchmarks/heldout.json), every backend's starter render with
a raised arm is found by the pose detector with the arm raised. Skipped without ../shared/data.

Measure other weights the same way (before committing them as starters):
    PYTHONPATH=. python tests/backends/test_raised_arm_real.py [BACKEND=WEIGHTS.safetensors ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.conftest import SHARED_DATA  # noqa: E402
from tests.engine.test_photo_kinds import (FULL_BODY, arm_reads_raised, photo_kinds, raised_arm,  # noqa: E402
                                           reads_raised)

NETWORKS = ("dgan", "dgan-sa", "attention", "spgnet", "pnr")
KEPT_OUT_FULL_BODY = [f"{k}.jpg" for k in range(45, 55)]  # fashion-real's kept-out run: mostly full body
# Left out, measured: the detector does not read the raised arm even in the warp engine's render, which moves
# the photo's own arm: a back view whose raised hand leaves the photo (45), a photo framed so tightly that the
# raised hand lands outside it (46), a side view whose arm can only be held out level (53)
UNREADABLE = ("fashion-real/45.jpg", "fashion-real/46.jpg", "fashion-real/53.jpg")


def kept_out_photos(kinds: dict | None = None) -> dict:
    """name -> RGB photo: fashion-real 45-54 and the real full-body photo kinds (of ``kinds``, made when not
    given); all kept out of training."""
    from engine.images import load_image

    kept = json.loads((ROOT / "benchmarks" / "heldout.json").read_text())["photos_kept_out"]
    photos = {f"fashion-real/{n}": load_image(SHARED_DATA / "fashion-real" / n)
              for n in KEPT_OUT_FULL_BODY if n in kept["fashion-real"] and f"fashion-real/{n}" not in UNREADABLE}
    kinds = photo_kinds() if kinds is None else kinds
    photos.update({k: kinds[k] for k in FULL_BODY if k in kinds and not k.startswith("synth")})
    return photos


def raised_arm_cases(det) -> list:
    """(name, photo, detection, target pose, side) of each kept-out photo with a whole arm to raise, detected by
    ``det`` (a PoseDetector): for the scripts that measure weights outside pytest (main, benchmarks/bench_paste.py)."""
    out = []
    for name, img in kept_out_photos().items():
        d = det.detect(img, name)
        if d.pose.has("r_shoulder", "r_elbow", "r_wrist") or d.pose.has("l_shoulder", "l_elbow", "l_wrist"):
            out.append((name, img, d, *raised_arm(d.pose)))
    return out


@pytest.fixture(scope="module")
def cases(render_cache):
    """(name, photo, detection) of each kept-out photo with a whole arm to raise (detections and renders are
    the session's, shared with the photo kinds' tests)."""
    if not (SHARED_DATA / "fashion-real").is_dir():
        pytest.skip(f"needs the shared real photos ({SHARED_DATA})")
    out = []
    for name, img in kept_out_photos(render_cache.memo("photo kinds", photo_kinds)).items():
        d = render_cache.detect(name, img)
        if d.pose.has("r_shoulder", "r_elbow", "r_wrist") or d.pose.has("l_shoulder", "l_elbow", "l_wrist"):
            out.append((name, img, d))
    assert len(out) >= 8, [c[0] for c in out]
    return out


def test_the_photos_arm_is_not_read_raised_before_the_edit(cases, render_cache):
    """The check can fail: on the photo itself the raised wrist is not found where the edit puts it."""
    for name, img, d in cases:
        assert not reads_raised(render_cache, "warp", name, img, d, whole_body=True)[1], name


# Every starter's render is read raised on all 10: with the starter's weights a network leaves the photo's own
# limbs to the warp engine (engine.backends.base.NeuralBackend.leans_on_the_photo). Drawn by the networks, the
# raised arm was read in dgan 8, dgan-sa 8, attention 9, spgnet 9, pnr 9: faint, blurred or discoloured arms,
# missed most on the fine-patterned dresses (50, 51) and the patterned sweater (47).
@pytest.fixture(scope="module")
def starter_reads(cases, render_cache):
    """backend -> {photo: raised arm read}."""
    def reads(backend):
        assert backend == "warp" or render_cache.backend(backend).weights_info.kind == "starter"
        return {name: reads_raised(render_cache, backend, name, img, d, whole_body=True)[0]
                for name, img, d in cases}
    return reads


@pytest.mark.parametrize("backend", ("warp",) + NETWORKS)
def test_a_raised_arm_is_found_raised_in_each_starter_render(backend, starter_reads):
    got = starter_reads(backend)
    missed = [k for k, ok in got.items() if not ok]
    assert len(got) == 10 and not missed, f"{backend}: raised arm not found in {len(missed)}/{len(got)}: {missed}"


def read_raised(backend, cases, detector, renders: dict | None = None) -> dict[str, bool]:
    """name -> whether the detector finds the raised arm raised in ``backend``'s render, for ``cases`` of
    (name, photo, detection, raised target, side); ``renders`` (given) receives each render by name. Used by
    main() below and by scripts/train_starters.py's checkpoint selection."""
    got = {}
    for name, img, d, target, side in cases:
        out = backend.render(backend.encode_sources([img], [d.pose], [d.mask]), target)
        got[name] = arm_reads_raised(detector, out, d.pose, target, side)
        if renders is not None:
            renders[name] = out
    return got


def main(argv: list[str]) -> None:
    """Print, per backend (starter, or BACKEND=WEIGHTS), the photos whose raised arm the detector reads;
    ``--save GRID.png``: the renders too, a row per backend, each photo cut to its person."""
    import cv2

    from engine.detect import PoseDetector
    from engine.registry import create

    save = argv[argv.index("--save") + 1] if "--save" in argv else None
    specs = [a for a in argv if "--save" not in a and a != save]
    chosen = [a.split("=", 1) for a in specs] or [[n] for n in ("warp",) + NETWORKS]
    rows = []
    with PoseDetector() as det:
        cs = raised_arm_cases(det)
        for spec in chosen:
            b = create(spec[0])
            if len(spec) == 2:
                b.load_weights(spec[1])
            renders, row = {}, []
            got = read_raised(b, cs, det, renders)
            for name, img, d, target, side in cs:
                out = renders[name]
                x0, y0, x1, y1 = (int(v) for v in d.pose.bbox())
                pad = int(0.6 * (y1 - y0))
                cut = out[max(0, y0 - pad // 2):y1 + pad // 4, max(0, x0 - pad):x1 + pad]
                cut = cv2.resize(cut, (round(160 * cut.shape[1] / cut.shape[0]), 160))
                cv2.putText(cut, "up" if got[name] else "no", (3, 14), 0, 0.5, (0, 200, 0) if got[name] else
                            (255, 0, 0), 1)
                row.append(cut)
            rows.append(np.concatenate(row, axis=1))
            missed = [k for k, ok in got.items() if not ok]
            print(f"{'='.join(spec)}: {sum(got.values())}/{len(got)} read raised; missed {missed}", flush=True)
    if save:
        w = max(r.shape[1] for r in rows)
        grid = np.concatenate([np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0))) for r in rows])
        cv2.imwrite(save, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main(sys.argv[1:])
