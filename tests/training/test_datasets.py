"""PairDataset and the seeded, resumable loader; reading pose-gan folders; clear errors for bad datasets."""
import shutil

import cv2
import numpy as np
import pytest
import torch

from engine.detect import pose_mask
from engine.errors import DatasetError
from engine.parsing import coarse_parsing
from training.datasets import COARSE_FLIP, PairDataset, make_loader, read_annotations
from training.synth import make_synthetic_dataset

SIZE = (64, 32)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "synth"
    make_synthetic_dataset(root, identities=6, poses_per_identity=5, size=SIZE, seed=1)
    return root


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_item_shapes_and_dtypes(synth):
    ds = PairDataset(synth, "train", num_sources=1)
    assert len(ds) == 5 * 5 * 4  # five training people, every ordered pair of their five images
    item = ds[0]
    h, w = SIZE
    expect = {"src_img": (1, 3, h, w), "src_pose": (1, 18, 3), "src_mask": (1, 1, h, w),
              "src_parsing": (1, h, w), "tgt_img": (3, h, w), "tgt_pose": (18, 3), "tgt_mask": (1, h, w),
              "tgt_parsing": (h, w)}
    for k, shape in expect.items():
        assert tuple(item[k].shape) == shape, k
    for k in ("src_img", "src_pose", "src_mask", "tgt_img", "tgt_pose", "tgt_mask"):
        assert item[k].dtype == torch.float32, k
    assert item["src_parsing"].dtype == torch.int64 and item["tgt_parsing"].dtype == torch.int64
    assert -1.0 <= item["tgt_img"].min() < item["tgt_img"].max() <= 1.0
    assert set(item["tgt_pose"][:, 2].unique().tolist()) <= {0.0, 1.0}
    assert 0.0 <= item["tgt_mask"].min() and item["tgt_mask"].max() == 1.0
    assert int(item["tgt_parsing"].max()) <= 10
    # the tensors are the files: image, pose row, mask and labels of the pair's target
    src, tgt = ds.pair_names(0)
    rgb = cv2.imread(str(synth / "images" / tgt))[..., ::-1]
    assert torch.allclose(item["tgt_img"], torch.from_numpy(rgb.transpose(2, 0, 1) / 127.5 - 1).float(),
                          atol=1e-6)
    pose = read_annotations(synth / "annotations.csv", SIZE)[tgt]
    assert np.allclose(item["tgt_pose"][:, :2].numpy(), pose.xy)
    labels = cv2.imread(str(synth / "parsing" / tgt), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(item["tgt_parsing"].numpy(), labels)


def test_multi_shot_sources_are_one_person(synth):
    ds = PairDataset(synth, "train", num_sources=3)
    for i in (0, 7, 33, 90):
        item = ds[i]
        assert item["src_img"].shape[0] == 3 and item["src_pose"].shape == (3, 18, 3)
        src, tgt = ds.pair_names(i)
        names = ds.sources_for(i)
        assert names[0] == src and tgt not in names and len(set(names)) == 3
        assert {ds.identity[n] for n in names} == {ds.identity[tgt]}
        # the first source is the pair's "from" image
        single = PairDataset(synth, "train", num_sources=1)[i]
        assert torch.equal(item["src_img"][0], single["src_img"][0])
    # a person with fewer other images than asked repeats them instead of borrowing someone else
    many = PairDataset(synth, "train", num_sources=6)
    names = many.sources_for(5)
    assert len(names) == 6 and {many.identity[n] for n in names} == {many.identity[many.pair_names(5)[1]]}
    assert many.pair_names(5)[1] not in names


def _batches(loader, n):
    out = []
    for b in loader.batches():
        out.append(b)
        if len(out) == n:
            return out
    return out


def test_same_seed_same_order_and_a_different_seed_differs(synth):
    ds = PairDataset(synth, "train")
    a = _batches(make_loader(ds, 8, shuffle=True, seed=5), 4)
    b = _batches(make_loader(ds, 8, shuffle=True, seed=5), 4)
    c = _batches(make_loader(ds, 8, shuffle=True, seed=6), 4)
    assert all(torch.equal(x["tgt_img"], y["tgt_img"]) for x, y in zip(a, b))
    assert not all(torch.equal(x["tgt_img"], y["tgt_img"]) for x, y in zip(a, c))
    # not shuffled: pairs in file order
    first = next(iter(make_loader(ds, 4, shuffle=False)))
    assert torch.equal(first["tgt_img"][1], ds[1]["tgt_img"])


def test_resume_from_epoch_and_index_continues_the_same_order(synth):
    ds = PairDataset(synth, "train", num_sources=2, augment=True)
    bs = 16
    loader = make_loader(ds, bs, shuffle=True, seed=9)
    per_epoch = len(loader)
    assert per_epoch == len(ds) // bs  # the ragged end is dropped when training
    whole = _batches(loader, per_epoch + 3)  # crosses into the second epoch
    # a run stopped after k batches saves loader.position; a new loader from there gives the same batches
    for k in (2, per_epoch - 1, per_epoch + 1):
        run = make_loader(ds, bs, shuffle=True, seed=9)
        first = _batches(run, k)
        pos = run.position
        assert pos == ((0, k * bs) if k < per_epoch else (1, (k - per_epoch) * bs))
        resumed = make_loader(ds, bs, shuffle=True, seed=9, start=pos, num_workers=1 if k == 2 else 0)
        rest = _batches(resumed, len(whole) - k)
        for x, y in zip(first + rest, whole):
            for key in x:
                assert torch.equal(x[key], y[key]), (k, key)
    # epochs are shuffled differently
    assert not torch.equal(whole[0]["tgt_img"], whole[per_epoch]["tgt_img"])


def test_distributed_ranks_share_an_epoch_without_overlap(synth):
    ds = PairDataset(synth, "train")
    seen = []
    for rank in range(2):
        loader = make_loader(ds, 10, shuffle=True, seed=3, rank=rank, world_size=2, drop_last=False)
        seen.append([tuple(k) for b in loader.sampler for k in b])
    keys = seen[0] + seen[1]
    assert len(keys) == len(ds) and len(set(keys)) == len(ds)


def test_flip_augmentation_mirrors_pose_and_swaps_parts(synth):
    plain = PairDataset(synth, "train")
    aug = PairDataset(synth, "train", augment=True, seed=2)
    flips = 0
    for epoch in range(6):
        a, p = aug[(epoch, 3)], plain[3]
        mirrored = p["tgt_pose"].clone()
        h, w = SIZE
        # the same image, flipped or not: compare parsing to decide, then check everything agrees
        flipped = torch.equal(a["tgt_parsing"],
                              torch.from_numpy(_flip_labels(p["tgt_parsing"].numpy())))
        if flipped:
            flips += 1
            lut = [0, 1, 2, 5, 6, 3, 4, 9, 10, 7, 8]
            mirrored = p["tgt_pose"][lut_joints()]
            mirrored[:, 0] = torch.where(mirrored[:, 2] > 0, (w - 1) - mirrored[:, 0], mirrored[:, 0])
            assert torch.allclose(a["tgt_pose"], mirrored)
            assert torch.equal(a["tgt_mask"], torch.flip(p["tgt_mask"], [-1]))
            ref = torch.flip(p["tgt_img"], [-1])
            assert lut == [COARSE_FLIP.get(i, i) for i in range(11)]
        else:
            assert torch.equal(a["tgt_parsing"], p["tgt_parsing"])
            assert torch.allclose(a["tgt_pose"], p["tgt_pose"])
            ref = p["tgt_img"]
        # colour jitter is small: the picture is the same one
        assert (a["tgt_img"] - ref).abs().mean() < 0.12
        assert np.corrcoef(a["tgt_img"].flatten(), ref.flatten())[0, 1] > 0.95
    assert 0 < flips < 6


def lut_joints():
    from engine.pose import MIRROR_INDEX

    return list(MIRROR_INDEX)


def _flip_labels(labels):
    out = labels[:, ::-1].copy()
    res = out.copy()
    for a, b in COARSE_FLIP.items():
        res[out == a] = b
    return res


def test_resize_to_another_size(synth):
    ds = PairDataset(synth, "test", size=(128, 64))
    item = ds[0]
    assert item["tgt_img"].shape == (3, 128, 64) and item["tgt_parsing"].shape == (128, 64)
    small = PairDataset(synth, "test")[0]
    present = small["tgt_pose"][:, 2] > 0
    assert torch.allclose(item["tgt_pose"][present, :2], (small["tgt_pose"][present, :2] + 0.5) * 2 - 0.5)


def _posegan_folder(synth, root):
    """The synth dataset laid out as pose-gan's Market folder: JPEGs, per-split CSVs, no masks or parsing."""
    ann = read_annotations(synth / "annotations.csv", SIZE)
    for split in ("train", "test"):
        d = root / "market-dataset" / split
        d.mkdir(parents=True)
        pairs = (synth / f"pairs-{split}.csv").read_text().splitlines()[1:]
        names = sorted({n for line in pairs for n in line.split(",")})
        rows = ["name:keypoints_y:keypoints_x"]
        for n in names:
            jpg = n.replace(".png", ".jpg")
            cv2.imwrite(str(d / jpg), cv2.imread(str(synth / "images" / n)))
            rows.append(ann[n].to_posegan_row(jpg))
        (root / f"market-annotation-{split}.csv").write_text("\n".join(rows) + "\n")
        (root / f"market-pairs-{split}.csv").write_text(
            "from,to\n" + "\n".join(line.replace(".png", ".jpg") for line in pairs) + "\n")
    return root


def test_reads_a_posegan_folder_as_it_is(synth, tmp_path):
    root = _posegan_folder(synth, tmp_path / "market")
    ds = PairDataset(root, "train", num_sources=2)
    assert len(ds) == len(PairDataset(synth, "train"))
    assert ds.image_dir == root / "market-dataset" / "train"
    item = ds[4]
    assert item["src_img"].shape == (2, 3, *SIZE)
    # no masks or parsing in the folder: both are derived from the pose
    src, tgt = ds.pair_names(4)
    pose = ds.poses[tgt]
    assert (pose.width, pose.height) == (SIZE[1], SIZE[0])
    mask = pose_mask(pose)
    assert np.array_equal(item["tgt_mask"][0].numpy(), mask)
    assert np.array_equal(item["tgt_parsing"].numpy(), coarse_parsing(pose, mask))
    # identities come from the pairs: the extra source is the same person as the target
    names = ds.sources_for(4)
    assert names[1] != tgt and names[1].split("_")[0] == tgt.split("_")[0]
    test = PairDataset(root, "test")
    assert test.image_dir == root / "market-dataset" / "test"
    assert not set(test.names) & set(ds.names)


# ----- bad datasets ---------------------------------------------------------------------------------------------
def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="empty"):
        PairDataset(tmp_path, "train")
    with pytest.raises(DatasetError, match="no such dataset folder"):
        PairDataset(tmp_path / "nope", "train")
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no annotation CSV"):
        PairDataset(tmp_path, "train")


