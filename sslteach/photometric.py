"""Photometric augmentations: ops that change the pixel values but not where they are.

Colour jitter (brightness, contrast, saturation, hue), grayscale, Gaussian blur and Gaussian noise,
each a :class:`~sslteach.randomop.RandomOp` with per-image parameters. The colour formulas
themselves (torchvision's) are the functions of :mod:`sslteach.colour`; the geometric ops and the
SimCLR pipeline that combines them all are :mod:`sslteach.augment`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .colour import _brightness, _contrast, _gray, _hue, _saturation, per_image
from .randomop import RandomOp, check_range, draw
from .utils import check_number


@dataclass
class ColorJitter(RandomOp):
    """Random brightness, contrast, saturation (factor in [max(0, 1 - s), 1 + s]) and hue (in [-hue, hue]).

    Factors are drawn per image. The ORDER of the four adjustments is drawn once per call for the
    whole batch (torchvision draws it per image); ``random_order=False`` keeps brightness,
    contrast, saturation, hue.
    """
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    p: float = 0.8
    random_order: bool = True

    def __post_init__(self):
        super().__post_init__()
        for name in ("brightness", "contrast", "saturation"):
            check_number(getattr(self, name), f"ColorJitter: {name}", low=0,
                         hint="the factor is drawn in [max(0, 1 - s), 1 + s]; 0 leaves it out")
        check_number(self.hue, "ColorJitter: hue", low=0, high=0.5,
                     hint="the hue turns by up to this fraction of the colour wheel; 0 leaves it out")
        if not isinstance(self.random_order, bool):
            raise TypeError(f"ColorJitter: random_order must be True or False, got {self.random_order!r}")

    def sample_params(self, x, generator=None):
        u = draw((4, len(x)), generator, x.device)  # (4, N)
        params = {}
        for k, name in enumerate(("brightness", "contrast", "saturation")):
            s = getattr(self, name)
            if s > 0:
                params[name] = max(0.0, 1 - s) + (1 + s - max(0.0, 1 - s)) * u[k]  # (N,)
        if self.hue > 0:
            params["hue"] = self.hue * (2 * u[3] - 1)
        order = draw(4, generator, "cpu").argsort() if self.random_order else torch.arange(4)
        return {**params, "order": tuple(order.tolist())}

    def apply(self, x, brightness=None, contrast=None, saturation=None, hue=None, order=(0, 1, 2, 3)):
        """Factors are numbers or (N,) tensors; None skips that adjustment. ``order`` lists the
        adjustments by index (0 brightness, 1 contrast, 2 saturation, 3 hue)."""
        if not isinstance(order, (tuple, list)) or any(isinstance(k, bool) or k not in range(4) for k in order):
            raise ValueError(f"ColorJitter.apply: order must list indices 0-3 (0 brightness, 1 contrast, "
                             f"2 saturation, 3 hue), got {order!r}")
        steps = ((_brightness, brightness), (_contrast, contrast), (_saturation, saturation), (_hue, hue))
        for k in order:
            fn, factor = steps[k]
            x = x if factor is None else fn(x, factor)
        return x


@dataclass
class RandomGrayscale(RandomOp):
    """Replace the colours by their luma, kept as C channels (gray images stay unchanged)."""
    p: float = 0.2

    def apply(self, x):
        return _gray(x).expand_as(x).contiguous()


@dataclass
class GaussianBlur(RandomOp):
    """Blur with an odd ``kernel_size`` Gaussian, sigma drawn per image in ``sigma``; reflect padding."""
    kernel_size: int = 3
    sigma: tuple[float, float] = (0.1, 2.0)
    p: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        k = check_number(self.kernel_size, "GaussianBlur: kernel_size", low=1, integer=True,
                         hint="an odd width in pixels: 3, 5, 7, ...")
        if k % 2 == 0:
            raise ValueError(f"GaussianBlur: kernel_size must be odd (3, 5, 7, ...) so that the kernel has a "
                             f"centre, got {k}; use {k + 1}")
        self.sigma = check_range(self.sigma, "GaussianBlur: sigma", low=0, low_open=True,
                           hint="the range of blur widths in pixels, e.g. (0.1, 2.0)")

    def sample_params(self, x, generator=None):
        lo, hi = self.sigma
        return {"sigma": lo + (hi - lo) * draw(len(x), generator, x.device)}  # (N,)

    def apply(self, x, sigma):
        """Blur image i with ``sigma[i]`` > 0 pixels (a number or an (N,) tensor)."""
        k, (H, W) = self.kernel_size, x.shape[2:]
        if k // 2 >= min(H, W):
            raise ValueError(f"GaussianBlur: kernel_size {k} is too large for {H}x{W} images (the reflect padding "
                             f"needs kernel_size // 2 < the shorter side); use kernel_size <= {2 * min(H, W) - 1}, "
                             f"or blur before shrinking the images")
        sigma = per_image(sigma, x, "GaussianBlur: sigma")  # (N or 1, 1, 1, 1)
        if bool((sigma <= 0).any()):
            raise ValueError(f"GaussianBlur: sigma must be > 0 (the blur width in pixels), got "
                             f"{sigma.flatten().tolist()[:8]}; leave the blur out instead of sigma = 0")
        t = torch.arange(k, dtype=x.dtype, device=x.device) - (k - 1) / 2  # (k,) tap offsets
        w = torch.softmax(-(t / sigma.view(-1, 1)) ** 2 / 2, dim=1).view(-1, 1, 1, 1, k)  # kernels
        xp = F.pad(x, (k // 2, k // 2, 0, 0), mode="reflect")  # (N, C, H, W + k - 1)
        x = sum(w[..., i] * xp[..., i:i + W] for i in range(k))  # separable: along rows...
        xp = F.pad(x, (0, 0, k // 2, k // 2), mode="reflect")  # (N, C, H + k - 1, W)
        x = sum(w[..., i] * xp[..., i:i + H, :] for i in range(k))  # ...then along columns
        return x.clamp(0, 1)  # weights sum to 1 up to rounding


@dataclass
class GaussianNoise(RandomOp):
    """Add pixel noise ``std * N(0, 1)``, then clip to [0, 1] (as torchvision's ``gaussian_noise``)."""
    std: float = 0.05
    p: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        check_number(self.std, "GaussianNoise: std", low=0, hint="the noise level in [0, 1] pixel units, e.g. 0.05")

    def sample_params(self, x, generator=None):
        return {"noise": self.std * draw(x.shape, generator, x.device, normal=True).to(x.dtype)}  # (N, C, H, W)

    def apply(self, x, noise):
        return (x + noise).clamp(0, 1)
