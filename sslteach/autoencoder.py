"""Autoencoders: learn features by reconstructing the input (plain, denoising, masked).

An encoder compresses an image, a decoder rebuilds it, and the pixel error trains both. The plain
version can get away with copying; corrupting the input and asking for the *clean* image
(denoising) or hiding whole patches and scoring only them (masked) forces the encoder to model
what images look like. The encoder is the same :class:`sslteach.models.ConvEncoder` that SimCLR and
RotNet use, so their features compare fairly with the same probe.

Examples:
    >>> model = ConvAutoencoder(bottleneck=16)
    >>> x_hat = model(x)                                   # (N, 3, 32, 32) in [0, 1]
    >>> step = reconstruction_step("masked", mask_ratio=0.5, patch_size=4)
    >>> fit(model, step, TensorLoader(images), torch.optim.Adam(model.parameters()))
    >>> h = extract_features(model.encoder, images)        # the features we probe

- Hinton & Salakhutdinov, Reducing the Dimensionality of Data with Neural Networks, 2006.
- Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders, 2008.
- Pathak et al., Context Encoders: Feature Learning by Inpainting, 2016.
- He et al., Masked Autoencoders Are Scalable Vision Learners, 2022.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .utils import check_images
from .models import ConvEncoder, Encoder, conv_bn_relu
from .train import as_float_images, infer_batches


class ConvAutoencoder(nn.Module):
    """Shared encoder + optional 1×1 bottleneck + mirrored decoder, ending in a sigmoid image.

    The decoder undoes the encoder block by block: each stage resizes (nearest neighbour) to the
    spatial size of the matching encoder map, then a 3×3 convolution narrows the channels
    (block widths reversed; half the first width for the last, full-resolution stage).
    Resize-then-convolve avoids the checkerboard artefacts of transposed
    convolutions (Odena et al., Deconvolution and Checkerboard Artifacts, 2016). Sizes are read
    from the encoder's maps, so odd sizes such as 28 -> 14 -> 7 -> 4 -> 2 come back exactly to
    28×28. There are no skip connections: everything must pass through the last map.

    Args:
        encoder: any :class:`sslteach.models.Encoder`; default ``ConvEncoder(in_channels)``.
        bottleneck: channels of the code. ``None``: the code is the last block's map itself
            (256×2×2 = 1024 numbers for a 32×32 input); an int adds a linear 1×1 convolution to
            that many channels, keeping the spatial layout (e.g. 16 -> 16×2×2 = 64 numbers). We
            squeeze channels rather than the pooled vector because a pooled vector has lost the
            *where*, and rebuilding positions from it would dominate the lesson.
        in_channels: image channels when ``encoder`` is not given (3 colour, 1 grey).
    """

    def __init__(self, encoder: Encoder | None = None, bottleneck: int | None = None, in_channels: int = 3):
        super().__init__()
        self.encoder = encoder if encoder is not None else ConvEncoder(in_channels)
        if bottleneck is not None and bottleneck < 1:
            raise ValueError(f"bottleneck must be a positive number of channels or None, got {bottleneck}")
        dims = list(self.encoder.block_dims)
        self.bottleneck = nn.Conv2d(dims[-1], bottleneck, 1) if bottleneck else nn.Identity()
        code_dim = bottleneck or dims[-1]
        # e.g. 128, 64, 32, 16 for widths 32..256; the last stage runs at full resolution, so it
        # is half as wide to keep the decoder no costlier than the encoder
        outs = dims[-2::-1] + [max(dims[0] // 2, 8)]
        ins = [code_dim] + outs[:-1]
        self.stages = nn.ModuleList(conv_bn_relu(i, o) for i, o in zip(ins, outs))
        self.to_image = nn.Conv2d(outs[-1], self.encoder.in_channels, 3, padding=1)
        self.to(memory_format=self.encoder.memory_format)  # the encoder's fast layout (models.Encoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        """Code map (N, code_dim, h, w) and the spatial sizes the decoder must restore."""
        maps = self.encoder.forward_blocks(x)        # [(N, D_0, H_0, W_0), ..., (N, D_L, H_L, W_L)]
        sizes = [m.shape[-2:] for m in maps[-2::-1]] + [x.shape[-2:]]
        return self.bottleneck(maps[-1]), sizes

    def decode(self, code: torch.Tensor, sizes: list) -> torch.Tensor:
        """Image (N, C, H, W) in [0, 1] from a code map, resizing stage by stage to ``sizes``."""
        out = code
        for stage, size in zip(self.stages, sizes):
            out = stage(F.interpolate(out, size=tuple(size), mode="nearest"))  # (N, D_i, H_i, W_i)
        return torch.sigmoid(self.to_image(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code, sizes = self.encode(x)
        return self.decode(code, sizes)              # (N, C, H, W), same shape as x


# ---- corruptions: pure functions of x (and an optional generator) ------------------------------

def _rand(shape, x: torch.Tensor, generator: torch.Generator | None, normal: bool = False) -> torch.Tensor:
    """Uniform (or normal) noise made on the generator's device, returned on x's device and dtype."""
    device = generator.device if generator is not None else x.device
    fn = torch.randn if normal else torch.rand
    return fn(shape, generator=generator, device=device).to(x.device, x.dtype)


def add_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian pixel noise, clipped back to [0, 1]: ``clamp(x + std * eps, 0, 1)``, ``eps ~ N(0, 1)``.

    Args:
        x: (N, C, H, W) float images in [0, 1].
        std: noise standard deviation (>= 0), in units of the [0, 1] intensity range.
        generator: for reproducible noise (CPU generator, or one on x's device).
    """
    check_images(x)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return (x + std * _rand(x.shape, x, generator, normal=True)).clamp(0, 1)


