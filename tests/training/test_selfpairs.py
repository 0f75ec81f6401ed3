"""poseeditor-train self-pairs: warp renders of single photos in perturbed poses as sources, the photos as targets
(the real warp engine, the real mediapipe detector, on procedural people written as photos)."""
import json

import cv2
import numpy as np
import pytest

from engine.detect import PoseDetector
from engine.errors import DatasetError
from engine.pose import J
from training.cli import main as cli_main
from training.dataset_format import read_annotations, read_identities, read_pairs
from training.datasets import PairDataset
from training.selfpairs import build_self_pairs, kept_out, perturb_pose
from tests.engine.test_photo_kinds import synth_person

SIZE = (128, 64)


def _write_people(folder, seeds=(22, 5)):
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for s in seeds:
        img, _, pose = synth_person(s)
        cv2.imwrite(str(folder / f"{s}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        truth[f"{s}.jpg"] = pose
    return truth


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("selfpairs")
    photos = base / "people"
    truth = _write_people(photos)
    out = base / "ds"
    summary = build_self_pairs([photos], out, per_photo=3, size=SIZE, seed=1, heldout=None)
    return photos, out, summary, truth


def _angle(pose, a, b):
    d = pose.point(b) - pose.point(a)
    return np.degrees(np.arctan2(d[1], d[0]))


def test_perturbed_poses_move_limbs_about_their_joints_and_stay_in_the_photo():
    _, _, pose = synth_person(22)
    rng = np.random.default_rng(0)
    unchanged = 0
    for _ in range(20):
        p = perturb_pose(pose, rng)
        unchanged += p == pose
        # the torso and head stay; every bone keeps its length (limbs turn, they do not stretch)
        for n in ("neck", "nose", "r_shoulder", "l_shoulder", "r_hip", "l_hip"):
            assert np.allclose(p.point(n), pose.point(n))
        for a, b in (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_hip", "l_knee"), ("l_knee", "l_ankle")):
            assert np.linalg.norm(p.point(b) - p.point(a)) == pytest.approx(np.linalg.norm(pose.point(b) -
                                                                                          pose.point(a)), rel=1e-4)
        turns = [abs((_angle(p, a, b) - _angle(pose, a, b) + 180) % 360 - 180)
                 for a, b in (("r_shoulder", "r_elbow"), ("l_shoulder", "l_elbow"), ("r_elbow", "r_wrist"),
                              ("l_elbow", "l_wrist"), ("r_hip", "r_knee"), ("l_hip", "l_knee"),
                              ("r_knee", "r_ankle"), ("l_knee", "l_ankle"))]
        assert max(turns) >= 25 - 1e-3 or p == pose
        xy = p.xy[p.present]
        assert (xy >= 0).all() and (xy[:, 0] < pose.width).all() and (xy[:, 1] < pose.height).all()
    assert unchanged <= 1


def test_each_photo_is_the_target_of_its_warp_renders(built):
    _, out, s, _ = built
    assert s["images"] == 2 * (1 + 3) and s["pairs_train"] + s["pairs_test"] == 6 and not s["skipped"]
    pairs = [(a, b) for a, b, _ in read_pairs(out / "pairs-train.csv") + read_pairs(out / "pairs-test.csv")]
    assert sorted(pairs) == sorted((f"people-{k}-w{i}.png", f"people-{k}.png") for k in (22, 5) for i in range(3))
    ident = read_identities(out / "identities.csv")
    assert ident["people-22-w1.png"] == ident["people-22.png"] != ident["people-5.png"]
    info = json.loads((out / "dataset.json").read_text())
    assert info["image_size"] == list(SIZE) and info["parsing"] == "coarse" and info["self_pairs"]["per_photo"] == 3
    # the source differs from the target where the limbs moved (a forearm turned across the body: about 1% of the
    # crop), and the target is the photo's own crop
    src = cv2.imread(str(out / "images" / "people-22-w0.png")).astype(int)
    tgt = cv2.imread(str(out / "images" / "people-22.png")).astype(int)
    assert src.shape == tgt.shape == (*SIZE, 3)
    assert (np.abs(src - tgt).max(axis=2) > 40).mean() > 0.005


def test_a_renders_pose_is_where_the_detector_finds_the_person_in_it(built):
    """The source pose written for a render is the pose the render shows: the detector, run on the written
    crop, finds its moved wrists and elbows there (the pair teaches the right thing)."""
    _, out, _, _ = built
    poses = read_annotations(out / "annotations.csv", SIZE)
    errors = []
    with PoseDetector() as det:
        for name in ("people-22-w0.png", "people-22-w1.png", "people-22-w2.png", "people-5-w0.png"):
            img = cv2.cvtColor(cv2.imread(str(out / "images" / name)), cv2.COLOR_BGR2RGB)
            big = cv2.resize(img, (256, 512), interpolation=cv2.INTER_CUBIC)  # mediapipe reads 64 px poorly
            found = det.detect(big).pose.scaled(0.25, width=SIZE[1], height=SIZE[0])
            want = poses[name]
            for j in ("r_elbow", "l_elbow", "r_wrist", "l_wrist", "r_knee", "l_knee"):
                if found.has(j) and want.has(j):
                    errors.append(min(np.linalg.norm(found.point(j) - want.point(j)),
                                      np.linalg.norm(found.point(j) - want.point(j.replace("r_", "x").replace(
                                          "l_", "r_").replace("x", "l_")))))
    assert len(errors) >= 12 and np.median(errors) < 0.06 * SIZE[0], np.round(errors, 1)


def test_fit_reads_it_as_an_ordinary_dataset(built):
    _, out, _, _ = built
    ds = PairDataset(out, "train", num_sources=2, size=SIZE)
    item = ds[0]
    assert item["src_img"].shape == (2, 3, *SIZE) and item["tgt_img"].shape == (3, *SIZE)
    # the multi-shot sources are other renders of the same photo, never the target
    src, tgt = ds.pair_names(0)
    assert all(n != tgt and n.startswith(tgt[:-4] + "-w") for n in ds.sources_for(0))


def test_kept_out_photos_are_never_read(tmp_path):
    photos = tmp_path / "fashion-real"
    _write_people(photos)
    heldout = tmp_path / "heldout.json"
    heldout.write_text(json.dumps({"photos_kept_out": {"fashion-real": ["22.jpg"], "market-real": ["1.jpg"]}}))
    assert kept_out(heldout) == {("fashion-real", "22.jpg"), ("market-real", "1.jpg")}
    s = build_self_pairs([photos], tmp_path / "ds", per_photo=2, size=SIZE, heldout=heldout)
    names = set(read_identities(tmp_path / "ds" / "identities.csv"))
    assert s["images"] == 3 and not any("22" in n for n in names)
    # the project's own list holds the shared photos the benchmarks and the raised-arm test use
    assert ("fashion-real", "45.jpg") in kept_out()


def test_mixed_in_dataset_and_same_person_pairs(built, tmp_path):
    photos, _, _, _ = built
    synth = tmp_path / "synth"
    assert cli_main(["synth", "-o", str(synth), "--identities", "4", "--poses-per-identity", "3", "--size",
                     "128x64", "--seed", "3"]) == 0
    walk = tmp_path / "walk"
    for k, s in enumerate((22, 22, 22, 22, 22, 22, 22)):  # one person, frames of a short sequence
        img, _, _ = synth_person(s)
        cv2.imwrite(str(walk.mkdir(exist_ok=True) or walk / f"f{k}.png"), cv2.cvtColor(np.roll(img, 4 * k, axis=1),
                                                                                      cv2.COLOR_RGB2BGR))
    out = tmp_path / "mixed"
    s = build_self_pairs([photos / "5.jpg"], out, per_photo=1, size=SIZE, same_person=[walk], mix=synth,
                         mix_pairs=10, heldout=None)
    train = [(a, b) for a, b, _ in read_pairs(out / "pairs-train.csv")]
    test = [(a, b) for a, b, _ in read_pairs(out / "pairs-test.csv")]
    assert sum(a.startswith("synth-") for a, _ in train) == 10 and sum(a.startswith("synth-") for a, _ in test) == 1
    assert any(a.startswith("walk-") and b.startswith("walk-") for a, b in train)
    assert s["real_pairs"]["train"] + s["real_pairs"]["test"] == 1 + sum(a.startswith("walk-") for a, _ in train + test)
    # linked, not re-encoded: the mixed-in image is the synthetic dataset's file
    a = train[[p[0].startswith("synth-") for p in train].index(True)][0]
    assert (out / "images" / a).read_bytes() == (synth / "images" / a[len("synth-"):]).read_bytes()
    PairDataset(out, "train", size=SIZE)[0]


def test_cli_quick_personalisation_and_bad_inputs(built, tmp_path, capsys):
    photos, _, _, _ = built
    assert cli_main(["self-pairs", str(photos / "5.jpg"), "-o", str(tmp_path / "c"), "--per-photo", "1",
                     "--size", "128x64"]) == 0
    assert "2 images; " in capsys.readouterr().out
    # the child command a quick personalisation runs (personal_pairs): one photo, nothing kept out, a pair held
    # back; fit reads what it wrote
    assert cli_main(["self-pairs", str(photos / "5.jpg"), "-o", str(tmp_path / "p"), "--personal", "--per-photo",
                     "8", "--size", "128x64"]) == 0
    assert "9 images; 7 train / 1 test pairs" in capsys.readouterr().out
    assert len(PairDataset(tmp_path / "p", "train", size=SIZE)) == 7
    assert len(PairDataset(tmp_path / "p", "test", size=SIZE)) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv, msg in (([str(empty), "-o", str(tmp_path / "d")], "no photos"),
                      ([str(photos), "-o", str(tmp_path / "c")], "not empty"),
                      ([str(photos), "-o", str(photos / "x")], "input"),
                      ([str(photos), "-o", str(tmp_path / "e"), "--mix", str(empty)], "--mix-pairs"),
                      ([str(photos), "-o", str(tmp_path / "e"), "--personal", "--same-person", str(photos)],
                       "one person's photos only")):
        assert cli_main(["self-pairs", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1, err
    with pytest.raises(DatasetError, match="no training pairs"):
        blank = tmp_path / "blank"
        blank.mkdir()
        cv2.imwrite(str(blank / "wall.png"), np.full((256, 128, 3), 128, np.uint8))
        build_self_pairs([blank], tmp_path / "f", per_photo=1, size=SIZE, heldout=None)


def test_both_ways_adds_the_reverse_pairs(built, tmp_path):
    """--both-ways: the photo is also the source of its renders (the network learns to move the photo's own
    limbs where the target pose says)."""
    photos, _, _, _ = built
    build_self_pairs([photos / "5.jpg"], tmp_path / "b", per_photo=2, size=SIZE, heldout=None, both_ways=True)
    pairs = {(a, b) for a, b, _ in read_pairs(tmp_path / "b" / "pairs-train.csv")}
    one_way = {(f"people-5-w{k}.png", "people-5.png") for k in range(2)}
    assert pairs == one_way | {(b, a) for a, b in one_way}


def test_a_self_pairs_mask_moves_with_what_the_hand_holds():
    # warped() draws the person mask as an image through the warp: the photo's render carried the completed ball
    # with the hand while the mask's render, which cannot show a ball, left it behind (1,650 of 2,602 of the ball's
    # moved pixels outside the moved mask).
    from tests.engine.painted import person_holding_ball
    from training.selfpairs import warped

    p, img, mask, disc, centre, r = person_holding_ball(ball=True, seen=0.4)
    el, a = p.point("l_elbow"), np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    target = p.moved("l_wrist", *(el + rot @ (p.point("l_wrist") - el)))
    (render, moved_mask), = warped(img, p, mask, [target])
    now = np.zeros(mask.shape, np.uint8)
    cv2.circle(now, tuple(np.round(el + rot @ (centre - el)).astype(int)), r - 3, 1, -1)
    ball = (np.abs(render.astype(int) - (230, 110, 40)).sum(axis=2) < 60) & (now > 0)
    assert ball.sum() > 0.8 * np.pi * (r - 3) ** 2, "the ball did not go with the hand"
    assert (moved_mask[ball] >= 0.5).mean() > 0.95, "the moved mask left the carried ball out"
