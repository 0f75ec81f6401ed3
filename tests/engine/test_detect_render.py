"""The foundation's end-to-end promises, on a real photo with the real mediapipe detector."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.cli_render import main as render_main
from engine.detect import detect_pose
from engine.errors import NoPersonError
from engine.images import load_image
from engine.pose import J, Pose
from tests.conftest import shared


@pytest.fixture(scope="module")
def women1():
    path = shared("fashion-sources", "women1.jpg")
    img = load_image(path)
    return path, img, detect_pose(img)


def test_detection_finds_the_joints_in_coco18_order(women1):
    _, img, det = women1
    p = det.pose
    assert p.count >= 14
    # She faces the camera: her right side is on the image's left.
    assert p.xy[J["r_wrist"], 0] < p.xy[J["l_wrist"], 0]
    assert p.xy[J["r_shoulder"], 0] < p.xy[J["l_shoulder"], 0]
    assert p.xy[J["r_ankle"], 0] < p.xy[J["l_ankle"], 0]
    assert p.xy[J["nose"], 1] < p.xy[J["neck"], 1] < p.xy[J["r_hip"], 1] < p.xy[J["r_knee"], 1]
    assert det.mask.shape == img.shape[:2] and det.mask[int(p.xy[J["neck"], 1]) + 20, int(p.xy[J["neck"], 0])] > 0.5



def test_the_hands_at_the_wrists_are_found_with_their_fingers():
    # fashion-real/45 (kept out of all training): a back view, both bare hands hanging below the sleeves. The
    # detector finds each hand's 21 landmarks at its wrist, on the person, the fingertips beyond the wrist along
    # the forearm; a detector for joints only looks for none
    from engine.detect import PoseDetector, native_stderr_silenced

    img = load_image(shared("fashion-real", "45.jpg"))
    with native_stderr_silenced(), PoseDetector() as det, PoseDetector(hands=False) as joints_only:
        d = det.detect(img)
        assert joints_only.detect(img).pose.hands == {}
    p = d.pose
    assert set(p.hands) == {J["r_wrist"], J["l_wrist"]}
    for side in "rl":
        pts = p.hands[J[f"{side}_wrist"]]
        fore = p.point(f"{side}_wrist") - p.point(f"{side}_elbow")
        assert np.hypot(*(pts[0] - p.point(f"{side}_wrist"))) < 0.4 * np.hypot(*fore)
        tips = pts[[8, 12, 16, 20]].mean(0) - pts[0]
        assert tips @ fore > 0.2 * (fore @ fore)  # the fingers point on down the forearm
        xi, yi = np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)
        assert (d.mask[yi.clip(0, img.shape[0] - 1), xi.clip(0, img.shape[1] - 1)] >= 0.5).mean() >= 0.6


def test_a_hand_the_model_misses_in_the_crop_round_its_wrist_is_looked_for_again_in_a_wider_one():
    # fashion-real/47 (kept out of all training): the right hand hanging by the trousers is missed in the crop of
    # 1.3 forearms round the wrist and found in the wider second (engine.hands.CROP_FOREARMS); missed, it was the
    # parsing's ellipse, and a hand on a hip stayed there when its arm was raised (fashion-real/7 at 3x)
    from engine.detect import PoseDetector, native_stderr_silenced

    img = load_image(shared("fashion-real", "47.jpg"))
    with native_stderr_silenced(), PoseDetector() as det:
        d = det.detect(img)
    p = d.pose
    assert set(p.hands) == {J["r_wrist"], J["l_wrist"]}
    pts = p.hands[J["r_wrist"]]
    fore = p.point("r_wrist") - p.point("r_elbow")
    assert np.hypot(*(pts[0] - p.point("r_wrist"))) < 0.4 * np.hypot(*fore)
    assert (pts[[8, 12, 16, 20]].mean(0) - pts[0]) @ fore > 0  # the fingers beyond the wrist

def test_exif_rotated_photo_gives_the_upright_pose(tmp_path, women1):
    _, img, det = women1
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated: display needs a 90 degree turn
    Image.fromarray(np.rot90(img, k=-1).copy()).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    img2 = load_image(tmp_path / "rot.jpg")
    assert img2.shape == img.shape
    p2 = detect_pose(img2).pose
    assert np.linalg.norm(p2.xy[J["nose"]] - det.pose.xy[J["nose"]]) < 0.5 * det.pose.head_size()


@pytest.mark.parametrize("name", ["0.jpg", "8.jpg", "9.jpg", "11.jpg", "24.jpg"])
def test_small_market_photos_are_found(name):
    # 64x128 surveillance crops in which the person fills the frame: BlazePose needs a wide margin round them
    img = load_image(shared("market-real", name))
    pose = detect_pose(img).pose
    assert pose.count >= 12
    assert pose.present[J["neck"]] and pose.present[J["r_hip"]] and pose.present[J["l_hip"]]
    head, hips = pose.point("neck")[1], (pose.point("r_hip")[1] + pose.point("l_hip")[1]) / 2
    assert head < hips  # upright, as they all are


def test_no_person_is_a_clear_error():
    rng = np.random.default_rng(0)
    img = (rng.random((200, 300, 3)) * 40 + 100).astype(np.uint8)
    with pytest.raises(NoPersonError, match="no person found"):
        detect_pose(img, "noise.png")


def test_dragging_the_right_arm_up_moves_it_there_and_nothing_else(tmp_path, women1):
    path, img, det = women1
    pose_file = tmp_path / "p.json"
    assert render_main(["--source", str(path), "--pose-out", str(pose_file)]) == 0
    src = Pose.load_json(pose_file)
    assert src.count >= 14
    sh = src.point("r_shoulder")
    tgt = src.moved("r_elbow", sh[0] - 28, sh[1] + 18).moved("r_wrist", sh[0] - 36, sh[1] - 14)
    tgt.save_json(tmp_path / "t.json")
    out = tmp_path / "out.png"
    assert render_main(["--source", str(path), "--target", str(tmp_path / "t.json"), "-o", str(out)]) == 0
    res = load_image(out)
    assert res.shape == img.shape
    got = detect_pose(res).pose
    head = src.head_size()
    assert got.present[J["r_wrist"]]
    assert np.linalg.norm(got.point("r_wrist") - tgt.point("r_wrist")) < 0.5 * head  # PCKh@0.5
    assert np.linalg.norm(got.point("r_wrist") - src.point("r_wrist")) > 2 * head    # it really moved
    for name in ("nose", "l_shoulder", "l_wrist", "r_hip", "l_hip", "r_knee", "l_ankle"):
        assert np.linalg.norm(got.point(name) - src.point(name)) < 0.5 * head, name


def _run_cli(args, capsys):
    code = render_main(args)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("kind", ["corrupt", "text", "nobody", "malformed_pose", "other_backend_weights"])
def test_bad_inputs_give_one_line_errors(tmp_path, capsys, kind, women1):
    path = women1[0]
    args = ["--source", str(path), "--pose-out", str(tmp_path / "p.json")]
    if kind == "corrupt":
        data = path.read_bytes()
        (tmp_path / "c.jpg").write_bytes(data[:200] + bytes(range(256)) * 4)
        args[1] = str(tmp_path / "c.jpg")
    elif kind == "text":
        (tmp_path / "t.jpg").write_text("this is not a photo")
        args[1] = str(tmp_path / "t.jpg")
    elif kind == "nobody":
        Image.fromarray(np.full((300, 200, 3), 200, np.uint8)).save(tmp_path / "n.png")
        args[1] = str(tmp_path / "n.png")
    elif kind == "malformed_pose":
        (tmp_path / "bad.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
        args = ["--source", str(path), "--target", str(tmp_path / "bad.json"), "-o", str(tmp_path / "o.png")]
    elif kind == "other_backend_weights":
        import torch

        from engine.weights import WeightsMeta, save_weights
        save_weights(tmp_path / "w.safetensors", {"x": torch.zeros(1)}, WeightsMeta("some-other-backend"))
        (tmp_path / "t.json").write_text(json.dumps(women1[2].pose.to_openpose()))
        args = ["--source", str(path), "--target", str(tmp_path / "t.json"), "-o", str(tmp_path / "o.png"),
                "--backend", "warp", "--weights", str(tmp_path / "w.safetensors")]
    code, err = _run_cli(args, capsys)
    assert code == 2
    assert err.startswith("poseeditor-render: error:") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


# huge: a 4096 x 2816 render (~19 CPU-s measured); it ran past the default 300 s timeout on a machine at load 10
@pytest.mark.parametrize("kind", ["rgba", "gray", "16bit", pytest.param("huge", marks=[pytest.mark.slow,
                                                                                    pytest.mark.timeout(900)])])
def test_usable_odd_images_give_a_result(tmp_path, women1, kind, capsys):
    _, img, _ = women1
    f = tmp_path / f"{kind}.png"
    if kind == "rgba":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]), "RGBA").save(f)
    elif kind == "gray":
        Image.fromarray(img.mean(2).astype(np.uint8), "L").save(f)
    elif kind == "16bit":
        Image.fromarray((img.mean(2) * 257).astype(np.uint16)).save(f)
    else:
        # 12000 x 8250, the photo's own shape: 99 MP, past Pillow's bomb limit, reduced to MAX_SIDE when read (a
        # square one renders 4096 x 4096, half as many pixels again for the same path)
        f = tmp_path / "huge.jpg"
        Image.fromarray(img).resize((round(12000 * img.shape[1] / img.shape[0]), 12000)).save(f, quality=70)
    capsys.readouterr()
    assert render_main(["--source", str(f), "--target", str(f), "-o", str(tmp_path / "o.png")]) == 0
    said = capsys.readouterr().out
    out = load_image(tmp_path / "o.png")
    assert out.ndim == 3
    if kind == "huge":
        from engine.images import MAX_SIDE

        assert out.shape[:2] == (MAX_SIDE, round(MAX_SIDE * img.shape[1] / img.shape[0]))
        assert f"reduced to {MAX_SIDE} px" in said  # a newcomer's 12000-px photo came out 4096 px, unremarked
    else:
        assert "reduced" not in said


def test_console_script_exits_2_without_traceback(tmp_path):
    (tmp_path / "t.jpg").write_text("nope")
    exe = [sys.executable, "-m", "engine.cli_render", "--source", str(tmp_path / "t.jpg"), "--pose-out", "x.json"]
    r = subprocess.run(exe, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not an image" in r.stderr



def test_listing_the_backends_needs_no_photo(capsys):
    assert render_main(["--list-backends"]) == 0
    assert capsys.readouterr().out.split()[0] == "warp"
    assert render_main(["-o", "x.png"]) == 2  # anything else does: one line
    err = capsys.readouterr().err.strip()
    assert "--source" in err and "\n" not in err


def test_a_given_source_pose_renders_as_the_detected_one(tmp_path, women1):
    # --source-pose with the photo's own detected pose: the same picture as detecting it (the hands found at its
    # wrists are kept, as the app keeps them for a pose it was given back)
    from engine.images import load_image as read

    path, img, pose = women1
    own = tmp_path / "own.json"
    assert render_main(["--source", str(path), "--pose-out", str(own)]) == 0
    p = pose.pose if hasattr(pose, "pose") else pose
    target = Pose.load_json(own).moved("r_wrist", p.point("r_wrist")[0] + 20, p.point("r_wrist")[1] - 60)
    target.save_json(tmp_path / "t.json")
    common = ["--source", str(path), "--target", str(tmp_path / "t.json"), "--backend", "warp"]
    assert render_main(common + ["-o", str(tmp_path / "a.png")]) == 0
    assert render_main(common + ["--source-pose", str(own), "-o", str(tmp_path / "b.png")]) == 0
    diff = np.abs(read(tmp_path / "a.png").astype(int) - read(tmp_path / "b.png")).sum(axis=2)
    assert (diff > 30).sum() < 20, (diff > 30).sum()  # the file keeps 3 decimals: a few edge pixels

def test_given_source_pose_renders_a_photo_the_detector_finds_nobody_in(tmp_path):
    from engine.presets import fit_preset
    from tests.engine.test_warp_backend import painted_person

    p = fit_preset("standing", 120, 200)
    Image.fromarray(painted_person(p)).save(tmp_path / "stick.png")
    p.save_json(tmp_path / "src.json")
    fit_preset("t-pose", 120, 200, like=p).save_json(tmp_path / "tgt.json")
    out = tmp_path / "o.png"
    assert render_main(["--source", str(tmp_path / "stick.png"), "--source-pose", str(tmp_path / "src.json"),
                        "--target", str(tmp_path / "tgt.json"), "-o", str(out)]) == 0
    assert load_image(out).shape == (200, 120, 3)
