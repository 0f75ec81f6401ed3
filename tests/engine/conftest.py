"""Fixtures the engine's tests share."""
import pytest


@pytest.fixture(scope="session")
def person(tmp_path_factory):
    """A procedural person's photo (256x128 PNG) and the pose file of where training.synth drew its joints."""
    from PIL import Image

    from training.synth import synth_image

    d = tmp_path_factory.mktemp("person")
    img, _, pose = synth_image(7, 0, 0, (256, 128))
    Image.fromarray(img).save(d / "photo.png")
    pose.save_json(d / "pose.json")
    return d / "photo.png", d / "pose.json"
