"""poseeditor-train prepare on real video and photos (real mediapipe), splits, re-runs, and bad sources."""
import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.detect import detect_pose
from engine.errors import DatasetError
from engine.images import load_image
from engine.pose import LIMBS, J
from training.datasets import PairDataset, read_annotations, read_identities, read_pairs
from training.prepare import add_arguments, prepare_dataset, run, split_people
from training.synth import synth_image
from tests.conftest import shared

DANCE_SIZE = (256, 176)


@pytest.fixture(scope="module")
def dance(tmp_path_factory):
    """20 frames of the dance video prepared once in this test run (tests/once.py): its tests only read it."""
    from tests.once import once_per_run

    video = shared("dance-video", "dance_train_150f.mp4")

    def compute(folder):
        return prepare_dataset([video], folder / "dance", size=DANCE_SIZE, frame_step=1, max_frames=20)

    summary = once_per_run(tmp_path_factory, "prepare-dance", compute)
    return video, Path(summary["out"]), summary


def _frame(name):
    return int(name.rsplit("_f", 1)[1].split(".")[0])


def test_video_gives_crops_masks_parsing_and_annotations(dance):
    _, out, s = dance
    assert s["new"] == 20 and s["images"] == 20 and s["identities"] == 1 and s["no_person"] == 0
    info = json.loads((out / "dataset.json").read_text())
    assert info["format"] == "poseeditor-dataset" and info["image_size"] == list(DANCE_SIZE)
    assert info["images"] == 20 and info["parsing"] == "coarse" and info["num_parsing_labels"] == 11
    names = sorted(p.name for p in (out / "images").iterdir())
    assert len(names) == 20
    frames = [_frame(n) for n in names]
    assert frames[0] == 0 and frames[-1] == 149  # spread over the whole video
    img = cv2.imread(str(out / "images" / names[0]))
    assert img.shape == (*DANCE_SIZE, 3)
    parsing = cv2.imread(str(out / "parsing" / names[0]), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(out / "masks" / names[0]), cv2.IMREAD_GRAYSCALE)
    assert len(np.unique(parsing)) >= 9          # background + most body parts
    assert 0.1 < (mask > 127).mean() < 0.7        # the person, not the whole crop
    assert ((parsing > 0) == (mask >= 128)).mean() > 0.95
    ident = read_identities(out / "identities.csv")
    assert set(ident) == set(names) and set(ident.values()) == {"dance-train-150f"}


def test_annotations_put_the_joints_on_the_person(dance, tmp_path):
    """Drawn over the written crop, the joints lie on the person, and a fresh detection on the crop agrees."""
    _, out, _ = dance
    poses = read_annotations(out / "annotations.csv", DANCE_SIZE)
    names = sorted(poses)
    for name in names[::5]:
        crop = load_image(out / "images" / name)
        pose = poses[name]
        mask = cv2.imread(str(out / "masks" / name), cv2.IMREAD_GRAYSCALE)
        # drawn for a human to look at when the test fails; checked against the mask
        sheet = crop.copy()
        for a, b in LIMBS:
            if pose.present[a] and pose.present[b]:
                cv2.line(sheet, tuple(map(int, pose.xy[a])), tuple(map(int, pose.xy[b])), (255, 0, 0), 2)
        cv2.imwrite(str(tmp_path / name), sheet[..., ::-1])
        grown = cv2.dilate((mask > 127).astype(np.uint8), np.ones((7, 7), np.uint8))
        on = [grown[int(round(y)), int(round(x))] for x, y in pose.xy[pose.present]]
        assert np.mean(on) >= 0.9, name
        fresh = detect_pose(crop, name).pose
        both = pose.present & fresh.present
        assert both.sum() >= 12
        dist = np.linalg.norm(pose.xy[both] - fresh.xy[both], axis=1) / pose.head_size()
        assert np.median(dist) < 0.25 and np.mean(dist < 0.5) >= 0.8, (name, dist.round(2))
        # the person is upright in the crop and takes a good part of it (crouching frames are shorter)
        assert pose.xy[J["nose"], 1] < pose.xy[J["r_hip"], 1] < pose.xy[J["r_ankle"], 1]
        box = pose.bbox()
        assert box[3] - box[1] > 0.4 * DANCE_SIZE[0]
    # one scale for the whole video: the shoulder width (which crouching does not change) is steady
    widths = [np.linalg.norm(poses[n].point("r_shoulder") - poses[n].point("l_shoulder")) for n in names
              if poses[n].has("r_shoulder", "l_shoulder")]
    assert np.std(widths) / np.mean(widths) < 0.2


