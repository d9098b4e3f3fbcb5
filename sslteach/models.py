"""Encoders and heads shared by every method.

An encoder maps images in [0, 1] to a feature vector ``h``: ``(N, C, H, W) -> (N, feature_dim)``.
It normalises its input itself (per-channel mean/std buffers), so every caller feeds plain
[0, 1] images, and it exposes its blocks so notebooks can probe the features after each one::

    encoder = ConvEncoder()                 # small CNN, quick on a laptop CPU
    h = encoder(x)                          # (N, 256) pooled features of the last block
    maps = encoder.forward_blocks(x)        # [(N, 32, 16, 16), (N, 64, 8, 8), ...]
    encoder.block_dims                      # (32, 64, 128, 256)
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# per-channel statistics of the shipped training images (used for input normalisation)
CIFAR10_MEAN, CIFAR10_STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.261)
MNIST_MEAN, MNIST_STD = (0.131,), (0.308,)


class Encoder(nn.Module):
    """Base class: ``stem`` -> ``blocks[0]`` -> ... -> ``blocks[-1]`` -> global average pool.

    Subclasses set ``self.stem``, ``self.blocks`` (an ``nn.ModuleList``), ``self.block_dims`` and
    ``self.config`` (the keyword arguments that rebuild the same architecture), then call
    ``self.to(memory_format=self.memory_format)``.

    Weights and activations are kept channels_last (N, H, W, C in memory), the layout oneDNN and
    cuDNN convolve fastest: SimCLR training with the small ``ConvEncoder`` runs about 1.65x faster
    on a 2-core CPU than in PyTorch's default NCHW layout (benchmarks/bench_encoder.py measures
    both layouts).
    """

    memory_format = torch.channels_last

    def __init__(self, in_channels: int, mean=None, std=None):
        super().__init__()
        if mean is None:
            mean, std = (CIFAR10_MEAN, CIFAR10_STD) if in_channels == 3 else (MNIST_MEAN, MNIST_STD)
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(f"mean/std need {in_channels} values (one per channel), "
                             f"got {len(mean)} and {len(std)}")
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.in_channels = in_channels

    @property
    def feature_dim(self) -> int:
        """Width of ``h``, the pooled output of the last block."""
        return self.block_dims[-1]

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"expected float images in [0, 1], got dtype {x.dtype}; "
                            f"convert uint8 images with x.float() / 255")

    def forward_blocks(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Feature maps after each block (only blocks ``0..upto`` when ``upto`` is given)."""
        self._check(x)
        out = self.stem(((x - self.mean) / self.std).contiguous(memory_format=self.memory_format))
        maps = []
        for i, block in enumerate(self.blocks):
            out = block(out)
            maps.append(out)  # (N, block_dims[i], H_i, W_i)
            if upto is not None and i >= upto:
                break
        return maps

    def forward(self, x: torch.Tensor, block: int | None = None, grid: int = 1) -> torch.Tensor:
        """Pooled features ``h``: of the last block, or of ``block`` (0-based; -1 is the last).

        ``grid`` > 1 average-pools the feature map to a grid x grid grid instead of one global
        average and flattens it: (N, C_block * grid**2) features that keep where things are, the
        layer-wise probing protocol of Zhang et al. (2016) and Gidaris et al. (2018).
        """
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid must be a positive int (1 = global average pool), got {grid!r}")
        upto = None if block is None or block == -1 else block
        if upto is not None and not -len(self.blocks) <= upto < len(self.blocks):
            raise ValueError(f"block must be in 0..{len(self.blocks) - 1}, got {block}")
        if upto is not None and upto < 0:
            upto += len(self.blocks)
        fmap = self.forward_blocks(x, upto)[-1]
        if grid == 1:
            return fmap.mean(dim=(2, 3))  # (N, C_block)
        if grid > min(fmap.shape[-2:]):
            raise ValueError(f"grid {grid} is finer than the {tuple(fmap.shape[-2:])} feature map of this block")
        return F.adaptive_avg_pool2d(fmap, grid).flatten(1)  # (N, C_block * grid * grid)


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
      step costs about 2.5x the FLOPs; random features probe about 9 points higher and SimCLR
      learns about 4 points more in the same epochs on the shipped CIFAR-10 (measured).

    The default (one convolution per block) trains about 3x faster on a CPU than ``depth=2``
    (benchmarks/bench_encoder.py).

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
        if depth < 1 or not widths:
            raise ValueError(f"need depth >= 1 and at least one width, got depth={depth}, widths={widths}")
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
    if name == "conv":
        return ConvEncoder(**kwargs)
    if name == "resnet18":
        return ResNet18Encoder(**kwargs)
    raise ValueError(f"encoder name must be 'conv' or 'resnet18', got {name!r}")


class ProjectionHead(nn.Module):
    """MLP ``g`` mapping features ``h`` to projections ``z`` (SimCLR's head).

    ``num_layers`` linear layers, each but the last followed by BatchNorm and ReLU.

    - Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020.
    """

    def __init__(self, in_dim: int, hidden_dim: int | None = None, out_dim: int = 128,
                 num_layers: int = 2):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        hidden_dim = hidden_dim or in_dim
        layers, d = [], in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(d, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)  # (N, in_dim) -> (N, out_dim)
