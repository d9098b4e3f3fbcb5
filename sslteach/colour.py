"""Colour adjustments on image batches with per-image factors, using torchvision's formulas.

Every factor is a number or an (N,) tensor (one value per image); ``sslteach.photometric.ColorJitter``
draws the factors and calls these. Images are float (N, C, H, W) in [0, 1].

The public functions check the images (:func:`sslteach.utils.check_images`) and the factors; the
private ``_brightness`` ... ``_hue`` check only the factors (an (N,) vector, cheap), for ops that
have already checked their batch once.
"""
from __future__ import annotations

import numbers

import torch

from .utils import check_finite, check_images, check_number


def per_image(value, x: torch.Tensor, name: str = "factor") -> torch.Tensor:
    """A number or an (N,) tensor as (N or 1, 1, 1, 1) in ``x``'s dtype and device, to broadcast.

    Raises:
        TypeError: ``value`` is not a number, nor a tensor/list of numbers (a bool is refused).
        ValueError: it holds neither 1 nor N values, or NaN/infinity.
    """
    wanted = f"{name} must be a number or an (N,) tensor with one value per image (N = {len(x)})"
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise TypeError(f"{wanted}, got a bool {value!r}; pass a number such as 0.5")
    if isinstance(value, numbers.Real):
        check_number(value, name, hint="give a finite number")  # NaN, inf: the message names the argument
    try:
        t = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{wanted}, got {type(value).__name__} {value!r}") from e
    if t.numel() not in (1, len(x)) or (t.ndim > 1 and t.shape[1:].numel() != 1):
        raise ValueError(f"{wanted}, got shape {tuple(t.shape)}; draw one value per image, "
                         f"e.g. torch.rand({len(x)})")
    check_finite(t, name, "give every image a finite factor")
    return t.reshape(-1, 1, 1, 1)


def _factor(value, x: torch.Tensor, name: str, low: float, high: float | None = None,
            meaning: str = "", identity: float = 1.0) -> torch.Tensor:
    """:func:`per_image` and a range check: every factor within [low, high]."""
    bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
    fix = f"{meaning}; {identity:g} leaves the image unchanged"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        check_number(value, name, low=low, high=high, hint=fix)
    t = per_image(value, x, name)
    lo, hi = torch.aminmax(t.reshape(-1))
    if lo < low or (high is not None and hi > high):
        clamp = f"{low:g}, {high:g}" if high is not None else f"min={low:g}"
        raise ValueError(f"{name} must be {bounds} for every image, got values in [{lo:.3g}, {hi:.3g}] "
                         f"({fix}); draw them in range, or clamp them: factor.clamp({clamp})")
    return t


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)  # (N, 1, H, W)


def _blend(x: torch.Tensor, y: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return (ratio * x + (1 - ratio) * y).clamp(0, 1)  # ratio (N or 1, 1, 1, 1)


def _brightness(x: torch.Tensor, factor) -> torch.Tensor:
    f = _factor(factor, x, "brightness factor", low=0, meaning="0 gives black")
    return (x * f).clamp(0, 1)


def _contrast(x: torch.Tensor, factor) -> torch.Tensor:
    f = _factor(factor, x, "contrast factor", low=0, meaning="0 gives flat gray")
    return _blend(x, _gray(x).mean(dim=(1, 2, 3), keepdim=True), f)  # mean (N, 1, 1, 1)


def _saturation(x: torch.Tensor, factor) -> torch.Tensor:
    f = _factor(factor, x, "saturation factor", low=0, meaning="0 gives gray, 2 doubles the saturation")
    return x if x.shape[1] == 1 else _blend(x, _gray(x), f)


def _hue(x: torch.Tensor, factor) -> torch.Tensor:
    y = x if x.dtype == torch.float64 else x.float()  # HSV in float32 at least
    f = _factor(factor, y, "hue factor", low=-0.5, high=0.5, meaning="the hue turns by this fraction of the colour wheel", identity=0)
    if x.shape[1] == 1:
        return x
    r, g, b = y.unbind(1)  # (N, H, W) each
    v = y.amax(1)  # HSV value = max; it and chroma = max - min do not change
    chroma = v - y.amin(1)
    d = torch.where(chroma > 0, chroma, 1)
    h6 = torch.where(v == r, (g - b) / d, torch.where(v == g, (b - r) / d + 2, (r - g) / d + 4))  # [-1, 5)
    h6 = (h6 + 6 * f[:, 0]) % 6  # hue in sextants [0, 6), turned
    # back to RGB: channel n of (R, G, B) = (5, 3, 1) is v - chroma * clamp(min(k, 4 - k), 0, 1)
    k = (torch.tensor([5.0, 3.0, 1.0], dtype=y.dtype, device=y.device).view(1, 3, 1, 1) + h6[:, None]) % 6
    rgb = v[:, None] - chroma[:, None] * torch.minimum(k, 4 - k).clamp(0, 1)  # (N, 3, H, W)
    return rgb.clamp(0, 1).to(x.dtype)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R 601-2, as PIL and torchvision): (N, 3, H, W) -> (N, 1, H, W); gray input is returned."""
    return _gray(check_images(x, "rgb_to_gray"))


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """Multiply by ``factor`` >= 0: 0 gives black, 1 the original."""
    return _brightness(check_images(x, "adjust_brightness"), factor)


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """Blend with the image's mean gray level (``factor`` >= 0): 0 gives flat gray, 1 the original."""
    return _contrast(check_images(x, "adjust_contrast"), factor)


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """Blend with the grayscale image (``factor`` >= 0): 0 gives gray, 1 the original, 2 doubles the saturation."""
    return _saturation(check_images(x, "adjust_saturation"), factor)


def adjust_hue(x: torch.Tensor, factor) -> torch.Tensor:
    """Turn the hue by ``factor`` in [-0.5, 0.5] turns of the HSV colour wheel."""
    return _hue(check_images(x, "adjust_hue"), factor)