def test_single_video_is_split_by_time_with_a_gap(dance):
    _, out, s = dance
    train = read_pairs(out / "pairs-train.csv")
    test = read_pairs(out / "pairs-test.csv")
    tr = {n for a, b, _ in train for n in (a, b)}
    te = {n for a, b, _ in test for n in (a, b)}
    assert tr and te and not tr & te
    assert max(map(_frame, tr)) < min(map(_frame, te))
    all_frames = sorted(_frame(n) for n in read_annotations(out / "annotations.csv", DANCE_SIZE))
    between = [f for f in all_frames if max(map(_frame, tr)) < f < min(map(_frame, te))]
    assert len(between) >= 1  # the gap
    assert len(te) == 4
    assert s["pairs_test"] == len(test) == 4 * 3
    # the dataset reads back, multi-shot from the same split
    ds = PairDataset(out, "train", num_sources=2)
    item = ds[0]
    assert item["src_img"].shape == (2, 3, *DANCE_SIZE)
    assert all(n in tr for n in ds.sources_for(0))


def test_rerun_skips_what_is_done_and_destroys_nothing(dance, tmp_path):
    video, out0, _ = dance
    out = tmp_path / "again"
    shutil.copytree(out0, out)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    s = prepare_dataset([video], out, size=DANCE_SIZE, max_frames=20)
    assert s["new"] == 0 and s["already_done"] == 20 and s["images"] == 20
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    # a run killed mid-image: the image's files are gone and the journal's last line is cut short
    victim = sorted(stamps)[7]
    (out / "images" / victim).unlink()
    with open(out / "prepare-journal.jsonl", "a") as f:
        f.write('{"name": "half a li')
    s = prepare_dataset([video], out, size=DANCE_SIZE, max_frames=20)
    assert s["new"] == 1 and s["images"] == 20 and (out / "images" / victim).exists()
    # another size into the same folder is refused, and nothing is touched
    with pytest.raises(DatasetError, match=r"prepared at 256x176, not 128x64"):
        prepare_dataset([video], out, size=(128, 64), max_frames=20)
    assert len(list((out / "images").iterdir())) == 20


def _photo_folder(tmp_path, per_person, people, market_style):
    src = sorted(shared("market-real").glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)
    src = [p for p in src if p.stem.isdigit()]
    root = tmp_path / ("market" if market_style else "people")
    root.mkdir()
    k = 0
    for person in range(people):
        for i in range(per_person):
            if market_style:
                dst = root / f"{person + 1:04d}_c{i + 1}s1_{k:06d}_00.jpg"
            else:
                (root / f"person {person}").mkdir(exist_ok=True)
                dst = root / f"person {person}" / f"shot{i}.jpg"
            shutil.copy(src[k], dst)
            k += 1
    return root


def test_photo_folder_with_a_subfolder_per_person(tmp_path):
    root = _photo_folder(tmp_path, per_person=4, people=5, market_style=False)
    (root / "person 0" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "notes.txt").write_text("not a photo")
    out = tmp_path / "ds"
    s = prepare_dataset([root], out, size=(128, 64))
    assert s["images"] + s["no_person"] + s["unreadable"] == 21 and s["unreadable"] == 1
    assert s["images"] >= 14 and s["identities"] == 5
    ident = read_identities(out / "identities.csv")
    assert set(ident.values()) == {f"person-{i}" for i in range(5)}
    assert all(n.startswith(ident[n] + "_") for n in ident)
    _check_splits(out, ident, n_test_people=1)


def test_market_style_names_give_identities(tmp_path):
    root = _photo_folder(tmp_path, per_person=4, people=5, market_style=True)
    out = tmp_path / "ds"
    s = prepare_dataset([root], out, size=(128, 64))
    ident = read_identities(out / "identities.csv")
    assert s["identities"] == len(set(ident.values())) == 5
    for name, person in ident.items():
        assert person in {f"{i:04d}" for i in range(1, 6)}
        assert name.startswith(person + "_c")
    _check_splits(out, ident, n_test_people=1)
    # Market photos already have the model's shape: used whole, not re-cropped around the joints
    poses = read_annotations(out / "annotations.csv", (128, 64))
    name = sorted(poses)[0]
    orig = load_image(next(root.glob(name.replace(".png", ".jpg"))))
    crop = load_image(out / "images" / name)
    assert orig.shape == crop.shape and np.abs(orig.astype(int) - crop.astype(int)).mean() < 3


