"""Training pNR (Hu & Hauptmann): loss 5 L1 + 5 perceptual + 10 GAN_I + 10 GAN_K, Adam 2e-3 (0.5, 0.999).

Two discriminators, as in PATN (the paper takes its discriminators from there):
    D_I on (image, source image)   does the result look like the source person?
    D_K on (image, target heatmaps) does it show the target pose?
Both are PATN's residual discriminator: 7x7 conv, two stride-2 3x3 convs, residual blocks, batch norm, a map of
logits scored with binary cross-entropy (the paper's eq. 5 is the log-likelihood GAN).

Supervised mode: the batch's M sources (src_img (B, M, ...); M is the training loop's ``num_sources`` option,
``poseeditor-train fit --num-sources M``) are stacked into one regression, and the target is generated. M can be
anything and need not match inference; the paper trains with M = 1.
Unsupervised mode (``unsupervised``: true): no pairs are needed. The first source is reconstructed from a
regression in which each row is kept with probability ``row_keep`` (eq. 4), GAN_I is off (its weight is 0 as
in the paper), D_K sees the source's own pose, and the networks use N = 2 residual blocks unless the config
says otherwise.

``limb_weight`` / ``leg_weight`` (not the paper's; 0, off, by default): the target's arm (leg) pixels, by its
parsing (training.losses.limb_maps), weigh 1 + w in the L1 and in the perceptual distance (at the feature map's
stride). Why: an arm is a few % of a 128x64 image, and the mean-seeking L1 fades a raised arm into the
background it crosses (the starter drew it purple, in no sleeve's colour).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from engine.backends.layers import heatmaps
from training.losses import Perceptual, gan_d_loss, gan_g_loss, weighted_l1
from training.recipes.base import Recipe


class ResnetDiscriminator(nn.Module):
    """PATN's discriminator: 7x7 conv, two stride-2 convs, ``blocks`` residual blocks; logits at 1/4 size."""

    def __init__(self, in_ch: int, ch: int = 64, blocks: int = 3):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ch, 7, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for k in range(2):
            c = ch * 2 ** k
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(True)]
        self.stem = nn.Sequential(*layers)
        c = ch * 4
        self.blocks = nn.ModuleList(nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=False), nn.BatchNorm2d(c)) for _ in range(blocks))

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = x + b(x)
        return x


