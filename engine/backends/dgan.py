"""The DGAN backends: Deformable GAN (``dgan``) and its self-attention + spectral-norm variant (``dgan-sa``).

The network is in dgan_net.py, the importer of the authors' Keras weights in dgan_keras.py. Configurations:

    paper-128x64    Market-1501 generator of the paper (6 levels, width 1.0): 61,109,085 parameters
    paper-256x256   DeepFashion generator (7 levels, one more 512 block): 82,080,611 parameters
    cpu-small       what the app uses by default and starter weights are trained at: 128x64, width 0.25
                    (3.8M parameters, tens of milliseconds per render on a 2-core CPU)

``dgan-sa`` is the same generator with ``self_attention`` and ``spectral_norm`` on (Horiuchi et al.); both are
plain config switches, so any mix can be built for the variant paper's ablation (the third switch, the
relativistic hinge loss, is a training option of training/recipes/dgan.py). Its ``cpu-small`` configuration
max-pools the attention's keys and values by 2 (``attention_pool``); its paper configurations do not.
"""
from __future__ import annotations

from ..errors import WeightsError
from .base import NeuralBackend
from .dgan_net import DganGenerator, resolve_config

# Everything a config may hold; "levels": "auto" follows the authors' rule (6 up to 128 px, else 7).
_COMMON = {"levels": "auto", "norm": "keras-instance", "dropout": 0.5, "warped_skips": 4, "sigma": 6.0,
           "self_attention": False, "spectral_norm": False, "attention_pool": 1, "torso_whole_image": True}
CONFIGS = {
    "paper-128x64": dict(_COMMON, image_size=[128, 64], width=1.0, levels=6),
    "paper-256x256": dict(_COMMON, image_size=[256, 256], width=1.0, levels=7),
    "cpu-small": dict(_COMMON, image_size=[128, 64], width=0.25),
}
SA_SWITCHES = {"self_attention": True, "spectral_norm": True}
SA_CONFIGS = {k: dict(v, **SA_SWITCHES) for k, v in CONFIGS.items()}
# Its full-resolution attention layer dominates a CPU render (a 8192 x 8192 score map at 128x64): the small
# configuration pools keys and values by 2, as SAGAN's released code does (a quarter of the map).
SA_CONFIGS["cpu-small"]["attention_pool"] = 2


class DganBackend(NeuralBackend):
    name = "dgan"
    title = "Deformable GAN"
    summary = ("Siarohin et al. 2018: a U-Net whose skip connections move the photo's features with one affine "
               "transform per body part. Needs trained weights. Uses the first reference only.")
    multi_shot = False
    default_config = CONFIGS["cpu-small"]
    configs = CONFIGS

    @classmethod
    def build_network(cls, config: dict) -> DganGenerator:
        return DganGenerator(dict(cls.default_config, **config))

    @classmethod
    def preset(cls, name: str) -> dict:
        if name not in cls.configs:
            raise KeyError(f"no {cls.name} configuration {name!r}; one of {', '.join(cls.configs)}")
        return resolve_config(cls.configs[name])

    @classmethod
    def convert_foreign(cls, tensors: dict):
        """The authors' Keras generator (pose-gan .h5, flattened to name -> array) as our tensors + config."""
        from .dgan_keras import convert_keras_generator

        tensors, config = convert_keras_generator(tensors)
        # their network was trained on features sampled as their transform layer samples them
        return tensors, dict(config, warp_sampling="nearest")


class DganSaBackend(DganBackend):
    name = "dgan-sa"
    title = "Deformable GAN + self-attention"
    summary = ("Horiuchi et al.: DGAN with self-attention and spectral normalisation, trained with a relativistic "
               "hinge loss. Needs trained weights. Uses the first reference only.")
    default_config = SA_CONFIGS["cpu-small"]
    configs = SA_CONFIGS

    @classmethod
    def convert_foreign(cls, tensors: dict):
        raise WeightsError("the variant's authors released no weights; the pose-gan Keras weights are plain "
                           "DGAN: import them with --backend dgan")
