"""Property-based fuzzing of every reader of user files: whatever the bytes or the JSON, nothing escapes but the
project's own one-line error (PoseEditorError), and what is accepted is usable (finite, in bounds).

Examples per property are kept small (the whole file runs in well under a minute on 2 cores); hypothesis
shrinks any failure to a minimal input, printed with the failure.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import PoseEditorError
from engine.pose import MAX_CANVAS_SIDE, MAX_COORDINATE, Pose

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# numbers as JSON can carry them, edges included
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([0, 1, -1, 1e308, -1e308, 5e-324, 65536, 65537, 2 ** 31, 0.5, 1.0]),
)
scalars = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=6), inner, max_size=5)), max_leaves=30)


def keypoints():
    return st.one_of(
        st.lists(numbers, min_size=54, max_size=54),
        st.lists(numbers, min_size=75, max_size=75),
        st.lists(scalars, min_size=50, max_size=56),
        st.lists(json_values, max_size=60),
    )


pose_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({"people": st.lists(st.fixed_dictionaries({"pose_keypoints_2d": keypoints()}),
                                              max_size=2)},
                          optional={"canvas_width": scalars, "canvas_height": scalars}),
)


def _accepted_pose_is_usable(pose: Pose):
    assert isinstance(pose, Pose)
    assert 1 <= pose.width <= MAX_CANVAS_SIDE and 1 <= pose.height <= MAX_CANVAS_SIDE
    assert np.all(np.isfinite(pose.xy)) and np.all(np.abs(pose.xy) <= MAX_COORDINATE * MAX_CANVAS_SIDE)
    assert np.all(np.isfinite(pose.confidence)) and np.all(pose.confidence <= 1.0)


@FAST
@given(doc=pose_docs, size=st.one_of(st.none(), st.tuples(st.integers(1, 4000), st.integers(1, 4000))))
def test_pose_json_documents(doc, size):
    w, h = size or (None, None)
    try:
        pose = Pose.from_openpose(doc, w, h)
    except PoseEditorError:
        return
    _accepted_pose_is_usable(pose)


@FAST
@given(data=st.one_of(st.binary(max_size=300), pose_docs.map(lambda d: json.dumps(d, allow_nan=True).encode())))
def test_pose_json_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("pose", numbered=True) / "pose.json"
    path.write_bytes(data)
    try:
        pose = Pose.load_json(path, 640, 480)
    except PoseEditorError as e:
        assert "\n" not in str(e)
        return
    _accepted_pose_is_usable(pose)


def _row_lists():
    return st.one_of(st.lists(numbers, min_size=18, max_size=18).map(json.dumps),
                     json_values.map(lambda v: json.dumps(v, allow_nan=True)), st.text(max_size=30))


@FAST
@given(name=st.text(max_size=12), ys=_row_lists(), xs=_row_lists(), raw=st.one_of(st.none(), st.text(max_size=80)))
def test_posegan_rows(name, ys, xs, raw):
    row = raw if raw is not None else f"{name}: {ys}: {xs}"
    try:
        _, pose = Pose.from_posegan_row(row, 64, 128)
    except PoseEditorError:
        return
    assert np.all(np.isfinite(pose.xy))


# ----- dataset readers ------------------------------------------------------------------------------------------
csv_lines = st.lists(st.one_of(st.text(max_size=60), st.sampled_from([
    "name:keypoints_y:keypoints_x", "from,to", "name,identity", "a.png,b.png", "a.png: [1]: [2]",
    "a.png: " + json.dumps([1] * 18) + ": " + json.dumps([2] * 18), '"unclosed,quote', "a,b,c", "1,a.png,b.png"])),
    max_size=8)


@FAST
@given(lines=csv_lines, junk=st.binary(max_size=40), where=st.integers(0, 3))
def test_dataset_csv_readers(tmp_path_factory, lines, junk, where):
    from training.dataset_format import read_annotations, read_identities, read_pairs

    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if where:  # bytes of any encoding somewhere in the file
        cut = len(data) * where // 4
        data = data[:cut] + junk + data[cut:]
    d = tmp_path_factory.mktemp("csv", numbered=True)
    path = d / "f.csv"
    path.write_bytes(data)
    for reader, args in ((read_annotations, ((128, 64),)), (read_annotations, (None,)), (read_pairs, ()),
                         (read_identities, ())):
        try:
            reader(path, *args)
        except PoseEditorError as e:
            assert "\n" not in str(e)


@FAST
@given(doc=st.one_of(json_values, st.fixed_dictionaries(
    {"format": st.just("poseeditor-dataset")},
    optional={"version": scalars, "image_size": json_values, "parsing": scalars, "parsing_flip": json_values,
              "source": scalars})))
def test_dataset_json(tmp_path_factory, doc):
    from training.dataset_format import read_dataset_json

    d = tmp_path_factory.mktemp("dsjson", numbered=True)
    (d / "dataset.json").write_text(json.dumps(doc, allow_nan=True))
    try:
        info = read_dataset_json(d)
    except PoseEditorError:
        return
    if "image_size" in info:
        assert all(1 <= v <= 8192 for v in info["image_size"])


# ----- weights header and metadata ------------------------------------------------------------------------------
def _safetensors(header) -> bytes:
    raw = json.dumps(header, allow_nan=True).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 64


meta_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({"format": st.just("poseeditor-weights"), "backend": scalars},
                          optional={"format_version": scalars, "config": json_values, "image_size": json_values,
                                    "provenance": json_values, "label": scalars, "created": scalars}),
)
headers = st.one_of(
    json_values,
    st.dictionaries(st.text(max_size=5), st.one_of(json_values, st.fixed_dictionaries(
        {"dtype": scalars, "shape": json_values, "data_offsets": json_values})), max_size=3),
    meta_docs.map(lambda m: {"__metadata__": {"poseeditor": json.dumps(m, allow_nan=True)}}),
    meta_docs.map(lambda m: {"__metadata__": m}),
)


@FAST
@given(header=headers, prefix=st.one_of(st.none(), st.binary(max_size=24)))
def test_weights_header_and_metadata(tmp_path_factory, header, prefix):
    from engine.weights import read_meta

    path = tmp_path_factory.mktemp("w", numbered=True) / "w.safetensors"
    path.write_bytes(prefix if prefix is not None else _safetensors(header))
    try:
        meta = read_meta(path)
    except PoseEditorError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(meta.backend, str) and isinstance(meta.config, dict)
    assert len(meta.image_size) == 2


# ----- network configurations -----------------------------------------------------------------------------------
BACKENDS = ["dgan", "dgan-sa", "attention", "spgnet", "pnr"]
config_values = st.one_of(scalars, st.lists(st.integers(-10, 5000), max_size=3),
                          st.integers(-10, 1500), st.floats(-10, 300))


@pytest.fixture(scope="module")
def config_keys():
    from engine import registry

    return {n: sorted(registry.backend_class(n).default_config) for n in BACKENDS}


@SLOW
@given(backend=st.sampled_from(BACKENDS), data=st.data())
def test_network_configs(config_keys, backend, data):
    from engine.registry import backend_class
    from engine.weights import MAX_IMAGE_SIDE, MAX_WIDTH, check_config

    keys = config_keys[backend]
    config = data.draw(st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(keys), config_values, max_size=3),
    ))
    try:
        full = check_config(backend_class(backend), config, "fuzz")
    except PoseEditorError as e:
        assert "\n" not in str(e)
        return
    if "image_size" in full:
        assert all(v <= MAX_IMAGE_SIDE for v in full["image_size"])
    if "width" in full:
        assert 0 < full["width"] <= MAX_WIDTH and math.isfinite(full["width"])