class PnrRecipe(Recipe):
    backend = "pnr"
    default_options = {
        "lambda_l1": 5.0,
        "lambda_perceptual": 5.0,
        "lambda_gan_i": 10.0,         # forced to 0 in unsupervised mode (paper section 2.4)
        "lambda_gan_k": 10.0,
        "gan_kind": "bce",
        "lr": 2e-3,
        "lr_d": 2e-3,
        "beta1": 0.5,
        "beta2": 0.999,
        "perceptual_depths": [0],     # VGG19 conv1_2 (relu1_2) in the paper; MobileNetV2 features[0] offline
        "perceptual_backbone": "auto",
        "d_channels": 64,             # times the network's width multiplier
        "d_blocks": 3,                # PATN's n_layers_D
        "unsupervised": False,
        "row_keep": 0.5,              # P(v_j = 1) in the unsupervised mode's masked regression
        "unsupervised_n_res": 2,
        "limb_weight": 0.0,           # weight of the target's arm (leg) pixels on top of 1 (see the module's text)
        "leg_weight": 0.0,
        "amp": True,
    }

    def __init__(self, net_config: dict, options: dict, device="cpu"):
        opts = dict(self.default_options, **self.check_options(options))  # read before Recipe checks them
        net_config = dict(net_config)
        if opts["unsupervised"] and "n_res" not in net_config:
            net_config["n_res"] = int(opts["unsupervised_n_res"])
        super().__init__(net_config, options, device)
        o = self.options
        width = float(self.net_config["width"])
        ch = max(8, int(round(o["d_channels"] * width)))
        self.d_i = ResnetDiscriminator(6, ch, int(o["d_blocks"])).to(self.device)
        self.d_k = ResnetDiscriminator(3 + 18, ch, int(o["d_blocks"])).to(self.device)
        betas = (float(o["beta1"]), float(o["beta2"]))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=float(o["lr"]), betas=betas)
        self.opt_d = torch.optim.Adam(list(self.d_i.parameters()) + list(self.d_k.parameters()),
                                      lr=float(o["lr_d"]), betas=betas)
        self.perceptual = Perceptual(self.device, depths=tuple(o["perceptual_depths"]),
                                     prefer=str(o["perceptual_backbone"]))
        self.options["perceptual_backbone_used"] = self.perceptual.backbone_name

    @property
    def lambda_gan_i(self) -> float:
        return 0.0 if self.options["unsupervised"] else float(self.options["lambda_gan_i"])

    def modules(self):
        return {"generator": self.generator, "d_i": self.d_i, "d_k": self.d_k}

    def optimizers(self):
        return {"g": self.opt_g, "d": self.opt_d}

    # ----- one step -----------------------------------------------------------------------------------------
    def _inputs(self, batch: dict):
        """(source images, source poses, condition image I_s, target image, target pose, row weights)."""
        net = self.generator
        if self.options["unsupervised"]:
            src_img, src_pose = batch["src_img"][:, :1], batch["src_pose"][:, :1]
            mask = net.random_row_mask(src_img.shape[0], 1, float(self.options["row_keep"]), device=self.device)
            return src_img, src_pose, src_img[:, 0], src_img[:, 0], src_pose[:, 0], mask
        return (batch["src_img"], batch["src_pose"], batch["src_img"][:, 0], batch["tgt_img"], batch["tgt_pose"],
                None)

    def reconstruction(self, fake: torch.Tensor, target: torch.Tensor, limbs=()) -> dict[str, torch.Tensor]:
        """The L1 and perceptual terms (unweighted by their lambdas), ``limbs``' pixels weighing 1 + w in both."""
        return {"l1": weighted_l1(fake, target, limbs), "perceptual": self.perceptual(fake, target, limbs)}

    def train_step(self, batch: dict, step: int) -> dict[str, float]:
        o = self.options
        net = self.generator
        src_img, src_pose, cond_img, tgt_img, tgt_pose, rows = self._inputs(batch)
        tgt_maps = heatmaps(tgt_pose, tuple(tgt_img.shape[-2:]), float(net.config["sigma"]))
        lam_i, lam_k = (self.lambda_gan_i, float(o["lambda_gan_k"])) if self.adversarial(step) else (0.0, 0.0)
        kind = o["gan_kind"]

        # generator (mixed precision and loss scaling are the loop's, training/precision.py)
        fake = net(src_img, src_pose, tgt_pose, rows)
        losses = self.reconstruction(fake, tgt_img, self.target_limbs(batch, self.options["unsupervised"]))
        total = float(o["lambda_l1"]) * losses["l1"] + float(o["lambda_perceptual"]) * losses["perceptual"]
        self.d_i.requires_grad_(False)
        self.d_k.requires_grad_(False)
        if lam_k:
            losses["gan_k"] = gan_g_loss(kind, self.d_k(torch.cat([fake, tgt_maps], 1)),
                                         self.d_k(torch.cat([tgt_img, tgt_maps], 1)) if kind == "rahinge"
                                         else None)
            total = total + lam_k * losses["gan_k"]
        if lam_i:
            losses["gan_i"] = gan_g_loss(kind, self.d_i(torch.cat([fake, cond_img], 1)),
                                         self.d_i(torch.cat([tgt_img, cond_img], 1)) if kind == "rahinge"
                                         else None)
            total = total + lam_i * losses["gan_i"]
        self.d_i.requires_grad_(True)
        self.d_k.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()

        # discriminators, on the same generated images
        if lam_i or lam_k:
            fake = fake.detach()
            d_loss = fake.new_zeros(())
            if lam_k:
                losses["d_k"] = gan_d_loss(kind, self.d_k(torch.cat([tgt_img, tgt_maps], 1)),
                                           self.d_k(torch.cat([fake, tgt_maps], 1)))
                d_loss = d_loss + 0.5 * losses["d_k"]
            if lam_i:
                losses["d_i"] = gan_d_loss(kind, self.d_i(torch.cat([tgt_img, cond_img], 1)),
                                           self.d_i(torch.cat([fake, cond_img], 1)))
                d_loss = d_loss + 0.5 * losses["d_i"]
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()

        out = {k: float(v.detach()) for k, v in losses.items()}
        out["loss"] = float(total.detach())
        return out
