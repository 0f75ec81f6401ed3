"""Mixed precision for training, the one way every recipe gets it: the loop wraps each ``train_step`` (and its
validation and grids) in ``Amp.step``; recipes do no autocast or loss scaling of their own.

    amp = Amp.for_recipe(recipe, device, "auto")        # bf16 autocast on a CPU with bf16, fp32 without
    with amp.step(recipe.optimizers()):
        recipe.train_step(batch, step)

Resume stays bit-exact within one precision: the layout (channels-last) is set before a checkpoint's states are
copied in, and bf16 autocast on the CPU is deterministic for a fixed thread count.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


def _modules(recipe) -> list:
    """Every module the recipe holds (generator, discriminators, the perceptual backbone inside a loss module),
    each once."""
    seen: dict = {}
    for value in vars(recipe).values():
        if isinstance(value, torch.nn.Module):
            seen.setdefault(id(value), value)
    return list(seen.values())


def channels_last(recipe) -> None:
    """Every module of the recipe in the channels-last layout, in place: the parameters stay the same objects,
    so optimisers built on them keep working, and their Adam states follow the layout."""
    for module in _modules(recipe):
        module.to(memory_format=torch.channels_last)


@contextmanager
def _fresh_casts_after_steps(optimizers: dict):
    """Autocast keeps one low-precision copy of each weight for the whole region; an optimiser step inside the
    region changes the weight, so the copy is dropped after every step (a later forward of that network, e.g. a
    discriminator used again for the generator's loss, must not see its weights from before the step)."""
    def wrap(opt, original):
        def stepped(*a, **k):
            try:
                return original(*a, **k)
            finally:
                torch.clear_autocast_cache()
        return stepped

    for opt in optimizers.values():
        opt.step = wrap(opt, opt.step)
    try:
        yield
    finally:
        for opt in optimizers.values():
            opt.__dict__.pop("step", None)


class Amp:
    """Mixed precision around a recipe's train_step, without the recipe having to know.

    On the CPU: bfloat16 autocast (``enabled`` only where the CPU has bf16, see ``for_recipe``). On CUDA:
    bfloat16 autocast where the GPU has it, else float16 autocast with a GradScaler that is applied by wrapping:
    during the step, ``Tensor.backward`` scales the loss and each optimiser's ``step`` goes through
    ``scaler.step`` (unscale, skip on inf/nan); ``scaler.update()`` follows the step. bf16 needs no scaling
    (float32's exponent range). Weights, gradients and optimiser states stay float32 either way.
    """

    def __init__(self, device: torch.device, enabled: bool, dtype=None):
        self.device_type = device.type
        self.enabled = bool(enabled)
        if dtype is None:
            cuda_bf16 = self.device_type == "cuda" and torch.cuda.is_bf16_supported()
            dtype = torch.bfloat16 if (self.device_type != "cuda" or cuda_bf16) else torch.float16
        self.dtype = dtype
        self.scaler = (torch.amp.GradScaler(self.device_type) if self.enabled and dtype == torch.float16 else None)

    @classmethod
    def for_recipe(cls, recipe, device: torch.device, precision: str | None = "auto", amp: bool = True) -> "Amp":
        """The mixed precision a training run uses: ``precision`` auto | fp32 | bf16 resolved by
        engine.runtime.resolve_precision (auto: bf16 on a CPU that has it, the GPU's half on CUDA);
        ``amp=False`` (the run's or the recipe's option) is fp32. With mixed precision the recipe's pads keep
        their input's dtype (engine.backends.base.keep_padding_dtype: no casts around them), a strided convolution
        one pixel wide runs in float32 (guard_narrow_convolutions: oneDNN's bf16 gets it wrong), and on the CPU its
        modules and perceptual backbone take the channels-last layout (oneDNN's fast one; values unchanged)
        unless the recipe says ``channels_last = False`` (one that measured slower with it)."""
        from engine.runtime import resolve_precision

        on = bool(amp) and bool(getattr(recipe, "amp", True))
        resolved = resolve_precision(precision, device.type) if on else "fp32"
        out = cls(device, resolved != "fp32")
        if out.enabled:
            from engine.backends.base import guard_narrow_convolutions, keep_padding_dtype

            for module in _modules(recipe):
                keep_padding_dtype(module)
                guard_narrow_convolutions(module)
            if device.type == "cpu" and getattr(recipe, "channels_last", True):
                channels_last(recipe)
        return out

    @property
    def precision(self) -> str:
        """fp32 | bf16 | fp16: what runs record in training_options.json and their checkpoints."""
        if not self.enabled:
            return "fp32"
        return "bf16" if self.dtype == torch.bfloat16 else "fp16"

    @property
    def description(self) -> str:
        if not self.enabled:
            return "off"
        return f"autocast {str(self.dtype).replace('torch.', '')}" + (" + GradScaler" if self.scaler else "")

    @contextmanager
    def step(self, optimizers: dict):
        if not self.enabled:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            if self.scaler is None:
                with _fresh_casts_after_steps(optimizers):
                    yield
                return
            scaler = self.scaler
            orig_backward = torch.Tensor.backward
            stepped: set = set()

            def backward(t, *a, **k):
                return orig_backward(scaler.scale(t), *a, **k)

            originals = {}

            def wrap(name, opt):  # a factory: each optimiser's wrapper puts back itself, not the last one made
                def wrapped(*a, **k):
                    if name in stepped:  # a second step of one optimiser in one iteration
                        scaler.update()
                        stepped.clear()
                    opt.step = originals[name]  # scaler.step calls the real step
                    try:
                        return scaler.step(opt, *a, **k)
                    finally:
                        opt.step = wrapped
                        stepped.add(name)
                return wrapped

            for name, opt in optimizers.items():
                originals[name] = opt.step
                opt.step = wrap(name, opt)
            torch.Tensor.backward = backward
            try:
                yield
            finally:
                torch.Tensor.backward = orig_backward
                for name, opt in optimizers.items():
                    opt.__dict__.pop("step", None)
                if stepped:
                    scaler.update()

    def state_dict(self):
        return self.scaler.state_dict() if self.scaler else None

    def load_state_dict(self, state):
        if self.scaler and state:
            self.scaler.load_state_dict(state)