def test_missing_image_names_the_pairs_line(synth, tmp_path):
    root = _copy(synth, tmp_path / "d")
    lines = (root / "pairs-train.csv").read_text().splitlines()
    victim = lines[3].split(",")[1]  # line 4 of the file
    (root / "images" / victim).unlink()
    first_use = next(i for i, line in enumerate(lines, 1) if victim in line.split(","))
    with pytest.raises(DatasetError, match=rf"pairs-train.csv: line {first_use}: image '{victim}' is missing"):
        PairDataset(root, "train")


def test_wrong_joint_count_names_the_annotation_line(synth, tmp_path):
    root = _copy(synth, tmp_path / "d")
    lines = (root / "annotations.csv").read_text().splitlines()
    name, ys, xs = lines[5].split(":")
    lines[5] = f"{name}: [1, 2, 3]:{xs}"
    (root / "annotations.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"annotations.csv: line 6: 3 y values and 18 x values"):
        PairDataset(root, "train")
    lines[5] = f"{name}: [a, b]: [c]"
    (root / "annotations.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"annotations.csv: line 6: "):
        PairDataset(root, "train")


def test_bad_pairs_rows(synth, tmp_path):
    root = _copy(synth, tmp_path / "d")
    lines = (root / "pairs-test.csv").read_text().splitlines()
    lines.insert(2, "0005_000.png,0005_001.png,extra,fields")
    (root / "pairs-test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"pairs-test.csv: line 3: expected 'from,to', got 4 fields"):
        PairDataset(root, "test")
    lines[2] = "0005_000.png,nobody.png"
    (root / "pairs-test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"pairs-test.csv: line 3: image 'nobody.png' has no row"):
        PairDataset(root, "test")
    (root / "pairs-test.csv").write_text("from,to\n")
    with pytest.raises(DatasetError, match=r"pairs-test.csv: no pairs"):
        PairDataset(root, "test")


def test_unreadable_image_and_bad_description(synth, tmp_path):
    root = _copy(synth, tmp_path / "d")
    ds = PairDataset(root, "test", cache=False)
    name = ds.pair_names(0)[1]
    (root / "images" / name).write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=rf"{name}: not a readable image"):
        ds[0]
    (root / "dataset.json").write_text("{broken")
    with pytest.raises(DatasetError, match=r"dataset.json: not valid JSON"):
        PairDataset(root, "test")


def _affine_between(a, b):
    """The 2x3 affine that takes pose ``a``'s joints to ``b``'s (least squares over the joints both have)."""
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    src = np.concatenate([a[both, :2], np.ones((int(both.sum()), 1))], 1)
    m, *_ = np.linalg.lstsq(src, b[both, :2], rcond=None)
    return m.T


def test_reframe_moves_each_image_with_its_pose(synth):
    plain = PairDataset(synth, "train")
    moved = PairDataset(synth, "train", reframe=0.15, seed=3)
    scales = []
    for i in (0, 7, 19):
        p, r = plain[i], moved[i]
        for img, pose, mask, rimg, rpose, rmask in (
                (p["src_img"][0], p["src_pose"][0], p["src_mask"][0], r["src_img"][0], r["src_pose"][0], r["src_mask"][0]),
                (p["tgt_img"], p["tgt_pose"], p["tgt_mask"], r["tgt_img"], r["tgt_pose"], r["tgt_mask"])):
            m = _affine_between(pose.numpy(), rpose.numpy())
            assert abs(m[0, 1]) < 1e-6 and abs(m[1, 0]) < 1e-6 and abs(m[0, 0] - m[1, 1]) < 1e-6  # scaled, moved
            scales.append(m[0, 0])
            assert 0.85 - 1e-6 <= m[0, 0] <= 1.15 + 1e-6
            # the image, its mask and its pose moved together: the plain image warped by the pose's map is it
            h, w = SIZE
            warped = cv2.warpAffine(img.permute(1, 2, 0).numpy(), m, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            assert np.abs(warped - rimg.permute(1, 2, 0).numpy()).mean() < 0.02
            wm = cv2.warpAffine(mask[0].numpy(), m, (w, h), flags=cv2.INTER_LINEAR)
            assert np.abs(wm - rmask[0].numpy()).mean() < 0.02
            assert np.abs(rimg - img).mean() > 0.02  # and it did move
    assert len(set(np.round(scales, 6))) == len(scales)  # every image framed on its own
    assert torch.equal(PairDataset(synth, "train", reframe=0.0)[5]["tgt_img"], plain[5]["tgt_img"])
