"""Training recipes of the DGAN backends: ``dgan`` (Siarohin et al.) and ``dgan-sa`` (Horiuchi et al.).

dgan     L_G = gan_weight * cGAN(D(x_a, H_a, G(..), H_b)) + nn_weight * L_NN,   gan_weight 1, nn_weight 0.01
         (paper eq. 10; L_NN of appendix A on VGG19 conv1_2, summed over pixels, 3x3 neighbourhood up to 128 px
         images, 5x5 above as for DeepFashion). D minimises the BCE of eq. 5.
dgan-sa  eq. 9 of the variant: L_NN + lambda1 * L_G^RH + lambda2 * L_D^RH with lambda1 = lambda2 = 50: the NN loss
         weighs 1, lambda1 weighs the generator's relativistic average hinge loss, lambda2 the discriminator's
         (G and D each minimise the terms that depend on them; eq. 8 gives both hinge losses).
Both: Adam lr 2e-4, betas (0.5, 0.999), one D step per G step (pose-gan's training_ratio 1).

The three switches of the variant are independent: ``self_attention`` and ``spectral_norm`` are network config
(generator decoder and discriminator alike), ``rh`` is a recipe option. Loss weights left at None follow ``rh``:
with it, 1 / 50 / 50 (eq. 9); without it, 0.01 / 1 / 1 (DGAN's eq. 10). So the ablation rows are, e.g.
``--config '{"rh": false}'`` with the net config's switches set as the row says.

``limb_weight`` / ``leg_weight`` (neither paper's; 0, off, by default) add a limb term to the reconstruction: on the
target's arm (leg) pixels, by its parsing, the NN loss again, matched only against the target's own arm (leg)
features, times the weight, so those pixels weigh 1 + w. Why: an arm is a few % of a 128x64 image, and the full NN
loss lets an arm pixel drawn as background match the background beside the arm within its neighbourhood, so a
faint arm costs almost nothing (the starters drew a whitish blob where a raised hand goes). With an L1 term on,
its arm (leg) pixels weigh 1 + w too.

The NN loss's feature map is the backbone's first stage (training.losses.get_backbone): VGG19 relu1_2 when its
weights are in the torch cache, else MobileNetV2's first layer (stride 2) offline; the run says which.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.backends.dgan_net import SelfAttention, make_norm, maybe_sn
from engine.backends.layers import heatmaps
from training.losses import gan_d_loss, gan_g_loss, get_backbone, nn_loss, weighted_l1

from .base import Recipe

# Stands in for "no match" outside a limb in the limb term's NN search (nn_loss pads with +inf the same way; an
# inf here would make 0 * inf gradients): far beyond any backbone feature distance, exact in bf16 and fp32.
_FAR = 1.0e4


def limb_nn_loss(fake_feat: torch.Tensor, target_feat: torch.Tensor, mask: torch.Tensor, n: int,
                 reduction: str) -> torch.Tensor:
    """The NN loss on the positions of ``mask`` only, each matched within the mask only (the n x n search of
    training.losses.nn_loss, whose reduction it keeps: "sum" over the mask's positions, "mean" over all).

    The mask (image size) becomes the features' grid by max pooling, so a thin arm keeps its positions at the
    backbone's stride. Outside it both maps are set to one far constant: those positions match themselves at 0
    and pass no gradient, and an arm position never prefers a non-arm neighbour.
    """
    m = F.adaptive_max_pool2d(mask.float(), fake_feat.shape[-2:]) > 0
    far = torch.full((), _FAR, dtype=torch.float32, device=fake_feat.device)
    return nn_loss(torch.where(m, fake_feat.float(), far), torch.where(m, target_feat.float(), far), n, reduction)


class DganDiscriminator(nn.Module):
    """pose-gan's conditional patch discriminator on [x_a, H_a, y, H_b] (3 + 18 + 3 + 18 channels).

    4x4 stride-2 conv (bias) to 64, then LeakyReLU(0.2) -> 4x4 stride-2 conv (padding 1, no bias) ->
    norm to 128, 256, 512, and LeakyReLU -> 4x4 stride-2 conv to 1. Returns logits (the sigmoid of the paper is in
    the BCE loss; the relativistic loss needs the raw scores). With ``sa``, self-attention follows the last two
    hidden layers (256 and 512: the 1-channel output cannot carry it); with ``sn`` every conv is spectrally
    normalised. Every conv has padding 1, so each layer halves the size exactly and small CPU configs (64x32)
    work; the released code leaves the first conv unpadded, which only changes the patch grid (3x1 instead of
    4x2 scores at 128x64), not the parameters.
    """

    def __init__(self, width: float = 1.0, norm: str = "keras-instance", sn: bool = False, sa: bool = False,
                 pool: int = 1):
        super().__init__()
        ch = [max(1, int(round(c * width))) for c in (64, 128, 256, 512)]
        in_ch = 2 * (3 + 18)
        layers = [maybe_sn(nn.Conv2d(in_ch, ch[0], 4, stride=2, padding=1), sn)]
        for i in range(1, 4):
            layers += [nn.LeakyReLU(0.2), maybe_sn(nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=False), sn),
                       make_norm(norm, ch[i])]
            if sa and i >= 2:
                layers.append(SelfAttention(ch[i], sn, pool=pool))
        layers += [nn.LeakyReLU(0.2), maybe_sn(nn.Conv2d(ch[3], 1, 4, 2, 1, bias=False), sn)]
        self.net = nn.Sequential(*layers)

    def forward(self, src_img, src_maps, img, tgt_maps) -> torch.Tensor:
        return self.net(torch.cat([src_img, src_maps, img, tgt_maps], 1))


class DganRecipe(Recipe):
    backend = "dgan"
    # bf16 steps without the channels-last layout (training/precision.py): at the starter size, batch 8, one
    # thread's CPU time, 1.17x fp32 without it and 1.11x with it (its warps and norms convert layouts)
    channels_last = False
    default_options = {
        "lr": 2e-4, "beta1": 0.5, "beta2": 0.999,
        "rh": False,            # relativistic average hinge loss (Horiuchi et al.) instead of the BCE cGAN loss
        "nn_weight": None,      # lambda of eq. 10 (0.01) / 1 in the variant's eq. 9
        "gan_weight": None,     # 1 / lambda1 = 50 with rh
        "d_weight": None,       # 1 / lambda2 = 50 with rh
        "nn_size": None,        # neighbourhood: 3 up to 128 px (Market), 5 above (DeepFashion)
        # Two terms of neither paper, for the steps before the GAN starts (the personal plan's whole run, see
        # GANLESS): a per-pixel L1 on the image and a perceptual term (mean squared backbone features of its 3
        # stages, SPGNet's). None: GANLESS's before gan_start_step, 0 from it on (the papers' losses).
        "l1_weight": None,
        "perc_weight": None,
        # "sum" over pixels (eq. 15 as written; trains better here, docs/backends/dgan.md) or "mean" per pixel
        # (the authors' Keras objective, balanced against the GAN term by VGG19's larger activations)
        "nn_reduction": "sum",
        # weight of the target's arm (leg) pixels on top of 1 in the reconstruction terms (see the module's text)
        "limb_weight": 0.0,
        "leg_weight": 0.0,
        "backbone": "auto",     # "vgg19" (the paper's, if cached), "mobilenet_v2" (offline) or "auto"
        "amp": True,            # mixed precision as the run's --precision says (training/precision.py)
    }

    # The L1 and perceptual weights before the GAN starts, as multiples of nn_weight (dgan 0.01, dgan-sa 1: Adam
    # sees only the terms' ratio). Alone, the NN loss on the offline backbone's first stage (MobileNetV2, stride 2,
    # ReLU6: a third of its features are 0 and pass no gradient) taught the blurred starter almost nothing in 10
    # CPU-minutes. At these ratios the two terms' gradients at the starter are ~1x and ~0.5x the NN term's.
    GANLESS = {"l1_weight": 2e4, "perc_weight": 5e3}

    def __init__(self, net_config: dict, options: dict, device="cpu"):
        super().__init__(net_config, options, device)
        o = self.options
        rh = bool(o["rh"])
        for key, (with_rh, without) in {"nn_weight": (1.0, 0.01), "gan_weight": (50.0, 1.0),
                                        "d_weight": (50.0, 1.0)}.items():
            if o[key] is None:
                o[key] = with_rh if rh else without
        cfg = self.generator.config
        if o["nn_size"] is None:
            o["nn_size"] = 3 if max(cfg["image_size"]) <= 128 else 5
        self.gan_kind = "rahinge" if rh else "bce"
        self.discriminator = DganDiscriminator(cfg["width"], cfg["norm"], cfg["spectral_norm"],
                                               cfg["self_attention"], cfg["attention_pool"]).to(self.device)
        self.backbone = get_backbone(self.device, o["backbone"])
        o["backbone_in_use"] = self.backbone.name
        betas = (o["beta1"], o["beta2"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=o["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=o["lr"], betas=betas)

    def modules(self):
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self):
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def _features(self, img: torch.Tensor) -> torch.Tensor:
        """The backbone's first stage only (VGG relu1_2): the deeper stages are not needed for the NN loss."""
        return self._stages(img, 1)[0]

    def _stages(self, img: torch.Tensor, n: int) -> list[torch.Tensor]:
        """The backbone's first ``n`` stages, shallow to deep."""
        bb = self.backbone
        x = ((img.float() + 1) / 2 - bb.mean) / bb.std
        out = []
        for stage in bb.stages[:n]:
            x = stage(x)
            out.append(x)
        return out

    def train_step(self, batch: dict, step: int) -> dict:
        o = self.options
        size = tuple(self.generator.config["image_size"])
        sigma = self.generator.config["sigma"]
        src_img, src_pose = batch["src_img"][:, 0], batch["src_pose"][:, 0]
        tgt_img, tgt_pose = batch["tgt_img"], batch["tgt_pose"]
        with torch.no_grad():
            src_maps = heatmaps(src_pose, size, sigma)
            tgt_maps = heatmaps(tgt_pose, size, sigma)
        self.generator.train()
        self.discriminator.train()

        fake = self.generator(batch["src_img"], batch["src_pose"], tgt_pose)

        out = {}
        adversarial = self.adversarial(step)
        if adversarial:  # discriminator step (on the generator's output as it is now)
            self.opt_d.zero_grad(set_to_none=True)
            d_real = self.discriminator(src_img, src_maps, tgt_img, tgt_maps).float()
            d_fake = self.discriminator(src_img, src_maps, fake.detach(), tgt_maps).float()
            d_loss = o["d_weight"] * gan_d_loss(self.gan_kind, d_real, d_fake)
            d_loss.backward()
            self.opt_d.step()
            out.update(d_loss=d_loss, d_real=d_real.mean(), d_fake=d_fake.mean())

        # generator step against the updated discriminator
        self.opt_g.zero_grad(set_to_none=True)
        l1_weight, perc_weight = (self.GANLESS[k] * o["nn_weight"] * (not adversarial) if o[k] is None
                                  else float(o[k]) for k in ("l1_weight", "perc_weight"))
        depth = len(self.backbone.stages) if perc_weight else 1
        with torch.no_grad():
            target_feats = self._stages(tgt_img, depth)
        fake_feats = self._stages(fake, depth)
        nn_term = nn_loss(fake_feats[0], target_feats[0], o["nn_size"], o["nn_reduction"])
        loss = o["nn_weight"] * nn_term
        limbs = self.target_limbs(batch)
        if limbs:
            limb_term = sum(w * limb_nn_loss(fake_feats[0], target_feats[0], m, o["nn_size"], o["nn_reduction"])
                            for w, m in limbs)
            loss = loss + o["nn_weight"] * limb_term
            out["nn_limbs"] = limb_term
        if perc_weight:
            perc = sum(F.mse_loss(a.float(), b.float()) for a, b in zip(fake_feats, target_feats))
            loss = loss + perc_weight * perc
            out["perc"] = perc
        if l1_weight:
            l1_term = weighted_l1(fake.float(), tgt_img, limbs)
            loss = loss + l1_weight * l1_term
            out["l1"] = l1_term
        if adversarial:
            g_fake = self.discriminator(src_img, src_maps, fake, tgt_maps).float()
            g_real = None
            if self.gan_kind == "rahinge":
                with torch.no_grad():
                    g_real = self.discriminator(src_img, src_maps, tgt_img, tgt_maps).float()
            g_gan = gan_g_loss(self.gan_kind, g_fake, g_real)
            loss = loss + o["gan_weight"] * g_gan
            out["g_gan"] = g_gan
        loss.backward()
        self.opt_g.step()
        out.update(loss=loss, nn=nn_term)
        return {k: float(v.detach()) for k, v in out.items()}


class DganSaRecipe(DganRecipe):
    backend = "dgan-sa"
    default_options = dict(DganRecipe.default_options, rh=True)
    # The variant is DGAN plus three switches, so trained DGAN weights are a warm start (its CPU steps cost 4x
    # DGAN's): attention layers begin as the identity (gamma = 0) and spectral norm's W / sigma(W) feeds an
    # instance norm in every decoder block, which cancels the scale; only the final conv's scale changes.
    init_from = ("dgan",)
    VARIANT_SWITCHES = ("self_attention", "spectral_norm", "attention_pool")

    @classmethod
    def init_config(cls, config: dict, from_backend: str) -> dict:
        return {k: v for k, v in config.items() if k not in cls.VARIANT_SWITCHES}

    def adapt_init(self, tensors: dict, from_backend: str) -> dict:
        out, used = {}, set()
        for key, fresh in self.generator.state_dict().items():
            src = key if key in tensors else key.replace(".parametrizations.weight.original", ".weight")
            if src in tensors:
                out[key] = tensors[src]
                used.add(src)
            else:  # attention layers and spectral norm's power-iteration vectors start fresh
                out[key] = fresh
        unused = [k for k in tensors if k not in used]
        if unused:
            raise ValueError(f"{len(unused)} {from_backend} tensors have no place in {self.backend} "
                             f"(e.g. {', '.join(unused[:3])})")
        return out
