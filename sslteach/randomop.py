"""The batched random op: one coin and one set of parameters per image, applied over the whole batch.

:class:`RandomOp` is the base class of every augmentation in :mod:`sslteach.augment` (crops, flips,
cutout, the pipelines) and :mod:`sslteach.photometric` (colour jitter, grayscale, blur, noise). An
op only says how to draw its parameters (``sample_params``) and how to apply them (``apply``);
``op(x, generator)`` checks the images, tosses a coin per image with probability ``p`` and applies
the op to the chosen images. The helpers here draw numbers where a generator lives and check the
settings every op shares; each error names the op, the setting, what it must be and what came.
"""
from __future__ import annotations

import torch

from .utils import check_images, check_number


def draw(shape, generator: torch.Generator | None, device, normal: bool = False) -> torch.Tensor:
    """Uniform [0, 1) (or standard normal) float32 numbers drawn where the generator lives, moved to ``device``."""
    fn = torch.randn if normal else torch.rand
    return fn(shape, generator=generator, device=generator.device if generator is not None else device).to(device)


def check_range(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, hint: str = "") -> tuple[float, float]:
    """A range ``(low, high)`` of two finite numbers within the bounds, ``low <= high``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {value!r}" + (f"; {hint}" if hint else ""))
    lo, hi = (float(check_number(v, name, low=low, high=high, low_open=low_open, hint=hint)) for v in value)
    if lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {tuple(value)}; swap them: ({hi:g}, {lo:g})")
    return lo, hi


def check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__} "
                        f"{generator!r}; for a seed write torch.Generator().manual_seed({generator!r})")


class RandomOp:
    """Base class: one coin per image with probability ``p``, then ``apply`` with sampled params."""
    p: float = 1.0

    def __post_init__(self):
        self._check_p()

    def _check_p(self) -> None:
        check_number(self.p, f"{type(self).__name__}: p", low=0, high=1,
                     hint="p is the probability that an image is changed, e.g. 0.5")

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """Parameters for each image of the batch ``x`` (N, C, H, W): a dict of (N,) tensors."""
        return {}

    def apply(self, x: torch.Tensor, **params) -> torch.Tensor:
        raise NotImplementedError  # each op: x (N, C, H, W) and its params -> augmented x

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = check_images(x, type(self).__name__)
        self._check_p()  # p may have been changed since construction
        check_generator(generator)
        chosen = draw(len(x), generator, x.device) < self.p  # (N,) one coin per image
        if bool(chosen.all()):
            return self.apply(x, **self.sample_params(x, generator))
        idx = chosen.nonzero().squeeze(1)  # (n,) the images to change
        if len(idx) == 0:
            return x
        out = x.clone()
        out[idx] = self.apply(x[idx], **self.sample_params(x[idx], generator))
        return out