def _check_splits(out, ident, n_test_people):
    people = {}
    for split in ("train", "test"):
        rows = read_pairs(out / f"pairs-{split}.csv")
        for a, b, _ in rows:
            assert ident[a] == ident[b] and a != b
        people[split] = {ident[a] for a, _, _ in rows}
    assert not people["train"] & people["test"]
    assert len(people["test"]) == n_test_people and len(people["train"]) >= 3
    poses = read_annotations(out / "annotations.csv", None)
    for split in ("train", "test"):
        for a, b, _ in read_pairs(out / f"pairs-{split}.csv"):
            assert poses[a].torso_valid() and poses[b].torso_valid()


def test_split_rules():
    one = {"p": [f"p_{i:02d}.png" for i in range(20)]}
    split = split_people(one)
    assert [split[n] for n in one["p"]] == ["train"] * 15 + ["gap"] + ["test"] * 4
    many = {f"{k:02d}": [f"{k:02d}_{i}.png" for i in range(3)] for k in range(10)}
    split = split_people(many)
    test_people = {n.split("_")[0] for n, s in split.items() if s == "test"}
    assert len(test_people) == 2
    assert all(split[n] == ("test" if p in test_people else "train") for p, ns in many.items() for n in ns)


# ----- bad sources ----------------------------------------------------------------------------------------------
def _nobody_video(path, frames=6):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    rng = np.random.default_rng(0)
    for i in range(frames):
        w.write(cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3))
    w.release()
    return path


def test_video_with_nobody_is_an_error_naming_it(tmp_path):
    video = _nobody_video(tmp_path / "empty room.mp4")
    with pytest.raises(DatasetError, match=r"empty room.mp4: no person found in any of its 6 frames"):
        prepare_dataset([video], tmp_path / "out", size=(128, 64))
    # the command leaves no folder it made for nothing (a newcomer found images/, masks/ and a journal of nobody)
    with pytest.raises(DatasetError):
        run(argparse.Namespace(sources=[video], out=tmp_path / "out2", size=(128, 64), frame_step=1,
                               max_frames=None, self_pairs=0))
    assert not (tmp_path / "out2").exists()


def test_folder_with_nobody_is_an_error_and_other_sources_are_kept(tmp_path):
    empty = tmp_path / "landscapes"
    empty.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        cv2.imwrite(str(empty / f"view{i}.png"), rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    people = shared("market-real")
    good = tmp_path / "someone"
    good.mkdir()
    for i in range(3):
        shutil.copy(people / f"{i}.jpg", good / f"{i}.jpg")
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match=r"landscapes: no person found in any of its 3 photos; the other"):
        prepare_dataset([good, empty], out, size=(128, 64))
    assert read_annotations(out / "annotations.csv", None)  # the good photos were written


def test_bad_sources_and_outputs(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere.mp4: no such file or folder"):
        prepare_dataset([tmp_path / "nowhere.mp4"], tmp_path / "o1")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(DatasetError, match=r"emptydir: no photos"):
        prepare_dataset([tmp_path / "emptydir"], tmp_path / "o2")
    (tmp_path / "clip.mp4").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"clip.mp4: cannot open the video|clip.mp4: the video has no frames"):
        prepare_dataset([tmp_path / "clip.mp4"], tmp_path / "o3")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    img, _, _ = synth_image(0, 0, 0, (128, 64))
    cv2.imwrite(str(tmp_path / "p.png"), img)
    with pytest.raises(DatasetError, match=r"mine: folder is not empty and is not a prepared dataset"):
        prepare_dataset([tmp_path / "p.png"], mine)
    assert (mine / "thesis.tex").read_text() == "precious" and sorted(mine.iterdir()) == [mine / "thesis.tex"]
    posegan = tmp_path / "pg"
    posegan.mkdir()
    (posegan / "market-annotation-train.csv").write_text("name:keypoints_y:keypoints_x\n")
    (posegan / "market-pairs-train.csv").write_text("from,to\n")
    with pytest.raises(DatasetError, match=r"already a pose-gan/PATN dataset"):
        prepare_dataset([posegan], tmp_path / "o4")


