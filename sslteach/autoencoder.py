"""Autoencoders: learn features by reconstructing the input (plain, denoising, masked).

An encoder compresses an image, a decoder rebuilds it, and the pixel error trains both. The plain
version can get away with copying; corrupting the input and asking for the *clean* image
(denoising) or hiding whole patches and scoring only them (masked) forces the encoder to model
what images look like. The corruptions themselves (noise, pixel dropout, patch masking,
:class:`~sslteach.corruption.Corruption`) are in :mod:`sslteach.corruption`. The encoder is the same
:class:`sslteach.models.ConvEncoder` that SimCLR and RotNet use, so their features compare fairly
with the same probe.

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

from .batches import as_float_images, infer_batches
from .corruption import add_noise, check_mask_args, mask_patches
from .models import ConvEncoder, Encoder, conv_bn_relu
from .utils import check_number


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
        in_channels: image channels when ``encoder`` is not given (3 colour, the default, or
            1 grey); with an ``encoder`` it may be left out (it must match the encoder's).
    """

    def __init__(self, encoder: Encoder | None = None, bottleneck: int | None = None,
                 in_channels: int | None = None):
        super().__init__()
        if in_channels is not None:
            check_number(in_channels, "in_channels", low=1, integer=True)
            if in_channels not in (1, 3):
                raise ValueError(f"in_channels must be 3 (colour) or 1 (grey), got {in_channels}")
        if encoder is None:
            encoder = ConvEncoder(3 if in_channels is None else in_channels)
        elif not all(hasattr(encoder, a) for a in ("block_dims", "forward_blocks", "in_channels")):
            raise TypeError(f"encoder must be an sslteach Encoder (with block_dims and forward_blocks), got "
                            f"{type(encoder).__name__}; use e.g. ConvEncoder() or leave it out")
        elif in_channels is not None and in_channels != encoder.in_channels:
            raise ValueError(f"in_channels={in_channels}, but the encoder takes {encoder.in_channels}-channel "
                             f"images; leave in_channels out when you pass an encoder")
        self.encoder = encoder
        if bottleneck is not None:
            check_number(bottleneck, "bottleneck", low=1, integer=True,
                         hint="a positive number of code channels, or None for no bottleneck")
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


# ---- losses and steps ---------------------------------------------------------------------------

def masked_mse(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels only (MAE's loss): visible pixels do not count.

    Args:
        x_hat: (N, C, H, W) reconstruction.
        x: (N, C, H, W) clean target.
        mask: (N, 1, H, W) (or (N, C, H, W)), 1 = hidden, 0 = visible.

    Returns:
        Scalar: ``sum(mask * (x_hat - x)^2) / (number of hidden pixel values)``; 0 (with a zero
        gradient, not NaN) if none is hidden.
    """
    for name, t in (("x_hat", x_hat), ("x", x), ("mask", mask)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}; convert with torch.as_tensor(...)")
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    if mask.ndim != 4 or mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:] \
            or mask.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"mask must have shape (N, 1, H, W) = {(x.shape[0], 1, *x.shape[2:])}, "
                         f"got {tuple(mask.shape)}; use the mask that mask_patches returns")
    lo, hi = torch.aminmax(mask.detach().float())  # NaN propagates into both
    if not (lo >= 0 and hi <= 1):
        raise ValueError("mask must hold 1 where a pixel is hidden and 0 where it is visible (values in "
                         "[0, 1]), got values outside; use the mask that mask_patches returns")
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
    ``corrupt`` may also return ``(x_corrupted, mask)`` (as ``Corruption.with_mask``); the mask is
    then ignored.

    Returns:
        ``step(model, batch) -> loss``.

    Raises:
        ValueError: an unknown ``kind``, a level out of range, or ``corrupt`` with another kind
            than ``"denoising"`` (it would be silently ignored).
    """
    if kind not in ("plain", "denoising", "masked"):
        raise ValueError(f"kind must be 'plain', 'denoising' or 'masked', got {kind!r}")
    if kind == "masked":
        check_mask_args(mask_ratio, patch_size, "mask_ratio")  # fail now, not at the first batch
    if corrupt is not None and kind != "denoising":
        raise ValueError(f"corrupt= is only used by kind='denoising', got kind={kind!r}; pass "
                         f"kind='denoising' to train on corrupted inputs, or leave corrupt out")
    if corrupt is not None and not callable(corrupt):
        raise TypeError(f"corrupt must be a function of the images, e.g. Corruption(noise_std=0.2), "
                        f"got {type(corrupt).__name__}")
    if kind == "denoising" and corrupt is None:
        check_number(noise_std, "noise_std", low=0, hint="the noise level, e.g. 0.3")

        def corrupt(x):
            return add_noise(x, noise_std)

    def step(model: nn.Module, batch) -> torch.Tensor:
        x = as_float_images(batch)
        if kind == "plain":
            return F.mse_loss(_rebuild(model, x), x)
        if kind == "denoising":
            x_in = corrupt(x)
            return F.mse_loss(_rebuild(model, x_in[0] if isinstance(x_in, tuple) else x_in), x)
        x_masked, mask = mask_patches(x, mask_ratio, patch_size)
        return masked_mse(_rebuild(model, x_masked), x, mask)
    return step


def _rebuild(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)``, checked to be an image batch of x's shape (else the loss would broadcast)."""
    x_hat = model(x)
    if not isinstance(x_hat, torch.Tensor) or x_hat.shape != x.shape:
        shape = tuple(x_hat.shape) if isinstance(x_hat, torch.Tensor) else type(x_hat).__name__
        raise ValueError(f"the model must return reconstructions of its input's shape {tuple(x.shape)}, "
                         f"got {shape}; is it an autoencoder (e.g. ConvAutoencoder) for "
                         f"{x.shape[1]}-channel images?")
    return x_hat


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
    if corrupt is not None and not callable(corrupt):
        raise TypeError(f"corrupt must be a function of the images, e.g. Corruption(mask_ratio=0.5), "
                        f"or None, got {type(corrupt).__name__}")
    check_number(batch_size, "batch_size", low=1, integer=True, hint="images per forward pass, e.g. 500")

    def run(model, xb):
        if corrupt is not None:
            xb = corrupt(xb)
            xb = xb[0] if isinstance(xb, tuple) else xb
        return xb, _rebuild(model, xb)

    return infer_batches(model, x, run, batch_size=batch_size, device=device)


def reconstruction_error(model: nn.Module, x: torch.Tensor, corrupt: Callable | None = None,
                         batch_size: int = 500, device: torch.device | str | None = None) -> torch.Tensor:
    """Per-image MSE between the reconstruction (of the corrupted input) and the clean image.

    Returns:
        (N,) float32 CPU tensor, mean over all pixels and channels of each image.
    """
    _, x_hat = reconstruct(model, x, corrupt, batch_size, device)
    target = as_float_images(x).float()
    if x_hat.shape != target.shape:
        raise ValueError(f"corrupt changed the images' shape from {tuple(target.shape)} to {tuple(x_hat.shape)}; "
                         f"a corruption must keep the shape so the reconstruction can be compared pixel by pixel")
    return ((x_hat - target.cpu()) ** 2).mean(dim=(1, 2, 3))  # (N,)