def pixel_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None,
                  fill: float = 0.0) -> torch.Tensor:
    """Set each pixel (all its channels together) to ``fill`` with probability ``p``.

    Unlike dropout as a regulariser, the kept pixels are not rescaled: this is a corruption.

    Args:
        x: (N, C, H, W) float images.
        p: drop probability in [0, 1].
    """
    check_images(x)
    if not 0 <= p <= 1:
        raise ValueError(f"p (drop probability) must be in [0, 1], got {p}")
    N, C, H, W = x.shape
    drop = _rand((N, 1, H, W), x, generator) < p             # (N, 1, H, W) bool
    return x.masked_fill(drop, fill)


def _check_mask_args(ratio: float, patch_size: int) -> None:
    if not 0 <= ratio < 1:
        raise ValueError(f"ratio must be in [0, 1) (a fraction of patches, some must stay visible), got {ratio}")
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")


def mask_patches(x: torch.Tensor, ratio: float, patch_size: int = 4,
                 generator: torch.Generator | None = None, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide random square patches on a grid: exactly ``round(ratio * num_patches)`` per image.

    The image is cut into a ``ceil(H / patch_size) × ceil(W / patch_size)`` grid (patches on the
    right and bottom edge are cropped when the size does not divide); each image gets its own
    random choice of patches, which are set to ``fill``. This is MAE's masking, on pixels for a CNN
    instead of on tokens for a Transformer.

    Args:
        x: (N, C, H, W) float images.
        ratio: fraction of patches to hide, in [0, 1) (MAE uses 0.75).
        patch_size: side of a patch in pixels.
        generator: for a reproducible mask.
        fill: value written into hidden patches.

    Returns:
        x_masked: (N, C, H, W), hidden patches set to ``fill``.
        mask: (N, 1, H, W) in x's dtype, 1 where hidden, 0 where visible.

    - He et al., Masked Autoencoders Are Scalable Vision Learners, 2022.
    """
    check_images(x)
    _check_mask_args(ratio, patch_size)
    N, C, H, W = x.shape
    gh, gw = -(-H // patch_size), -(-W // patch_size)       # grid size, rounded up
    num_masked = round(ratio * gh * gw)
    order = _rand((N, gh * gw), x, generator).argsort(dim=1)  # (N, P) random permutation per image
    grid = torch.zeros(N, gh * gw, device=x.device, dtype=x.dtype)
    grid.scatter_(1, order[:, :num_masked], 1.0)             # (N, P), exactly num_masked ones per row
    mask = grid.view(N, 1, gh, gw).repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)
    mask = mask[:, :, :H, :W]                                # (N, 1, H, W)
    return x.masked_fill(mask.bool(), fill), mask


class Corruption:
    """Gaussian noise, then pixel dropout, then patch masking (each skipped when its level is 0).

    A callable to hand to :func:`reconstruction_step` (``corrupt=``) or :func:`reconstruct`.

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
        if noise_std < 0 or not 0 <= drop_p <= 1:
            raise ValueError(f"need noise_std >= 0 and drop_p in [0, 1], got {noise_std} and {drop_p}")
        _check_mask_args(mask_ratio, patch_size)
        self.noise_std, self.drop_p, self.mask_ratio = noise_std, drop_p, mask_ratio
        self.patch_size, self.generator = patch_size, generator

    def with_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrupted images (N, C, H, W) and the patch mask (N, 1, H, W) (all 0 without masking)."""
        check_images(x)
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


# ---- losses and steps ---------------------------------------------------------------------------

def masked_mse(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels only (MAE's loss): visible pixels do not count.

    Args:
        x_hat: (N, C, H, W) reconstruction.
        x: (N, C, H, W) clean target.
        mask: (N, 1, H, W) (or (N, C, H, W)), 1 = hidden, 0 = visible.

    Returns:
        Scalar: ``sum(mask * (x_hat - x)^2) / (number of hidden pixel values)``; 0 if none is hidden.
    """
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    if mask.ndim != 4 or mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:] \
            or mask.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"mask must have shape (N, 1, H, W) = {(x.shape[0], 1, *x.shape[2:])}, "
                         f"got {tuple(mask.shape)}")
    mask = mask.to(x_hat.dtype).expand_as(x_hat)             # (N, C, H, W)
    return ((x_hat - x) ** 2 * mask).sum() / mask.sum().clamp_min(1)


