"""Batched data augmentation: every image in the batch gets its own random parameters.

In SimCLR the augmentations *are* the pretext task: two random views of one image must map to
nearby features. A torchvision transform given a batch tensor draws ONE set of parameters for the
whole batch; each op here draws them per image and applies them with tensor ops over the batch
(no Python loop over images), on CPU or GPU. Every op has three parts:

* ``op.sample_params(x, generator)`` draws per-image parameters (a dict of (N,) tensors);
* ``op.apply(x, **params)`` applies given parameters; per image it equals (allclose) the
  ``torchvision.transforms.v2.functional`` op, as ``tests/test_augment.py`` and
  ``tests/test_photometric.py`` check;
* ``op(x, generator=None)`` tosses a coin per image (probability ``op.p``) and applies the op to
  the chosen images. A seeded ``torch.Generator`` makes the draw reproducible.

This module holds the geometric ops (crop, flip, cutout), the pipelines (``Compose``,
``TwoViews``) and SimCLR's recipe (``simclr_augment``); the photometric ops (colour jitter,
grayscale, blur, noise) are :mod:`sslteach.photometric`, and their common base class
:class:`~sslteach.randomop.RandomOp` is :mod:`sslteach.randomop`.

Images are float (N, C, H, W), C = 1 or 3, in [0, 1]; outputs keep dtype, device and the [0, 1]
range. Values outside [0, 1] (0-255 floats, or images already normalised with a mean/std) raise a
ValueError: augment first, normalise after (``ConvEncoder`` normalises its input itself). So do
NaN or infinite pixels, empty batches and settings out of range (each error names the setting).
``op(x)`` checks the images; ``op.apply`` trusts them (it checks only its parameters), so call the
op, not ``apply``, on images you have not checked.

Examples:
    >>> x = load_cifar10("train", dtype=torch.float32).images[:256]     # (256, 3, 32, 32)
    >>> x1, x2 = TwoViews(simclr_augment(32))(x, torch.Generator().manual_seed(0))  # 2 x (256, 3, 32, 32)

- Chen, Kornblith, Norouzi, Hinton, A Simple Framework for Contrastive Learning of Visual Representations, 2020.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .photometric import ColorJitter, GaussianBlur, RandomGrayscale
from .randomop import RandomOp, check_generator, check_range, draw
from .utils import check_images, check_number  # check_images is re-exported: augment.check_images


# ---- checks of settings: each error names the op, the setting, what it must be and what came ----
def _size(value, name: str) -> tuple[int, int]:
    """An output size: one positive int (a square) or a pair (height, width) of them."""
    pair = value if isinstance(value, (tuple, list)) and len(value) == 2 else (value, value)
    if isinstance(value, (tuple, list)) and len(value) != 2:
        raise TypeError(f"{name} must be a side in pixels (an int >= 1) or a pair (height, width), got {value!r}")
    hint = "the output side in pixels, e.g. 32"
    return tuple(check_number(v, name, low=1, integer=True, hint=hint) for v in pair)


def _check_op(op, name: str) -> None:
    """``op`` must be an op (a callable), not its class."""
    if isinstance(op, type):
        raise TypeError(f"{name} is the class {op.__name__}, not an op; create one: {op.__name__}()")
    if not callable(op):
        raise TypeError(f"{name} must be an op (a callable x, generator -> x, such as RandomHorizontalFlip()), "
                        f"got {type(op).__name__} {op!r}")


# ---- the geometric ops ----
def _resize_weights(start, length, n_in: int, n_out: int, x: torch.Tensor) -> torch.Tensor:
    """(N, n_out, n_in) weights resampling pixels [start, start + length) of each image to n_out pixels:
    output i, centred at ``start + (i + 0.5) * scale``, averages its neighbours with a triangle of
    half-width ``max(scale, 1)`` (as ``F.interpolate(mode="bilinear", antialias=True)``)."""
    start, length = (torch.as_tensor(v, device=x.device).to(x.dtype).reshape(-1, 1, 1) for v in (start, length))
    scale = length / n_out  # (N, 1, 1)
    centre = start + (torch.arange(n_out, dtype=x.dtype, device=x.device).view(1, -1, 1) + 0.5) * scale
    pos = torch.arange(n_in, dtype=x.dtype, device=x.device).view(1, 1, -1) + 0.5  # pixel centres
    w = (1 - (pos - centre).abs() / scale.clamp(min=1)).clamp(min=0)  # (N, n_out, n_in) triangles
    w = w * ((pos > start) & (pos < start + length))  # only pixels inside the crop
    return w / w.sum(-1, keepdim=True)


@dataclass
class RandomResizedCrop(RandomOp):
    """Crop a random box (area fraction in ``scale``, width/height in ``ratio``) and resize it to ``size``.

    Boxes are drawn as in torchvision (10 tries per image, else a central crop). The resize is two
    matrix products per image, ``Ry @ x @ Rx^T``, equal to torchvision's
    ``resized_crop(..., antialias=True)``. An image not chosen (probability 1 - p) is resized whole.
    """
    size: int | tuple[int, int] = 32
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    p: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        self.size = _size(self.size, "RandomResizedCrop: size")
        self.scale = check_range(self.scale, "RandomResizedCrop: scale", low=0, low_open=True, high=1,
                           hint="area fractions of the image, e.g. (0.08, 1.0)")
        self.ratio = check_range(self.ratio, "RandomResizedCrop: ratio", low=0, low_open=True,
                           hint="width/height of the box, e.g. (3 / 4, 4 / 3)")

    def sample_params(self, x, generator=None):
        H, W = x.shape[2:]
        u = draw((4, len(x), 10), generator, x.device)  # 10 tries per image
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        area = H * W * (self.scale[0] + (self.scale[1] - self.scale[0]) * u[0])  # (N, 10)
        aspect = torch.exp(log_lo + (log_hi - log_lo) * u[1])
        w, h = torch.sqrt(area * aspect).round(), torch.sqrt(area / aspect).round()
        fits = (w > 0) & (w <= W) & (h > 0) & (h <= H)  # (N, 10)
        first = fits.int().argmax(1, keepdim=True)  # the first try that fits
        w, h, fits = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0], fits.any(1)  # (N,)
        top, left = (u[2, :, 0] * (H - h + 1)).floor(), (u[3, :, 0] * (W - w + 1)).floor()
        # no try fits: the largest central crop with width/height clamped into `ratio`
        fw, fh = min(W, round(H * self.ratio[1])), min(H, round(W / self.ratio[0]))
        box = [torch.where(fits, v, f) for v, f in ((top, (H - fh) // 2), (left, (W - fw) // 2), (h, fh), (w, fw))]
        return dict(zip(("top", "left", "height", "width"), (v.long() for v in box)))

    def apply(self, x, top, left, height, width):
        """A box ``(top, left, height, width)`` inside each image (numbers or (N,) tensors)."""
        _check_boxes(x, top, left, height, width)
        ry = _resize_weights(top, height, x.shape[2], self.size[0], x)  # (N, out_h, H)
        rx = _resize_weights(left, width, x.shape[3], self.size[1], x)  # (N, out_w, W)
        with torch.autocast(x.device.type, enabled=False):  # keep x's dtype inside fit's mixed precision
            out = ry.unsqueeze(1) @ x @ rx.transpose(1, 2).unsqueeze(1)  # (N, C, out_h, out_w)
        return out.clamp(0, 1)  # weights sum to 1 up to rounding

    def __call__(self, x, generator=None):
        x = check_images(x, "RandomResizedCrop")
        self._check_p()
        check_generator(generator)
        chosen = draw(len(x), generator, x.device) < self.p  # (N,)
        full = {"top": 0, "left": 0, "height": x.shape[2], "width": x.shape[3]}
        return self.apply(x, **{k: torch.where(chosen, v, full[k])
                                for k, v in self.sample_params(x, generator).items()})


def _check_boxes(x: torch.Tensor, top, left, height, width) -> None:
    """Each box must lie inside its image with at least 1x1 pixels: an empty box has no pixels to
    average (its weights would divide 0 by 0 and fill the crop with NaN)."""
    H, W = x.shape[2:]
    t, l, h, w = (torch.as_tensor(v, device=x.device).reshape(-1) for v in (top, left, height, width))
    for name, v in zip(("top", "left", "height", "width"), (t, l, h, w)):
        if v.numel() not in (1, len(x)) or v.is_floating_point() and not torch.equal(v, v.round()):
            raise ValueError(f"RandomResizedCrop.apply: {name} must be a whole number or an (N,) tensor "
                             f"of them (N = {len(x)}), got {v.tolist()[:8]}")
    bad = (t < 0) | (l < 0) | (h < 1) | (w < 1) | (t + h > H) | (l + w > W)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        box = tuple(int(v[i if len(v) > 1 else 0]) for v in (t, l, h, w))
        raise ValueError(f"RandomResizedCrop.apply: the box (top, left, height, width) = {box} is not inside "
                         f"the {H}x{W} image (it needs top, left >= 0, height, width >= 1, top + height <= {H}, "
                         f"left + width <= {W}); take boxes from sample_params, or clip them to the image")


@dataclass
class RandomHorizontalFlip(RandomOp):
    """Mirror left-right."""
    p: float = 0.5

    def apply(self, x):
        return x.flip(-1)


@dataclass
class Cutout(RandomOp):
    """Fill a square of side ``size`` x (shorter image side) with ``value``; its centre is uniform over
    the image, so the border may cut it.

    - DeVries, Taylor, Improved Regularization of Convolutional Neural Networks with Cutout, 2017.
    """
    size: float = 0.5
    value: float = 0.0
    p: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        check_number(self.size, "Cutout: size", low=0, low_open=True, high=1,
                     hint="the square's side as a fraction of the shorter image side, e.g. 0.5")
        check_number(self.value, "Cutout: value", low=0, high=1, hint="the fill colour, 0 black to 1 white")

    def sample_params(self, x, generator=None):
        H, W = x.shape[2:]
        side = max(1, round(self.size * min(H, W)))
        u = draw((2, len(x)), generator, x.device)
        y0, x0 = (u[0] * H).long() - side // 2, (u[1] * W).long() - side // 2  # (N,) corners, may be < 0
        top, left = y0.clamp(min=0), x0.clamp(min=0)
        return {"top": top, "left": left,
                "height": (y0 + side).clamp(max=H) - top, "width": (x0 + side).clamp(max=W) - left}

    def apply(self, x, top, left, height, width):
        """Erase the box ``(top, left, height, width)`` of each image, as torchvision's ``erase``."""
        t, l, h, w = (torch.as_tensor(v, device=x.device).reshape(-1, 1, 1, 1) for v in (top, left, height, width))
        rows, cols = torch.arange(x.shape[2], device=x.device), torch.arange(x.shape[3], device=x.device)
        mask = (rows[:, None] >= t) & (rows[:, None] < t + h) & (cols >= l) & (cols < l + w)  # (N, 1, H, W)
        return x.masked_fill(mask, self.value)


