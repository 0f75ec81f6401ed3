"""The procedural dataset: exact part labels, same-person pairs, split by identity, deterministic by seed."""
import argparse
import csv

import cv2
import numpy as np
import pytest

from engine.encode import segment_distance
from engine.errors import DatasetError
from engine.pose import J
from training.datasets import read_annotations, read_identities, read_pairs
from training.synth import add_arguments, make_synthetic_dataset, run, synth_image

SIZE = (128, 64)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "ds"
    summary = make_synthetic_dataset(root, identities=10, poses_per_identity=8, size=SIZE, seed=3)
    return root, summary


def _labels(root, name):
    return cv2.imread(str(root / "parsing" / name), cv2.IMREAD_UNCHANGED)


def _near(pose, point, joints, dist):
    """Is ``point`` within ``dist`` pixels of any segment between consecutive ``joints``?"""
    for a, b in zip(joints[:-1], joints[1:]):
        if pose.present[a] and pose.present[b]:
            d = segment_distance(np.array([point[0]]), np.array([point[1]]), pose.xy[a], pose.xy[b])[0]
            if d < dist:
                return True
    return False


def test_writes_the_dataset_format(synth):
    root, s = synth
    assert s["images"] == 80 and s["identities"] == 10
    names = sorted(p.name for p in (root / "images").iterdir())
    assert len(names) == 80
    for sub in ("masks", "parsing"):
        assert sorted(p.name for p in (root / sub).iterdir()) == names
    img = cv2.imread(str(root / "images" / names[0]))
    assert img.shape == (*SIZE, 3)
    poses = read_annotations(root / "annotations.csv", SIZE)
    assert sorted(poses) == names
    # the true mask is exactly the labelled pixels
    for n in names[:10]:
        mask = cv2.imread(str(root / "masks" / n), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(mask > 127, _labels(root, n) > 0)
        assert set(np.unique(mask)) <= {0, 255}


def test_part_labels_are_exact(synth):
    """The pixel half-way between elbow and wrist is the lower arm of that side (when no other part is drawn
    over it); seen from behind, the shin's middle is the shin of that side."""
    root, _ = synth
    poses = read_annotations(root / "annotations.csv", SIZE)
    checked = {"r_lower_arm": 0, "l_lower_arm": 0, "r_shin": 0}
    for name, p in poses.items():
        labels = _labels(root, name)
        torso = np.linalg.norm(p.xy[J["neck"]] - (p.xy[J["r_hip"]] + p.xy[J["l_hip"]]) / 2)
        clear = 0.25 * torso
        front = p.present[J["nose"]]
        if front:  # arms are drawn last, the left one over the right one
            for side, other, label in (("r", "l", 4), ("l", None, 6)):
                e, w = J[f"{side}_elbow"], J[f"{side}_wrist"]
                mid = (p.xy[e] + p.xy[w]) / 2
                if other and _near(p, mid, [J[f"{other}_shoulder"], J[f"{other}_elbow"], J[f"{other}_wrist"]],
                                   clear):
                    continue
                assert labels[int(round(mid[1])), int(round(mid[0]))] == label, (name, side)
                checked[f"{side}_lower_arm"] += 1
        else:  # from behind, the legs are drawn over the arms; the left leg over the right one
            k, a = J["r_knee"], J["r_ankle"]
            mid = (p.xy[k] + p.xy[a]) / 2
            if _near(p, mid, [J["l_hip"], J["l_knee"], J["l_ankle"]], clear):
                continue
            assert labels[int(round(mid[1])), int(round(mid[0]))] == 8, name
            checked["r_shin"] += 1
        # the torso's centre is torso (or an arm in front of it): never a leg, the head or background
        c = (p.xy[J["neck"]] + p.xy[J["r_hip"]] + p.xy[J["l_hip"]]) / 3
        assert labels[int(round(c[1])), int(round(c[0]))] in (2, 3, 4, 5, 6), name
    assert min(checked.values()) >= 5, checked


def test_left_right_follow_the_person_not_the_image(synth):
    """Facing the camera the person's right is on the image's left; seen from behind it is on the right."""
    root, _ = synth
    poses = read_annotations(root / "annotations.csv", SIZE)
    front = [p for p in poses.values() if p.present[J["nose"]]]
    back = [p for p in poses.values() if not p.present[J["nose"]]]
    assert len(front) >= 10 and len(back) >= 5  # both facing directions occur
    assert all(p.xy[J["r_hip"], 0] < p.xy[J["l_hip"], 0] for p in front)
    assert all(p.xy[J["r_hip"], 0] > p.xy[J["l_hip"], 0] for p in back)
    assert all(p.present[J["r_ear"]] and p.present[J["l_ear"]] for p in back)


def test_pairs_are_one_person_and_identities_do_not_cross_splits(synth):
    root, s = synth
    ident = read_identities(root / "identities.csv")
    splits = {}
    for split in ("train", "test"):
        rows = read_pairs(root / f"pairs-{split}.csv")
        assert rows
        for a, b, _ in rows:
            assert ident[a] == ident[b] and a != b
        splits[split] = {ident[a] for a, _, _ in rows}
    assert not splits["train"] & splits["test"]
    assert len(splits["test"]) == 2 and len(splits["train"]) == 8
    assert s["pairs_train"] == 8 * 8 * 7 and s["pairs_test"] == 2 * 8 * 7


def test_one_person_looks_the_same_in_every_pose(synth):
    """Same clothes and skin across a person's images: the torso's mean colour varies far less within a
    person than between people."""
    root, _ = synth
    ident = read_identities(root / "identities.csv")
    colours = {}
    for name in ident:
        img = cv2.imread(str(root / "images" / name))[..., ::-1].astype(np.float32)
        torso = _labels(root, name) == 2
        colours[name] = img[torso].mean(0)
    people = sorted(set(ident.values()))
    means = {p: np.mean([colours[n] for n in ident if ident[n] == p], 0) for p in people}
    within = np.mean([np.linalg.norm(colours[n] - means[ident[n]]) for n in ident])
    between = np.mean([np.linalg.norm(means[a] - means[b]) for a in people for b in people if a < b])
    assert within < 0.35 * between, (within, between)


def test_deterministic_by_seed(tmp_path, synth):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_synthetic_dataset(a, 2, 3, size=SIZE, seed=11)
    make_synthetic_dataset(b, 2, 3, size=SIZE, seed=11)
    make_synthetic_dataset(c, 2, 3, size=SIZE, seed=12)
    for sub in ("images", "parsing", "masks"):
        for f in (a / sub).iterdir():
            assert f.read_bytes() == (b / sub / f.name).read_bytes()
    assert (a / "annotations.csv").read_text() == (b / "annotations.csv").read_text()
    assert (a / "annotations.csv").read_text() != (c / "annotations.csv").read_text()
    # an image depends only on (seed, person, index): it does not change with the size of the dataset
    img, labels, pose = synth_image(11, 1, 2, SIZE)
    assert np.array_equal(img, cv2.imread(str(a / "images" / "0001_002.png"))[..., ::-1])


def test_poses_vary_and_stay_in_the_frame(synth):
    root, _ = synth
    poses = list(read_annotations(root / "annotations.csv", SIZE).values())
    xy = np.stack([p.xy for p in poses])
    assert xy[..., 0].max() <= SIZE[1] - 1 and xy[..., 1].max() <= SIZE[0] - 1 and xy.min() >= 0
    # arms are raised in some images and down in others; people appear at several sizes
    wrist_above_shoulder = [p.xy[J["r_wrist"], 1] < p.xy[J["r_shoulder"], 1] for p in poses]
    assert 0 < sum(wrist_above_shoulder) < len(poses)
    heights = [p.xy[J["r_ankle"], 1] - p.xy[J["nose"], 1] for p in poses if p.present[J["nose"]]]
    assert max(heights) > 1.2 * min(heights)


def test_never_overwrites(tmp_path):
    out = tmp_path / "ds"
    make_synthetic_dataset(out, 1, 3, size=SIZE, seed=0)
    before = (out / "annotations.csv").read_text()
    again = make_synthetic_dataset(out, 1, 3, size=SIZE, seed=0)
    assert again["already_done"]
    with pytest.raises(DatasetError, match=str(out)):
        make_synthetic_dataset(out, 1, 3, size=SIZE, seed=1)
    assert (out / "annotations.csv").read_text() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        make_synthetic_dataset(other, 1, 3, size=SIZE)
    assert (other / "notes.txt").read_text() == "mine"


def test_single_person_is_split_by_pose(tmp_path):
    out = tmp_path / "one"
    s = make_synthetic_dataset(out, 1, 10, size=SIZE, seed=0)
    train = {n for a, b, _ in read_pairs(out / "pairs-train.csv") for n in (a, b)}
    test = {n for a, b, _ in read_pairs(out / "pairs-test.csv") for n in (a, b)}
    assert train and test and not train & test
    assert max(train) < min(test)
    assert s["pairs_test"] > 0


def test_cli_subcommand(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["-o", str(tmp_path / "cli"), "--identities", "2", "--poses-per-identity", "3",
                              "--size", "64x32", "--seed", "4"])
    assert run(args) == 0
    assert "6 images of 2 people" in capsys.readouterr().out
    assert cv2.imread(str(tmp_path / "cli" / "images" / "0000_000.png")).shape == (64, 32, 3)
    with pytest.raises(SystemExit):
        parser.parse_args(["-o", "x", "--size", "big"])
    with open(tmp_path / "cli" / "identities.csv") as f:
        assert next(csv.reader(f)) == ["name", "identity"]
