"""pix2pix's PatchGAN discriminator, the one the attention and SPGNet recipes train against."""
from __future__ import annotations

import torch.nn as nn


class PatchDiscriminator(nn.Module):
    """4x4 convs: stride 2 for the first ``layers``, then two stride-1 convs; channels nf, 2nf, 4nf, 8nf (at
    most), 1; LeakyReLU 0.2; raw logits. ``layers`` 3 is the 70x70 PatchGAN."""

    def __init__(self, in_channels: int, nf: int = 64, layers: int = 3, norm: str = "batch"):
        super().__init__()

        def nrm(c):
            return nn.BatchNorm2d(c) if norm == "batch" else nn.InstanceNorm2d(c, affine=True)

        seq = [nn.Conv2d(in_channels, nf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = nf
        for i in range(1, layers + 1):
            nc = nf * min(2 ** i, 8)
            seq += [nn.Conv2d(c, nc, 4, 2 if i < layers else 1, 1, bias=False), nrm(nc), nn.LeakyReLU(0.2, True)]
            c = nc
        seq.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.layers = nn.Sequential(*seq)
        self._register_load_state_dict_pre_hook(_rename_net_keys)

    def forward(self, x):
        return self.layers(x)


def check_layers(recipe, layers: int) -> None:
    """Refuse a discriminator deeper than the run's images allow, before the first step fails inside torch:
    ``layers`` halvings, then two 4x4 convs that need 3 positions a side (d_layers 4 at 64x32 did)."""
    h, w = (int(v) for v in recipe.generator.config["image_size"])
    if min(h, w) >> layers >= 3:
        return
    from ..options import TrainingError

    most = max((n for n in range(1, layers) if min(h, w) >> n >= 3), default=0)
    advice = f"give at most {most}" if most else "train at a larger --size"
    raise TrainingError(f"the {recipe.backend} recipe's 'd_layers' {layers} is too deep for {h}x{w} images (it "
                        f"needs {3 << layers} pixels a side): {advice}")


def _rename_net_keys(state_dict, prefix, *_):
    """SPGNet checkpoints may name these convs ``net.N`` (that recipe's own attribute name before this module
    served both): read them as ``layers.N``, so that such a run still resumes."""
    for k in [k for k in state_dict if k.startswith(prefix + "net.")]:
        state_dict[prefix + "layers." + k[len(prefix) + 4:]] = state_dict.pop(k)