# ---- pipelines ----
@dataclass
class Compose:
    """Apply ``ops`` in order, passing one generator along (so one seed fixes the whole pipeline)."""
    ops: list

    def __post_init__(self):
        if not isinstance(self.ops, (list, tuple)):
            one = "one op" if callable(self.ops) else type(self.ops).__name__
            raise TypeError(f"Compose takes a list of ops, got {one} ({self.ops!r}); wrap it in a list: Compose([op])")
        self.ops = list(self.ops)
        for i, op in enumerate(self.ops):
            _check_op(op, f"Compose: ops[{i}]")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_generator(generator)
        if not self.ops:  # nothing to do, but the same check of the images as every op
            return check_images(x, "Compose")
        for op in self.ops:
            x = op(x, generator=generator)
        return x


@dataclass
class TwoViews:
    """``x -> (x1, x2)``: two independent random augmentations of the same batch (SimCLR's views)."""
    transform: Callable  # (x, generator) -> x, e.g. simclr_augment()

    def __post_init__(self):
        _check_op(self.transform, "TwoViews: transform")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        return self.transform(x, generator=generator), self.transform(x, generator=generator)


def simclr_augment(size: int = 32, strength: float = 1.0, blur: bool = False,
                   colour: float | None = None, min_scale: float | None = None) -> Compose:
    """SimCLR's augmentations for CIFAR, scaled by ``strength`` s >= 0 (s = 0: flips only).

    Crop area fraction (1 - 0.92 c, 1) and width/height (4/3)^[-c, c] with c = min(s, 1): the whole
    image at s = 0, SimCLR's (0.08, 1) and (3/4, 4/3) from s = 1; flip p = 0.5; colour jitter with
    brightness, contrast, saturation 0.8 s and hue min(0.2 s, 0.5), p = 0.8; grayscale
    p = min(0.2 s, 1). SimCLR leaves blur out on CIFAR and so does ``blur=False``; ``blur=True``
    adds a Gaussian blur (kernel ~10% of ``size``, sigma 0.1-2) with p = min(0.5 s, 1). At s = 0,
    size x size images come back unchanged or mirrored. s = 1 is the paper's ImageNet colour
    strength; its CIFAR-10 runs keep s = 1 crops with colour strength 0.5:
    ``simclr_augment(32, colour=0.5)``. Many CIFAR reproductions crop less hard, keeping at least
    20% of the image: ``min_scale=0.2``, as the classroom recipe ``RECIPES["simclr"]`` does (it
    probes higher after a short run; ``python -m sslteach pretrain simclr`` measures a recipe).

    Args:
        size: output side in pixels, an int >= 1.
        strength: s >= 0, scales crops, colour jitter and grayscale together.
        blur: add the Gaussian blur.
        colour: strength >= 0 of the colour jitter and grayscale alone (default: ``strength``).
        min_scale: smallest crop area fraction, in (0, 1] (default: 1 - 0.92 c from ``strength``).

    Raises:
        TypeError, ValueError: a setting of the wrong type or out of range; the message names it.

    - Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020.
    """
    return Compose(list(simclr_ops(size, strength, blur, colour, min_scale).values()))