def reconstruction_step(kind: str = "plain", *, noise_std: float = 0.3, mask_ratio: float = 0.5,
                        patch_size: int = 4, corrupt: Callable | None = None):
    """Step function for :func:`sslteach.train.fit`.

    - ``"plain"``: ``MSE(model(x), x)``.
    - ``"denoising"``: ``MSE(model(corrupt(x)), x)``; ``corrupt`` defaults to
      :func:`add_noise` with ``noise_std`` (pass e.g. ``lambda x: pixel_dropout(x, 0.5)``).
    - ``"masked"``: ``x_m, mask = mask_patches(x, mask_ratio, patch_size)``;
      loss = :func:`masked_mse` ``(model(x_m), x, mask)``.

    The batch is a uint8 or float image batch, or an ``(images, labels)`` tuple (labels ignored).

    Returns:
        ``step(model, batch) -> loss``.
    """
    if kind not in ("plain", "denoising", "masked"):
        raise ValueError(f"kind must be 'plain', 'denoising' or 'masked', got {kind!r}")
    if kind == "masked":
        _check_mask_args(mask_ratio, patch_size)  # fail now, not at the first batch
    if kind == "denoising" and corrupt is None:
        def corrupt(x):
            return add_noise(x, noise_std)

    def step(model: nn.Module, batch) -> torch.Tensor:
        x = as_float_images(batch)
        if kind == "plain":
            return F.mse_loss(model(x), x)
        if kind == "denoising":
            return F.mse_loss(model(corrupt(x)), x)
        x_masked, mask = mask_patches(x, mask_ratio, patch_size)
        return masked_mse(model(x_masked), x, mask)
    return step


# ---- helpers for notebooks ----------------------------------------------------------------------

def reconstruct(model: nn.Module, x: torch.Tensor, corrupt: Callable | None = None, batch_size: int = 500,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted inputs and their reconstructions, without grad, in eval mode.

    Args:
        model: maps (B, C, H, W) float images to reconstructions of the same shape.
        x: (N, C, H, W) uint8 or float [0, 1] images.
        corrupt: ``corrupt(x) -> x_corrupted`` or ``-> (x_corrupted, mask)``, applied on
            ``device`` batch by batch; ``None`` feeds the clean images.
        batch_size: images per forward pass.
        device: where to run (default :func:`sslteach.utils.get_device`).

    Returns:
        x_in: (N, C, H, W) float32 CPU, what the model saw.
        x_hat: (N, C, H, W) float32 CPU, its reconstruction.
    """

    def run(model, xb):
        if corrupt is not None:
            xb = corrupt(xb)
            xb = xb[0] if isinstance(xb, tuple) else xb
        return xb, model(xb)

    return infer_batches(model, x, run, batch_size=batch_size, device=device)


def reconstruction_error(model: nn.Module, x: torch.Tensor, corrupt: Callable | None = None,
                         batch_size: int = 500, device: torch.device | str | None = None) -> torch.Tensor:
    """Per-image MSE between the reconstruction (of the corrupted input) and the clean image.

    Returns:
        (N,) float32 CPU tensor, mean over all pixels and channels of each image.
    """
    _, x_hat = reconstruct(model, x, corrupt, batch_size, device)
    target = as_float_images(x).float()
    return ((x_hat - target.cpu()) ** 2).mean(dim=(1, 2, 3))  # (N,)
