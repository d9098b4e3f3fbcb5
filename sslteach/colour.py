"""Colour adjustments on image batches with per-image factors, using torchvision's formulas.

Every factor is a number or an (N,) tensor (one value per image); ``sslteach.augment.ColorJitter``
draws the factors and calls these. Images are float (N, C, H, W) in [0, 1].
"""
from __future__ import annotations

import torch


def per_image(value, x: torch.Tensor) -> torch.Tensor:
    """A number or an (N,) tensor as (N or 1, 1, 1, 1) in ``x``'s dtype and device, to broadcast."""
    return torch.as_tensor(value, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R 601-2, as PIL and torchvision): (N, 3, H, W) -> (N, 1, H, W); gray input is returned."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)  # (N, 1, H, W)


def _blend(x: torch.Tensor, y: torch.Tensor, ratio) -> torch.Tensor:
    ratio = per_image(ratio, x)  # (N, 1, 1, 1)
    return (ratio * x + (1 - ratio) * y).clamp(0, 1)


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """Multiply by ``factor``: 0 gives black, 1 the original."""
    return (x * per_image(factor, x)).clamp(0, 1)


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """Blend with the image's mean gray level: 0 gives flat gray, 1 the original."""
    return _blend(x, rgb_to_gray(x).mean(dim=(1, 2, 3), keepdim=True), factor)  # mean (N, 1, 1, 1)


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """Blend with the grayscale image: 0 gives gray, 1 the original, 2 doubles the saturation."""
    return x if x.shape[1] == 1 else _blend(x, rgb_to_gray(x), factor)


def adjust_hue(x: torch.Tensor, factor) -> torch.Tensor:
    """Turn the hue by ``factor`` in [-0.5, 0.5] turns of the HSV colour wheel."""
    if x.shape[1] == 1:
        return x
    y = x if x.dtype == torch.float64 else x.float()  # HSV in float32 at least
    r, g, b = y.unbind(1)  # (N, H, W) each
    v = y.amax(1)  # HSV value = max; it and chroma = max - min do not change
    chroma = v - y.amin(1)
    d = torch.where(chroma > 0, chroma, 1)
    h6 = torch.where(v == r, (g - b) / d, torch.where(v == g, (b - r) / d + 2, (r - g) / d + 4))  # [-1, 5)
    h6 = (h6 + 6 * per_image(factor, y)[:, 0]) % 6  # hue in sextants [0, 6), turned
    # back to RGB: channel n of (R, G, B) = (5, 3, 1) is v - chroma * clamp(min(k, 4 - k), 0, 1)
    k = (torch.tensor([5.0, 3.0, 1.0], dtype=y.dtype, device=y.device).view(1, 3, 1, 1) + h6[:, None]) % 6
    rgb = v[:, None] - chroma[:, None] * torch.minimum(k, 4 - k).clamp(0, 1)  # (N, 3, H, W)
    return rgb.clamp(0, 1).to(x.dtype)