def simclr_ops(size: int = 32, strength: float = 1.0, blur: bool = False, colour: float | None = None,
               min_scale: float | None = None) -> dict:
    """The ops of :func:`simclr_augment` by name, in order (``"crop"``, ``"flip"``, ``"colour jitter"``,
    ``"grayscale"``, and ``"blur"`` when asked), each set from ``strength`` as described there: the
    one place the recipe's formulas live (the augmentation explorer shows these ops one by one)."""
    check_number(size, "size", low=1, integer=True, hint="the output side in pixels, e.g. 32 for CIFAR-10")
    check_number(strength, "strength", low=0, hint="0: flips only, 1: SimCLR's recipe")
    if not isinstance(blur, bool):
        raise TypeError(f"blur must be True or False, got {blur!r}")
    if colour is not None:
        check_number(colour, "colour", low=0, hint="the colour strength, or None for the same as strength")
    if min_scale is not None:
        check_number(min_scale, "min_scale", low=0, low_open=True, high=1,
                     hint="the smallest crop area fraction, or None to follow strength")
    c = min(float(strength), 1.0)
    s = float(strength if colour is None else colour)
    lo = round(1 - 0.92 * c, 6) if min_scale is None else float(min_scale)
    ops = {"crop": RandomResizedCrop(size, scale=(lo, 1.0), ratio=((3 / 4) ** c, (4 / 3) ** c)),
           "flip": RandomHorizontalFlip(p=0.5),
           "colour jitter": ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.2 * s, 0.5), p=0.8),
           "grayscale": RandomGrayscale(p=min(0.2 * s, 1.0))}
    if blur:
        ops["blur"] = GaussianBlur(kernel_size=max(3, int(0.1 * size) // 2 * 2 + 1), p=min(0.5 * float(strength), 1.0))
    return ops
