import pickle

import pytest
import torch

from engine.errors import WeightsError
from engine.weights import WeightsMeta, check_state_dict, load_weights, read_meta, save_weights


def test_roundtrip_with_metadata(tmp_path):
    t = {"a.weight": torch.randn(3, 4), "b": torch.arange(5)}
    meta = WeightsMeta("dgan", {"width": 0.5}, (128, 64), {"data": "synthetic", "steps": 10}, label="x")
    f = save_weights(tmp_path / "w.safetensors", t, meta)
    got, m = load_weights(f, backend="dgan")
    assert torch.equal(got["a.weight"], t["a.weight"]) and m.config == {"width": 0.5}
    assert m.image_size == (128, 64) and m.provenance["steps"] == 10 and m.created
    assert read_meta(f).backend == "dgan"
    assert not (tmp_path / "w.safetensors.part").exists()


def test_wrong_backend_truncated_pickle_and_foreign_files(tmp_path):
    f = save_weights(tmp_path / "w.safetensors", {"a": torch.ones(100, 100)}, WeightsMeta("pnr"))
    with pytest.raises(WeightsError, match="'pnr' backend, not 'dgan'"):
        load_weights(f, backend="dgan")
    data = f.read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[: len(data) - 1000])
    with pytest.raises(WeightsError, match="truncated"):
        load_weights(tmp_path / "t.safetensors")
    torch.save({"a": torch.ones(2)}, tmp_path / "p.pth")
    with pytest.raises(WeightsError, match="pickle.*import-weights"):
        load_weights(tmp_path / "p.pth")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(WeightsError, match="pickle"):
        read_meta(tmp_path / "raw.pkl")
    (tmp_path / "txt.safetensors").write_text("hello world, not weights")
    with pytest.raises(WeightsError):
        read_meta(tmp_path / "txt.safetensors")


def test_check_state_dict_names_what_differs():
    exp = {"a": torch.zeros(2, 2), "b": torch.zeros(3)}
    with pytest.raises(WeightsError, match="1 missing.*b.*1 unexpected.*c"):
        check_state_dict(exp, {"a": torch.zeros(2, 2), "c": torch.zeros(1)}, "f")
    with pytest.raises(WeightsError, match=r"other shapes.*a \(3, 2\) != \(2, 2\)"):
        check_state_dict(exp, {"a": torch.zeros(3, 2), "b": torch.zeros(3)}, "f")
    out = check_state_dict(exp, {"a": torch.zeros(2, 2, dtype=torch.float16), "b": torch.zeros(3)}, "f")
    assert out["a"].dtype == torch.float32


def test_header_lengths_that_look_like_pickle_magic_are_still_safetensors(tmp_path):
    """The 8-byte header length starts the file: a low byte of 0x80, or bytes "PK", must not read as a pickle."""
    import json
    import struct

    from safetensors.torch import load_file

    def header_len(pad):
        f = save_weights(tmp_path / "w.safetensors", {"a": torch.ones(3)}, WeightsMeta("pnr", label="x" * pad))
        return f, struct.unpack("<Q", f.read_bytes()[:8])[0]

    _, base = header_len(0)
    for wanted in (0x180, 0x4B50):  # low byte 0x80; first two bytes "PK"
        for pad in range(wanted - base - 16, wanted - base + 16):  # the header is padded to 8-byte multiples
            f, n = header_len(pad)
            if n == wanted:
                break
        else:
            raise AssertionError(f"no label length gave a header of {wanted} bytes")
        assert f.read_bytes()[:1] == b"\x80" or f.read_bytes()[:2] == b"PK"
        got, m = load_weights(f, backend="pnr")
        assert torch.equal(got["a"], load_file(str(f))["a"]) and m.backend == "pnr"
        assert json.loads(f.read_bytes()[8:8 + struct.unpack("<Q", f.read_bytes()[:8])[0]])


def test_an_absurd_network_is_refused_before_anything_is_allocated():
    import resource

    from engine.registry import backend_class
    from engine.weights import MAX_PARAMETERS, check_config

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for config, why in (({"width": 200}, "width 200"), ({"image_size": [2 ** 20, 2 ** 19]}, "image_size"),
                        ({"ngf": 10 ** 6}, "ngf 1000000"), ({"ngf": 1000}, "parameters"),
                        ({"width": float("nan")}, "width nan"), ({"num_down": "four"}, "cannot be built")):
        with pytest.raises(WeightsError, match=why):
            check_config(backend_class("attention"), config, "w.safetensors")
    # ngf 1000 asks for ~1.4G parameters (5.5 GB): counted on the meta device, never allocated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # kB
    paper = check_config(backend_class("attention"), {"image_size": [256, 176], "width": 1.0})
    assert paper["width"] == 1.0
    assert MAX_PARAMETERS > 90_172_928  # the largest paper network fits


def test_a_refused_configuration_key_is_shown_on_one_line():
    """Found by the fuzz test: a key holding a newline went into the message as it was."""
    from engine.registry import backend_class
    from engine.weights import check_config

    for config in ({"\n": 1025}, {"a": {"\r\x00": float("inf")}}, {"\u2028x": [float("inf")]}):
        with pytest.raises(WeightsError) as e:
            check_config(backend_class("dgan"), config, "w.safetensors")
        assert str(e.value).isprintable() and "refused" in str(e.value)


def test_nan_or_inf_weights_are_refused_at_load(tmp_path):
    for bad in (float("nan"), float("inf")):
        t = {"a": torch.ones(10), "b": torch.ones(3)}
        t["b"][1] = bad
        f = save_weights(tmp_path / "w.safetensors", t, WeightsMeta("pnr", {"width": 0.25}))
        with pytest.raises(WeightsError, match="tensor b holds NaN or infinite"):
            load_weights(f)


def test_metadata_of_the_wrong_type_is_one_line(tmp_path):
    import json

    from safetensors.torch import save_file

    for field, value in (("config", [1]), ("image_size", "big"), ("label", 3), ("format_version", "1"),
                         ("provenance", "x"), ("backend", None)):
        meta = json.loads(WeightsMeta("dgan").to_json())
        meta[field] = value
        save_file({"a": torch.ones(1)}, str(tmp_path / "w.safetensors"), metadata={"poseeditor": json.dumps(meta)})
        with pytest.raises(WeightsError) as e:
            read_meta(tmp_path / "w.safetensors")
        assert "\n" not in str(e.value) and ("image_size" in str(e.value) or repr(field) in str(e.value))