def test_cli_subcommand(tmp_path, capsys):
    people = shared("market-real")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        shutil.copy(people / f"{i}.jpg", src / f"0007_c1_{i}.jpg")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(src), "-o", str(tmp_path / "ds"), "--size", "128x64", "--fps-step", "2"])
    assert args.frame_step == 2 and args.size == (128, 64)
    assert run(args) == 0
    text = capsys.readouterr().out
    assert "4 images of 1 person" in text and "new" in text


def test_self_pairs_of_a_videos_frames_are_train_pairs_of_the_train_frames_only(tmp_path):
    """``prepare --self-pairs N``: each frame also gets N warp renders of itself in moved poses, framed on their
    own poses as the app frames a photo, with the frame framed the same way as their target; those of the train
    frames are train pairs, a test frame's are in no pair (they would put the held-apart frames into training),
    and the pairs between frames are the ones prepare makes without them."""
    from tests.training.test_cli import person_video

    video = person_video(tmp_path / "clip.avi", frames=8)  # 6 train frames, 2 held apart (protocol.split_counts)
    plain = prepare_dataset([video], tmp_path / "plain", size=(128, 64))
    out = tmp_path / "sp"
    summary = prepare_dataset([video], out, size=(128, 64), self_pairs=2)

    def pairs(folder, split):
        return [tuple(p[:2]) for p in read_pairs(folder / f"pairs-{split}.csv")]

    train, test = pairs(out, "train"), pairs(out, "test")
    assert test == pairs(tmp_path / "plain", "test") and test
    between = [p for p in train if "-w" not in p[0]]
    assert between == pairs(tmp_path / "plain", "train")
    renders = [p for p in train if "-w" in p[0]]
    train_frames = {n for p in between for n in p}
    test_frames = {n for p in test for n in p}
    # two per train frame, less the draws that found no limb to move within the photo (a person at its edge)
    assert 0.5 * 2 * len(train_frames) <= summary["self_pairs"] == len(renders) <= 2 * len(train_frames)
    for a, b in renders:
        frame = b.replace("-t.png", ".png")
        assert frame in train_frames and b.endswith("-t.png") and a.startswith(frame.replace(".png", "-w"))
        img, target = load_image(out / "images" / a), load_image(out / "images" / b)
        assert img.shape == target.shape == (128, 64, 3)
        moved = (np.abs(img.astype(int) - target.astype(int)).max(axis=2) > 40).mean()
        assert moved > 0.01, f"{a}: {moved:.4f} of the crop differs from its frame"  # the render is another pose
    annotated = read_annotations(out / "annotations.csv", (128, 64))
    assert all(a in annotated and b in annotated for a, b in renders)
    assert not any(a.split("-w")[0] + ".png" in test_frames for a, _ in renders)
    assert json.loads((out / "dataset.json").read_text())["prepare"]["self_pairs"] == 2
    assert plain["pairs_train"] + len(renders) == summary["pairs_train"]


def test_a_photo_of_someone_else_among_one_persons_is_said(tmp_path, procedural_photos):
    # one folder's photos are one person's; a newcomer's five different people were trained as one, silently
    folder = tmp_path / "anna"
    folder.mkdir()
    for k in (0, 1):
        shutil.copy(procedural_photos[k][0], folder / f"a{k}.png")
    other = np.roll(load_image(procedural_photos[2][0]), 1, axis=2)  # the figure in other colours
    cv2.imwrite(str(folder / "b.png"), other[..., ::-1])
    s = prepare_dataset([folder], tmp_path / "ds", (128, 64))
    assert len(s["unlike"]) == 1 and s["unlike"][0].startswith(str(folder / "b.png"))
    assert s["identities"] == 1  # said, not changed: the user may mean it


def test_a_new_source_that_moves_held_out_images_into_training_is_said(dance, tmp_path):
    # one person's frames are split by time, several people by person: adding photos of someone else to a video's
    # set made its held-out frames training pairs, unremarked (a newcomer review)
    _, folder, _ = dance
    out = tmp_path / "dance"
    shutil.copytree(folder, out)
    held = len([n for n in read_pairs(out / "pairs-test.csv")])
    assert held
    someone = tmp_path / "someone"
    someone.mkdir()
    for i in range(3):
        shutil.copy(shared("market-real", f"{i}.jpg"), someone / f"{i}.jpg")
    s = prepare_dataset([someone], out, size=DANCE_SIZE)
    assert any("held out before" in line and "now in the training split" in line for line in s["unlike"])
