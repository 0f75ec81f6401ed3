"""A procedural person for the app's tests and benchmarks (training.synth), so they run on any clone.

The real detector finds this person (17-18 of 18 joints, ~5 px from where they were drawn, on 480 x 320)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def standing_body(look, arm_deg: float):
    """A front-facing standing skeleton in training.synth's body units: arms ``arm_deg`` away from the body
    (elbows a little bent), legs slightly apart, head upright. Poses this plain are what the real detector
    finds best, so the tests' photo has a person it finds on every machine."""
    from engine.pose import J, NUM_JOINTS
    from training import synth

    deg = math.radians
    xy = np.zeros((NUM_JOINTS, 2))
    hipc = np.array([0.0, 0.5])
    neck = hipc - np.array([0.0, synth.TORSO])
    xy[J["neck"]] = neck
    for side, sgn in (("r", -1.0), ("l", 1.0)):
        sh, hp = neck + (sgn * look.shoulder, 0.01), hipc + (sgn * look.hip, 0.0)

        def limb(start, angle, length):
            return start + length * np.array([sgn * math.sin(deg(angle)), math.cos(deg(angle))])

        el = limb(sh, arm_deg, synth.UPPER_ARM * look.arm)
        kn = limb(hp, 6, synth.THIGH * look.leg)
        for name, p in (("shoulder", sh), ("hip", hp), ("elbow", el), ("knee", kn),
                        ("wrist", limb(el, arm_deg + 15, synth.LOWER_ARM * look.arm)),
                        ("ankle", limb(kn, 6, synth.SHIN * look.leg))):
            xy[J[f"{side}_{name}"]] = p
    hc = neck - (0.0, synth.HEAD_CENTRE)
    xy[J["nose"]] = hc + (0.0, 0.005)
    xy[J["r_eye"]], xy[J["l_eye"]] = hc + (-0.025, -0.01), hc + (0.025, -0.01)
    xy[J["r_ear"]], xy[J["l_ear"]] = hc + (-0.05, 0.005), hc + (0.05, 0.005)
    return synth.Body(xy, hc, 0.0, False)




def procedural_photos(out: Path, arms=(20, 35, 10), size=(480, 320)) -> list:
    """Photos of one procedural person over one scene, one per arm angle, written to ``out``: [(path, Pose)],
    the Pose being where training.synth drew the joints."""
    from engine.images import save_image
    from training import synth

    look = synth.random_look(np.random.default_rng([7, 0]))
    scene = synth._background(np.random.default_rng([7, 0, 0]), *size)
    photos = []
    for k, arm in enumerate(arms):
        img, _, pose = synth.render_person(standing_body(look, arm), look, size,
                                           np.random.default_rng([7, 0, k + 1]), scene)
        path = Path(out) / f"person{k + 1}.png"
        save_image(path, img)
        photos.append((path, pose))
    return photos
