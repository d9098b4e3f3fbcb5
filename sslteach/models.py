"""Encoders and heads shared by every method.

An encoder maps images in [0, 1] to a feature vector ``h``: ``(N, C, H, W) -> (N, feature_dim)``.
It normalises its input itself (per-channel mean/std buffers), so every caller feeds plain
[0, 1] images, and it exposes its blocks so notebooks can probe the features after each one::

    encoder = ConvEncoder()                 # small CNN, quick on a laptop CPU
    h = encoder(x)                          # (N, 256) pooled features of the last block
    maps = encoder.forward_blocks(x)        # [(N, 32, 16, 16), (N, 64, 8, 8), ...]
    encoder.block_dims                      # (32, 64, 128, 256)

Every forward pass checks its input first (a float (N, C, H, W) batch, finite, big enough for the
blocks) and says what to change; float64 (or float16) images are cast to the weights' dtype.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .utils import check_finite, check_number

# per-channel statistics of the shipped training images (used for input normalisation)
CIFAR10_MEAN, CIFAR10_STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.261)
MNIST_MEAN, MNIST_STD = (0.131,), (0.308,)


class Encoder(nn.Module):
    """Base class: ``stem`` -> ``blocks[0]`` -> ... -> ``blocks[-1]`` -> global average pool.

    Subclasses set ``self.stem``, ``self.blocks`` (an ``nn.ModuleList``), ``self.block_dims`` and
    ``self.config`` (the keyword arguments that rebuild the same architecture), then call
    ``self.to(memory_format=self.memory_format)``.

    Weights and activations are kept channels_last (N, H, W, C in memory), the layout oneDNN and
    cuDNN convolve fastest: SimCLR training with the small ``ConvEncoder`` runs faster on a CPU
    than in PyTorch's default NCHW layout (benchmarks/bench_encoder.py measures both layouts; the
    README's performance table quotes it).

    ``min_side`` is the smallest image side the blocks accept (1 unless a subclass pools).
    """

    memory_format = torch.channels_last
    min_side = 1

    def __init__(self, in_channels: int, mean=None, std=None):
        super().__init__()
        check_number(in_channels, "in_channels", low=1, integer=True, hint="3 for colour, 1 for gray images")
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (gray) or 3 (RGB), got {in_channels}; the package's "
                             f"image checks and augmentations work on those two")
        default = (CIFAR10_MEAN, CIFAR10_STD) if in_channels == 3 else (MNIST_MEAN, MNIST_STD)
        mean = _per_channel(default[0] if mean is None else mean, "mean", in_channels)
        std = _per_channel(default[1] if std is None else std, "std", in_channels)
        if min(std) <= 0:
            raise ValueError(f"std must be > 0 for every channel (the input is divided by it), got {std}")
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.in_channels = in_channels

    @property
    def feature_dim(self) -> int:
        """Width of ``h``, the pooled output of the last block."""
        return self.block_dims[-1]

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` after checking, cast to the weights' dtype: a float batch (N, C, H, W), finite, with
        values near [0, 1], on the encoder's device, big enough for the blocks."""
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} expects a tensor of images (N, {self.in_channels}, H, W), got "
                            f"{type(x).__name__}; convert with torch.as_tensor(...)")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            hint = ("; for one image add a batch dimension: x.unsqueeze(0)" if x.ndim == 3 and x.shape[0] == self.in_channels
                    else "; for channels-last images (N, H, W, C) use x.permute(0, 3, 1, 2)"
                    if x.ndim == 4 and x.shape[-1] == self.in_channels else "")
            raise ValueError(f"{name} expected images of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}{hint}")
        if not x.is_floating_point():
            raise TypeError(f"{name} expected float images in [0, 1], got dtype {x.dtype}; "
                            f"convert uint8 images with x.float() / 255")
        if x.numel() == 0:
            raise ValueError(f"{name} expects at least one image of at least 1x1 pixels, got shape {tuple(x.shape)}")
        H, W = x.shape[2:]
        if min(H, W) < self.min_side:
            fits = int(math.log2(min(H, W)))  # blocks that fit: each halves the side
            raise ValueError(f"{name} needs images of at least {self.min_side}x{self.min_side} pixels (each of "
                             f"its {len(self.blocks)} blocks halves the size), got {H}x{W}; use larger images, "
                             f"or fewer blocks: at most {fits} fit {H}x{W} images (for ConvEncoder: fewer "
                             f"widths, or downsample='stride', which accepts any size)")
        if x.device != self.mean.device:
            raise ValueError(f"the images are on {x.device} but {name}'s weights are on {self.mean.device}; "
                             f"move one of them, e.g. x.to({str(self.mean.device)!r})")
        lo, hi = torch.aminmax(x)  # one pass: NaN and infinities show in these two
        if not (torch.isfinite(lo) and torch.isfinite(hi)):
            check_finite(x, f"the images given to {name}", "replace or drop those images (torch.nan_to_num fills NaN)")
        if lo < -1 or hi > 2:  # loose bounds: noisy views may leave [0, 1] a little, 0-255 or normalised ones far
            raise ValueError(f"{name} expects images in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; divide "
                             f"0-255 images by 255, and do not normalise them (the encoder does it itself)")
        return x if x.dtype == self.mean.dtype else x.to(self.mean.dtype)

    def forward_blocks(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Feature maps after each block (only blocks ``0..upto`` when ``upto`` is given)."""
        x = self._check(x)
        if upto is not None:
            check_number(upto, "upto", low=0, high=len(self.blocks) - 1, integer=True,
                         hint=f"a block index, 0..{len(self.blocks) - 1}")
        maps, i = [], -1
        try:
            out = self.stem(((x - self.mean) / self.std).contiguous(memory_format=self.memory_format))
            for i, block in enumerate(self.blocks):
                out = block(out)
                maps.append(out)  # (N, block_dims[i], H_i, W_i)
                if upto is not None and i >= upto:
                    break
        except ValueError as e:
            if "Expected more than 1 value per channel" not in str(e):
                raise
            where = "the stem" if i < 0 else f"block {i}"
            raise ValueError(
                f"{type(self).__name__} is in training mode, where BatchNorm needs more than one value per "
                f"channel to compute batch statistics, but a batch of {len(x)} image(s) of {x.shape[2]}x"
                f"{x.shape[3]} pixels leaves one value per channel at {where}; train with batches of at least "
                f"2 images (DataLoader(..., drop_last=True) drops a last batch of one), or call "
                f"encoder.eval() to compute features (inference)") from e
        return maps

    def forward(self, x: torch.Tensor, block: int | None = None, grid: int = 1) -> torch.Tensor:
        """Pooled features ``h``: of the last block, or of ``block`` (0-based; -1 is the last).

        ``grid`` > 1 average-pools the feature map to a grid x grid grid instead of one global
        average and flattens it: (N, C_block * grid**2) features that keep where things are, the
        layer-wise probing protocol of Zhang et al. (2016) and Gidaris et al. (2018).
        """
        check_number(grid, "grid", low=1, integer=True, hint="1 is one global average pool")
        if block is not None:
            check_number(block, "block", integer=True, hint=f"a block index, 0..{len(self.blocks) - 1} (-1 the last)")
        upto = None if block is None or block == -1 else block
        if upto is not None and not -len(self.blocks) <= upto < len(self.blocks):
            raise ValueError(f"block must be in 0..{len(self.blocks) - 1} (or -{len(self.blocks)}..-1 from the "
                             f"end), got {block}; this encoder has {len(self.blocks)} blocks")
        if upto is not None and upto < 0:
            upto += len(self.blocks)
        fmap = self.forward_blocks(x, upto)[-1]
        if grid == 1:
            return fmap.mean(dim=(2, 3))  # (N, C_block)
        if grid > min(fmap.shape[-2:]):
            raise ValueError(f"grid {grid} is finer than the {tuple(fmap.shape[-2:])} feature map of this block; "
                             f"use grid <= {min(fmap.shape[-2:])}, or an earlier block")
        return F.adaptive_avg_pool2d(fmap, grid).flatten(1)  # (N, C_block * grid * grid)


def _per_channel(values, name: str, channels: int) -> tuple[float, ...]:
    """``values`` as a tuple of ``channels`` finite numbers (per-channel mean or std)."""
    if isinstance(values, torch.Tensor):
        values = values.flatten().tolist()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of {channels} number(s), one per channel, got {values!r}")
    if len(values) != channels:
        raise ValueError(f"{name} needs {channels} value(s) (one per channel), got {len(values)}: {values!r}")
    return tuple(float(check_number(v, name)) for v in values)


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ConvEncoder(Encoder):
    """Small CNN for 32×32 colour (or 28×28 grey) images, fast on a 2-core CPU.

    Each block halves the resolution, one of two ways:

    - ``downsample="stride"`` (default): a 3×3 stem convolution at full resolution, then each
      block starts with a stride-2 convolution and adds ``depth - 1`` more at the new width.
    - ``downsample="pool"``: no stem; each block runs its ``depth`` 3×3 convolutions at the
      resolution it receives, then 2×2 max-pools. The convolutions see 4x more positions, so a
      step costs more; random features probe higher and SimCLR learns more in the same epochs
      on the shipped CIFAR-10 (notebook 03 compares them; benchmarks/bench_encoder.py times them).
      Images need a side of at least ``2 ** len(widths)`` (``min_side``).

    The default (one convolution per block) trains faster on a CPU than ``depth=2``
    (benchmarks/bench_encoder.py measures it).

    Args:
        in_channels: 3 for colour, 1 for greyscale.
        widths: channels of each block; ``block_dims`` equals it.
        depth: convolutions per block.
        stem_width: channels of the stem (``downsample="stride"`` only).
        downsample: ``"stride"`` or ``"pool"``.
    """

    def __init__(self, in_channels: int = 3, widths=(32, 64, 128, 256), depth: int = 1,
                 stem_width: int = 24, downsample: str = "stride", mean=None, std=None):
        super().__init__(in_channels, mean, std)
        if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
            raise TypeError(f"widths must be a sequence of channel counts, one per block, e.g. (32, 64), got {widths!r}")
        widths = tuple(check_number(w, "each of widths", low=1, integer=True, hint="channels of a block, e.g. 32")
                       for w in widths)
        if not widths:
            raise ValueError("widths must name at least one block, e.g. widths=(32, 64), got ()")
        check_number(depth, "depth", low=1, integer=True, hint="convolutions per block; 1 is the default")
        check_number(stem_width, "stem_width", low=1, integer=True, hint="channels of the stem convolution")
        if downsample not in ("stride", "pool"):
            raise ValueError(f"downsample must be 'stride' or 'pool', got {downsample!r}")
        self.config = dict(name="conv", in_channels=in_channels, widths=tuple(widths), depth=depth,
                           stem_width=stem_width, downsample=downsample)
        pool = downsample == "pool"
        self.stem = nn.Identity() if pool else conv_bn_relu(in_channels, stem_width)
        blocks, c_in = [], in_channels if pool else stem_width
        for w in widths:
            layers = [conv_bn_relu(c_in, w, stride=1 if pool else 2)] + [conv_bn_relu(w, w) for _ in range(depth - 1)]
            blocks.append(nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers))
            c_in = w
        self.blocks = nn.ModuleList(blocks)
        self.block_dims = tuple(widths)
        self.min_side = 2 ** len(widths) if pool else 1  # a 3x3 stride-2 convolution maps side s to ceil(s / 2) >= 1
        self.to(memory_format=self.memory_format)


class ResNet18Encoder(Encoder):
    """torchvision's ResNet-18 with the usual CIFAR stem (3×3 conv, stride 1, no max-pool).

    Meant for GPU users; ``blocks`` are ResNet's ``layer1`` … ``layer4`` (64, 128, 256, 512).

    - He et al., Deep Residual Learning for Image Recognition, 2016.
    """

    def __init__(self, in_channels: int = 3, mean=None, std=None):
        super().__init__(in_channels, mean, std)
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        self.config = dict(name="resnet18", in_channels=in_channels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), net.bn1, net.relu)
        self.blocks = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.block_dims = (64, 128, 256, 512)
        self.to(memory_format=self.memory_format)


def build_encoder(name: str = "conv", **kwargs) -> Encoder:
    """Encoder from its ``config`` dict: ``build_encoder(**encoder.config)`` rebuilds it."""
    if not isinstance(name, str):
        raise TypeError(f"encoder name must be 'conv' or 'resnet18', got {type(name).__name__} {name!r}")
    if name == "conv":
        return ConvEncoder(**kwargs)
    if name == "resnet18":
        return ResNet18Encoder(**kwargs)
    raise ValueError(f"encoder name must be 'conv' or 'resnet18', got {name!r}")


class ProjectionHead(nn.Module):
    """MLP ``g`` mapping features ``h`` to projections ``z`` (SimCLR's head).

    ``num_layers`` linear layers, each but the last followed by BatchNorm and ReLU. In training
    mode BatchNorm needs batches of at least 2 (``num_layers=1`` has no BatchNorm).

    - Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020.
    """

    def __init__(self, in_dim: int, hidden_dim: int | None = None, out_dim: int = 128,
                 num_layers: int = 2):
        super().__init__()
        check_number(in_dim, "in_dim", low=1, integer=True, hint="the width of h, e.g. encoder.feature_dim")
        if hidden_dim is not None:
            check_number(hidden_dim, "hidden_dim", low=1, integer=True, hint="or None for in_dim")
        check_number(out_dim, "out_dim", low=1, integer=True, hint="the width of z, e.g. 128")
        check_number(num_layers, "num_layers", low=1, integer=True, hint="1 is a linear map, 2 SimCLR's MLP")
        self.in_dim = in_dim
        hidden_dim = hidden_dim or in_dim
        layers, d = [], in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(d, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not isinstance(h, torch.Tensor) or h.ndim != 2 or h.shape[1] != self.in_dim:
            got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(f"ProjectionHead expects features h of shape (N, {self.in_dim}), got {got}; build "
                             f"the head with ProjectionHead(in_dim=encoder.feature_dim), and pool or flatten "
                             f"feature maps first")
        if not h.is_floating_point():
            raise TypeError(f"ProjectionHead expects float features, got dtype {h.dtype}; use h.float()")
        if len(h) == 0:
            raise ValueError("ProjectionHead got an empty batch (0 rows); give it at least one feature vector")
        check_finite(h, "the features given to ProjectionHead", "the encoder produced NaN/inf: its training "
                     "diverged (lower the learning rate), or its input held NaN")
        if self.training and len(h) < 2 and any(isinstance(m, nn.BatchNorm1d) for m in self.net):
            raise ValueError("ProjectionHead is in training mode, where BatchNorm needs at least 2 examples per "
                             "batch to compute batch statistics, got a batch of 1; train with batches of at least 2 "
                             "(DataLoader(..., drop_last=True) drops a last batch of one), or call head.eval() for "
                             "inference")
        weight = self.net[0].weight
        return self.net(h if h.dtype == weight.dtype else h.to(weight.dtype))  # (N, in_dim) -> (N, out_dim)
