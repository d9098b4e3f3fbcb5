"""Corruptions for denoising and masked autoencoders: Gaussian noise, pixel dropout, patch masking.

Pure functions of a float image batch (and an optional generator): :func:`add_noise`,
:func:`pixel_dropout`, :func:`mask_patches` (MAE's masking, on pixels) and :class:`Corruption`,
which chains them. The autoencoders that learn to undo them, and their losses and training steps,
are in :mod:`sslteach.autoencoder`.

Examples:
    >>> x_noisy = add_noise(x, std=0.2)                     # (N, C, H, W) in [0, 1]
    >>> x_masked, mask = mask_patches(x, ratio=0.5)         # mask: (N, 1, H, W), 1 = hidden
    >>> x_c, mask = Corruption(noise_std=0.2, mask_ratio=0.5).with_mask(x)

- Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders, 2008.
- He et al., Masked Autoencoders Are Scalable Vision Learners, 2022.
"""
from __future__ import annotations

import torch

from .utils import check_images, check_number


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None, normal: bool = False) -> torch.Tensor:
    """Uniform (or normal) noise made on the generator's device, returned on x's device and dtype."""
    device = generator.device if generator is not None else x.device
    fn = torch.randn if normal else torch.rand
    return fn(shape, generator=generator, device=device).to(x.device, x.dtype)


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}; "
                        f"make one with torch.Generator().manual_seed(0)")


def _check_fill(fill: float) -> None:
    check_number(fill, "fill", low=0, high=1, hint="a pixel value: 0 black, 1 white")


