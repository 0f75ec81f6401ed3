"""Training recipe of the multi-scale attention backend (paper sections 3.2-3.4).

- Discriminator: pix2pix's 70x70 PatchGAN (3 layers, batch norm, LeakyReLU 0.2) on the image transition,
  the condition image concatenated with the target (real) or the generated image (fake): 6 channels.
- Generator loss: 5 L1 + 1 GAN + 5 (perceptual at two backbone depths); the paper's perceptual layers are
  VGG19's 4th and 9th (relu1_2, relu2_2), training.losses.Perceptual depths (0, 1).
- Discriminator loss: the mean of the real and fake BCE terms (the paper's 1/2 [...]).
- GAN kind: "bce" as the paper writes; the authors' code uses least squares ("lsgan"), a switch here.
- Both networks initialised N(0, 0.02); Adam lr 1e-3, betas (0.5, 0.999), eps 1e-8, no weight decay;
  batch 8.
- ``limb_weight`` / ``leg_weight`` (not the paper's; 0, off, by default): the target's arm (leg) pixels, by its
  parsing (training.losses.limb_maps), weigh 1 + w in the L1 and perceptual terms, as in the pNR recipe (an arm is
  a few % of a 128x64 image: the mean-seeking terms let it come out faint or off-colour).
Mixed precision is the training loop's (training/precision.py: autocast around train_step, loss scaling for fp16).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from engine.backends.attention import init_weights
from training.losses import Perceptual, gan_d_loss, gan_g_loss, weighted_l1

from .base import Recipe
from .patchgan import PatchDiscriminator, check_layers


class AttentionRecipe(Recipe):
    backend = "attention"
    default_options = {
        "batch_size": 8,
        "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
        "init_std": 0.02,
        "l1_weight": 5.0,
        "gan_weight": 1.0,
        "perceptual_weight": 5.0,
        "perceptual_depths": [0, 1],
        "perceptual_backbone": "auto",   # vgg19 when its weights are cached, else mobilenet_v2
        "gan_kind": "bce",               # bce (paper) | lsgan (the authors' code) | rahinge
        "d_layers": 3,                   # 3: the 70x70 PatchGAN
        "d_ndf": None,                   # None: 64 x the generator's width (64 at the paper's width 1.0)
        "limb_weight": 0.0,              # weight of the target's arm (leg) pixels on top of 1 (module text)
        "leg_weight": 0.0,
    }

    def __init__(self, net_config: dict, options: dict, device="cpu"):
        super().__init__(net_config, options, device)
        o = self.options
        width = float(self.generator.config["width"])
        ndf = int(o["d_ndf"] or max(8, round(64 * width)))
        check_layers(self, o["d_layers"])
        self.discriminator = PatchDiscriminator(6, ndf, int(o["d_layers"])).to(self.device)
        init_weights(self.generator, o["init_std"])
        init_weights(self.discriminator, o["init_std"])
        self.perceptual = None
        if o["perceptual_weight"]:
            self.perceptual = Perceptual(self.device, depths=tuple(o["perceptual_depths"]),
                                         prefer=o["perceptual_backbone"])
            self.options["perceptual_backbone_used"] = self.perceptual.backbone_name
        adam = dict(betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=o["lr_g"], **adam)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=o["lr_d"], **adam)

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def train_step(self, batch: dict, step: int) -> dict[str, float]:
        o = self.options
        kind = o["gan_kind"]
        cond, real = batch["src_img"][:, 0], batch["tgt_img"]
        self.generator.train()
        self.discriminator.train()
        fake = self.generator(batch["src_img"], batch["src_pose"], batch["tgt_pose"])
        figures = {}
        adversarial = self.adversarial(step) and o["gan_weight"] > 0

        if adversarial:  # discriminator: real transition (A, B) against generated (A, G(A))
            self.discriminator.requires_grad_(True)
            d_real = self.discriminator(torch.cat([cond, real], 1)).float()
            d_fake = self.discriminator(torch.cat([cond, fake.detach()], 1)).float()
            loss_d = gan_d_loss(kind, d_real, d_fake)
            if kind == "bce":  # gan_d_loss sums the two BCE terms; the paper averages them
                loss_d = 0.5 * loss_d
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            figures.update(loss_d=loss_d, d_real=d_real.mean(), d_fake=d_fake.mean())

        # generator: D is only a loss here
        fake32, real32 = fake.float(), real.float()
        limbs = self.target_limbs(batch)
        loss_l1 = weighted_l1(fake32, real32, limbs)
        loss_p = self.perceptual(fake32, real32, limbs) if self.perceptual is not None else fake32.new_zeros(())
        loss_g = o["l1_weight"] * loss_l1 + o["perceptual_weight"] * loss_p
        if adversarial:
            self.discriminator.requires_grad_(False)
            d_gen = self.discriminator(torch.cat([cond, fake], 1)).float()
            loss_gan = gan_g_loss(kind, d_gen, d_real.detach() if kind == "rahinge" else None)
            loss_g = loss_g + o["gan_weight"] * loss_gan
            figures["gan_g"] = loss_gan
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        figures.update(loss=loss_g, l1=loss_l1, perceptual=loss_p)
        return {k: float(v.detach()) for k, v in figures.items()}

    @torch.no_grad()
    def extra_images(self, batch: dict) -> dict[str, torch.Tensor]:
        """The finest attention gate (level 1), averaged over channels: where the pose lets appearance through
        (white: most, black: least)."""
        g = self.generator
        was = g.training
        g.eval()
        try:
            tr = g.trace(batch["src_img"], batch["src_pose"], batch["tgt_pose"])
        finally:
            g.train(was)
        gate = tr["gates"][1].float().mean(1, keepdim=True)
        gate = torch.nn.functional.interpolate(gate, size=g.net_size, mode="nearest")
        gate = g.cut_padding(gate)
        # stretched per image: early in training every gate is near 0.5 and the pattern would not show
        lo = gate.amin(dim=(1, 2, 3), keepdim=True)
        hi = gate.amax(dim=(1, 2, 3), keepdim=True)
        gate = (gate - lo) / (hi - lo).clamp_min(1e-6)
        return {"attention": (gate * 2 - 1).expand(-1, 3, -1, -1)}
