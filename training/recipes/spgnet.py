"""Training SPGNet: both stages together (paper Sec. 3.3 and 4.1).

    L_full = lambda_ce L_ce + lambda_L1 L_L1 + lambda_perc L_perc + lambda_adv L_adv
    lambda_ce = 10, lambda_L1 = 1, lambda_perc = 1, lambda_adv = 0.01

- L_ce: cross-entropy of SPATN's target parsing against the dataset's target parsing (eq. 8, averaged per pixel).
- L_L1: mean absolute error of the image (eq. 9).
- L_perc: squared feature distances, each averaged over C x H x W and summed over layers (eq. 10) on the
  ImageNet backbone of training.losses (VGG19 when its weights are cached, else MobileNetV2's early stages).
- L_adv: PatchGAN (pix2pix, 3 layers, 64 filters) on the triplet {target or generated image, source image,
  target pose}, with the log loss of eq. 11 ("dcgan" in the authors' options).
- Stage 2 is fed the TRUE target parsing in training (teacher forcing, as the paper trains) and SPATN's
  prediction at inference; ``teacher_forcing: false`` feeds it the prediction in training too.
- Adam, betas 0.5 / 0.999, lr 2e-4 for the two-stage model and 2e-5 for the discriminator; the authors' code adds
  weight decay 4e-4 to the discriminator and may start the GAN term late (``gan_start_step``).
  The paper halves the lr when the validation loss stalls: that is the loop's scheduler, not this recipe's.
- Mixed precision on CUDA is the training loop's (it wraps train_step in autocast and scales every backward).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.errors import DatasetError
from training.losses import gan_d_loss, gan_g_loss, get_backbone, l1, parsing_ce

from .base import Recipe
from .patchgan import PatchDiscriminator, check_layers


class SpgnetRecipe(Recipe):
    backend = "spgnet"
    default_options = {
        "lambda_ce": 10.0, "lambda_l1": 1.0, "lambda_perc": 1.0, "lambda_adv": 0.01,
        "lr": 2e-4, "lr_d": 2e-5, "beta1": 0.5, "beta2": 0.999, "d_weight_decay": 4e-4,
        "gan": "bce",
        "teacher_forcing": True,
        "perc_depths": [0, 1, 2], "perc_weights": [1.0, 1.0, 1.0], "perceptual_backbone": "auto",
        "d_nf": 64, "d_layers": 3, "d_norm": "batch",   # d_nf is multiplied by the network's width
        "amp": True,
    }

    @classmethod
    def check_options(cls, options: dict, where: str = "") -> dict:
        out = super().check_options(options, where)
        o = {**cls.default_options, **out}
        if len(o["perc_weights"]) != len(o["perc_depths"]):  # zip() would drop the depths without a weight
            from ..options import TrainingError

            raise TrainingError(f"{where + ': ' if where else ''}the spgnet recipe's 'perc_weights' must hold one "
                                f"weight per depth of 'perc_depths' {o['perc_depths']}, not {o['perc_weights']}")
        return out

    def __init__(self, net_config: dict, options: dict, device="cpu"):
        super().__init__(net_config, options, device)
        o = self.options
        g = self.generator
        self.num_labels = g.num_labels
        d_nf = max(8, int(round(o["d_nf"] * float(g.config["width"]))))
        check_layers(self, o["d_layers"])
        self.discriminator = PatchDiscriminator(3 + 3 + 30, d_nf, int(o["d_layers"]), o["d_norm"]).to(self.device)
        betas = (o["beta1"], o["beta2"])
        self.opt_g = torch.optim.Adam(g.parameters(), lr=o["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=o["lr_d"], betas=betas,
                                      weight_decay=o["d_weight_decay"])
        self.backbone = get_backbone(self.device, o["perceptual_backbone"]) if o["lambda_perc"] > 0 else None

    def modules(self):
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self):
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    # ----- losses -------------------------------------------------------------------------------------------
    def perceptual(self, pred, target):
        """Eq. 10: sum over layers of the mean squared feature difference."""
        fp = self.backbone(pred.float())
        with torch.no_grad():
            ft = self.backbone(target.float())
        o = self.options
        return sum(w * F.mse_loss(fp[d], ft[d]) for d, w in zip(o["perc_depths"], o["perc_weights"]))

    def _check_parsing(self, batch):
        for k in ("src_parsing", "tgt_parsing"):
            if k not in batch:
                raise DatasetError(f"the spgnet recipe needs parsing maps ({k}); prepare the dataset with parsing")
            hi = int(batch[k].max())
            if hi >= self.num_labels:
                raise DatasetError(f"{k} has label {hi} but the network has {self.num_labels} labels "
                                   f"(set num_labels in the network config)")

    # ----- one step -----------------------------------------------------------------------------------------
    def train_step(self, batch: dict, step: int) -> dict[str, float]:
        self._check_parsing(batch)
        o = self.options
        g, d = self.generator, self.discriminator
        self.train(True)
        src_img, tgt_img = batch["src_img"], batch["tgt_img"]
        tgt_pose = batch["tgt_pose"]
        tgt_parsing = g.net_labels(batch["tgt_parsing"])  # the network's labels (CIHP for the paper layouts)
        state = g.encode_sources(src_img, batch["src_pose"], batch["src_parsing"])
        tgt_maps = g.pose_maps(tgt_pose)
        logits = g.predict_parsing(state, tgt_pose, tgt_maps)
        labels = tgt_parsing if o["teacher_forcing"] else logits.argmax(1)
        fake = g.generate(state, tgt_pose, labels, tgt_maps)
        cond = torch.cat([src_img[:, 0], tgt_maps], 1)
        use_gan = o["lambda_adv"] > 0 and self.adversarial(step)

        out = {}
        if use_gan:  # discriminator step on the triplets {I_t or I_hat_t, I_s, p_t}
            d.requires_grad_(True)
            d_real = d(torch.cat([tgt_img, cond], 1))
            d_fake = d(torch.cat([fake.detach(), cond], 1))
            loss_d = gan_d_loss(o["gan"], d_real.float(), d_fake.float())
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            out["d"] = loss_d.item()

        ce = parsing_ce(logits.float(), tgt_parsing)
        rec = l1(fake.float(), tgt_img)
        total = o["lambda_ce"] * ce + o["lambda_l1"] * rec
        if self.backbone is not None:
            perc = self.perceptual(fake, tgt_img)
            total = total + o["lambda_perc"] * perc
            out["perc"] = perc.item()
        if use_gan:
            d.requires_grad_(False)  # the generator's loss must not leave gradients in D
            adv = gan_g_loss(o["gan"], d(torch.cat([fake, cond], 1)).float(), d_real.detach().float())
            total = total + o["lambda_adv"] * adv
            out["adv"] = adv.item()
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        d.requires_grad_(True)
        out.update(loss=total.item(), ce=ce.item(), l1=rec.item())
        return out

    # ----- inference ----------------------------------------------------------------------------------------
    def generator_inputs(self, batch: dict) -> tuple:
        """The inference path: stage 2 on SPATN's predicted parsing, from the sources' parsing."""
        return batch["src_img"], batch["src_pose"], batch["tgt_pose"], batch.get("src_parsing")

    @torch.no_grad()
    def extra_images(self, batch: dict) -> dict[str, torch.Tensor]:
        from engine.parsing import LABEL_COLORS

        g = self.generator
        was = g.training
        g.eval()
        try:
            state = g.encode_sources(batch["src_img"], batch["src_pose"], batch.get("src_parsing"))
            pred = g.engine_labels(g.predict_parsing(state, batch["tgt_pose"]).argmax(1))
        finally:
            g.train(was)
        colors = torch.as_tensor(LABEL_COLORS, dtype=torch.float32, device=pred.device) / 127.5 - 1

        def paint(labels):
            return colors[labels.long().clamp(0, len(colors) - 1)].permute(0, 3, 1, 2)

        rows = {"parsing (predicted)": paint(pred)}
        if "tgt_parsing" in batch:
            rows["parsing (true)"] = paint(batch["tgt_parsing"])
        return rows