def add_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian pixel noise, clipped back to [0, 1]: ``clamp(x + std * eps, 0, 1)``, ``eps ~ N(0, 1)``.

    Args:
        x: (N, C, H, W) float images in [0, 1].
        std: noise standard deviation (>= 0), in units of the [0, 1] intensity range.
        generator: for reproducible noise (CPU generator, or one on x's device).
    """
    check_images(x, "add_noise")
    check_number(std, "std", low=0, hint="a noise level in units of the [0, 1] pixel range, e.g. 0.2")
    _check_generator(generator)
    return (x + std * _rand(x.shape, x, generator, normal=True)).clamp(0, 1)


def pixel_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None,
                  fill: float = 0.0) -> torch.Tensor:
    """Set each pixel (all its channels together) to ``fill`` with probability ``p``.

    Unlike dropout as a regulariser, the kept pixels are not rescaled: this is a corruption.

    Args:
        x: (N, C, H, W) float images in [0, 1].
        p: drop probability in [0, 1].
        generator: for reproducible dropout.
        fill: value in [0, 1] written into dropped pixels.
    """
    check_images(x, "pixel_dropout")
    check_number(p, "p (drop probability)", low=0, high=1, hint="e.g. 0.25 drops a quarter of the pixels")
    _check_fill(fill)
    _check_generator(generator)
    N, C, H, W = x.shape
    drop = _rand((N, 1, H, W), x, generator) < p             # (N, 1, H, W) bool
    return x.masked_fill(drop, fill)


def check_mask_args(ratio: float, patch_size: int, name: str = "ratio") -> None:
    check_number(ratio, name, low=0, high=1, high_open=True,
                 hint="a fraction of the patches in [0, 1) (some must stay visible); MAE uses 0.75")
    check_number(patch_size, "patch_size", low=1, integer=True, hint="the side of a patch in pixels, e.g. 4")


def mask_patches(x: torch.Tensor, ratio: float, patch_size: int = 4,
                 generator: torch.Generator | None = None, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide random square patches on a grid: exactly ``round(ratio * num_patches)`` per image.

    The image is cut into a ``ceil(H / patch_size) × ceil(W / patch_size)`` grid (patches on the
    right and bottom edge are cropped when the size does not divide); each image gets its own
    random choice of patches, which are set to ``fill``. This is MAE's masking, on pixels for a CNN
    instead of on tokens for a Transformer. When ``ratio > 0``, at least one patch is hidden and at
    least one stays visible, even where ``round(ratio * num_patches)`` would give 0 or all of them
    (a masked loss over no hidden pixel would teach nothing).

    Args:
        x: (N, C, H, W) float images in [0, 1].
        ratio: fraction of patches to hide, in [0, 1) (MAE uses 0.75).
        patch_size: side of a patch in pixels; with ``ratio > 0`` the grid needs at least 2 patches.
        generator: for a reproducible mask.
        fill: value in [0, 1] written into hidden patches.

    Returns:
        x_masked: (N, C, H, W), hidden patches set to ``fill``.
        mask: (N, 1, H, W) in x's dtype, 1 where hidden, 0 where visible.

    - He et al., Masked Autoencoders Are Scalable Vision Learners, 2022.
    """
    check_images(x, "mask_patches")
    check_mask_args(ratio, patch_size)
    _check_fill(fill)
    _check_generator(generator)
    N, C, H, W = x.shape
    gh, gw = -(-H // patch_size), -(-W // patch_size)       # grid size, rounded up
    if ratio > 0 and gh * gw < 2:
        raise ValueError(f"patch_size={patch_size} covers the whole {H}×{W} image in one patch, so nothing "
                         f"could stay visible; use a patch_size of at most {max(H, W) // 2}")
    num_masked = min(max(round(ratio * gh * gw), 1), gh * gw - 1) if ratio > 0 else 0
    order = _rand((N, gh * gw), x, generator).argsort(dim=1)  # (N, P) random permutation per image
    grid = torch.zeros(N, gh * gw, device=x.device, dtype=x.dtype)
    grid.scatter_(1, order[:, :num_masked], 1.0)             # (N, P), exactly num_masked ones per row
    mask = grid.view(N, 1, gh, gw).repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)
    mask = mask[:, :, :H, :W]                                # (N, 1, H, W)
    return x.masked_fill(mask.bool(), fill), mask


class Corruption:
    """Gaussian noise, then pixel dropout, then patch masking (each skipped when its level is 0).

    A callable to hand to :func:`sslteach.autoencoder.reconstruction_step` (``corrupt=``) or
    :func:`sslteach.autoencoder.reconstruct`.

    Args:
        noise_std: std of :func:`add_noise`.
        drop_p: probability of :func:`pixel_dropout`.
        mask_ratio: fraction of patches hidden by :func:`mask_patches`.
        patch_size: side of a masked patch.
        generator: for reproducible corruptions (figures, widgets); ``None`` draws fresh noise.

    Examples:
        >>> corrupt = Corruption(noise_std=0.2, drop_p=0.25)
        >>> x_c = corrupt(x)                                  # (N, C, H, W)
        >>> x_c, mask = Corruption(mask_ratio=0.5).with_mask(x)  # mask: (N, 1, H, W), 1 = hidden
    """

    def __init__(self, noise_std: float = 0.0, drop_p: float = 0.0, mask_ratio: float = 0.0,
                 patch_size: int = 4, generator: torch.Generator | None = None):
        check_number(noise_std, "noise_std", low=0, hint="0 for no noise, e.g. 0.2")
        check_number(drop_p, "drop_p", low=0, high=1, hint="0 for no pixel dropout, e.g. 0.25")
        check_mask_args(mask_ratio, patch_size, "mask_ratio")
        _check_generator(generator)
        self.noise_std, self.drop_p, self.mask_ratio = noise_std, drop_p, mask_ratio
        self.patch_size, self.generator = patch_size, generator

    def with_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrupted images (N, C, H, W) and the patch mask (N, 1, H, W) (all 0 without masking)."""
        check_images(x, "Corruption")
        if self.noise_std > 0:
            x = add_noise(x, self.noise_std, self.generator)
        if self.drop_p > 0:
            x = pixel_dropout(x, self.drop_p, self.generator)
        if self.mask_ratio > 0:
            return mask_patches(x, self.mask_ratio, self.patch_size, self.generator)
        return x, torch.zeros_like(x[:, :1])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_mask(x)[0]

    def __repr__(self) -> str:
        return (f"Corruption(noise_std={self.noise_std}, drop_p={self.drop_p}, "
                f"mask_ratio={self.mask_ratio}, patch_size={self.patch_size})")
