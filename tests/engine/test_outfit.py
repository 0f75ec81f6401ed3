"""engine.outfit on the real detector: one person's photos agree, another outfit is told apart (the app warns
when a reference looks like someone else)."""
import numpy as np

from engine.images import load_image
from engine.outfit import DIFFERENT, looks_different, outfit, outfit_distance


def _outfit(render_cache, name, img):
    d = render_cache.detect(name, img)
    return outfit(img, d.pose, d.mask)


def test_one_persons_photos_agree_and_other_clothes_do_not(render_cache, procedural_photos):
    imgs = [load_image(p) for p, _ in procedural_photos]
    a, b, c = (_outfit(render_cache, f"procedural{i}", img) for i, img in enumerate(imgs))
    assert a and not looks_different(a, b) and not looks_different(a, c)  # a checked shirt in three poses
    rolled = np.roll(imgs[0], 1, axis=2).copy()  # the same figure, its clothes in other colours
    assert looks_different(a, _outfit(render_cache, "procedural0-rolled", rolled))
    assert outfit_distance(a, {}) is None and not looks_different(a, {})  # nothing shown to compare


def test_a_video_agrees_with_itself_and_fashion_photos_differ(render_cache, shared_data):
    from training.video import read_frames

    frames = dict(read_frames(shared_data("dance-video", "dance_train_150f.mp4"), [0, 75, 149]))
    dance = [_outfit(render_cache, f"dance{i}", img) for i, img in frames.items()]
    assert all(outfit_distance(dance[0], o) < DIFFERENT / 1.5 for o in dance[1:])
    people = [_outfit(render_cache, f"fashion{i}", load_image(shared_data("fashion-real", f"{i}.jpg")))
              for i in (1, 3, 4, 6, 7, 8)]
    told = sum(looks_different(people[i], people[j]) for i in range(6) for j in range(i + 1, 6))
    assert told >= 10  # of 15 pairs of different people (79% of all fashion and market pairs, engine/outfit.py)
