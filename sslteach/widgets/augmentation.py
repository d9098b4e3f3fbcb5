"""Augmentation explorer (notebook 02): a grid of random views of one image."""
from __future__ import annotations

import dataclasses

import torch

from .. import augment as A
from ..batches import as_float_images
from ..photometric import GaussianBlur, GaussianNoise
from ..utils import check_number
from .common import png_of_images

OPS = ("crop", "flip", "colour jitter", "grayscale", "blur", "noise", "cutout")


def _op_names(names) -> tuple:
    """``names`` as a tuple of known op names (one name alone may be given as a string)."""
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(f"names must be a list of augmentation names from {OPS}, got {names!r}") from None
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from {OPS}")
    return names


def augmentation_ops(names, strength: float = 1.0, size: int = 32) -> A.Compose:
    """The chosen augmentations at a given strength (0 = off, 1 = SimCLR's recipe).

    Each chosen op is always applied (probability 1) so its effect is visible, except the flip
    (probability 0.5) and grayscale (probability ``min(0.2 strength, 1)``, as in
    :func:`sslteach.augment.simclr_augment`, so that most views keep their colours). At strength 0
    every op but the flip leaves the image as it is (the cutout square has no size: it is off).

    Args:
        names: op names from :data:`OPS` (one name may be a plain string); none: the identity.
        strength: a finite number >= 0.
        size: side of the output views in pixels.
    """
    names = _op_names(names)
    strength = check_number(strength, "strength", low=0, hint="0 = off, 1 = SimCLR's recipe (the slider goes to 1.5)")
    size = check_number(size, "size", low=1, integer=True, hint="the side of the views in pixels, e.g. 32")
    s, simclr = float(strength), A.simclr_ops(size, strength)  # crop, flip, colour, grayscale: SimCLR's formulas
    table = {
        "crop": lambda: simclr["crop"],
        "flip": lambda: simclr["flip"],
        "colour jitter": lambda: dataclasses.replace(simclr["colour jitter"], p=1.0),
        "grayscale": lambda: simclr["grayscale"],
        "blur": lambda: GaussianBlur(kernel_size=max(3, size // 10 * 2 + 1), sigma=(0.1, 0.1 + 2 * s), p=1.0),
        "noise": lambda: GaussianNoise(std=0.1 * s, p=1.0),
        "cutout": lambda: A.Cutout(size=min(0.5 * s, 1.0), p=1.0) if s > 0 else A.Cutout(p=0.0),  # s = 0: off
    }
    return A.Compose([table[n]() for n in OPS if n in names])  # canonical order


def augmentation_views(image: torch.Tensor, names, strength: float = 1.0, n_views: int = 8,
                       seed: int = 0, size: int | None = None) -> torch.Tensor:
    """``n_views`` random views of one image (C, H, W), float in [0, 1] or uint8 -> (n_views, C, size, size).

    ``size`` defaults to the image's shorter side; ``seed`` (an integer >= 0) fixes the views.
    """
    image = _one_image(image, "augmentation_views")
    names = _op_names(names)
    n_views = check_number(n_views, "n_views", low=1, integer=True, hint="e.g. 8")
    seed = check_number(seed, "seed", low=0, integer=True)
    if size is not None:
        size = check_number(size, "size", low=1, integer=True, hint="or None for the image's shorter side")
    size = size or min(image.shape[-2:])
    batch = image.unsqueeze(0).expand(n_views, -1, -1, -1).contiguous()
    if "crop" not in names:  # without a crop, bring the image to size x size by a central crop
        batch = A.RandomResizedCrop(size, scale=(1.0, 1.0), ratio=(1.0, 1.0)).apply(
            batch, *_central_square(image, n_views))
    return augmentation_ops(names, strength, size)(batch, torch.Generator().manual_seed(seed))


def _one_image(image, name: str) -> torch.Tensor:
    """One image (C, H, W) as float in [0, 1], checked (channels, finite, range)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} expects one image as a tensor (C, H, W), got {type(image).__name__}")
    if image.ndim != 3:
        hint = "; pick one image of the batch: images[0]" if image.ndim == 4 else ""
        raise ValueError(f"{name} expects one image (C, H, W), got shape {tuple(image.shape)}{hint}")
    return as_float_images(image.unsqueeze(0), name)[0]


def _central_square(image, n):
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return [torch.full((n,), v) for v in (top, left, side, side)]


class AugmentationExplorer:
    """Pick an image, the augmentations and their strength; see a grid of random views.

    Args:
        images: ``{"name": image (C, H, W) float in [0, 1]}`` to choose from.
        n_views: views in the grid.
        size: output size of each view (default: the image's shorter side).

    Display it by leaving ``explorer.widget`` (or the explorer itself) last in a cell.
    """

    def __init__(self, images: dict, n_views: int = 16, size: int | None = None):
        import ipywidgets as W

        if not isinstance(images, dict):
            raise TypeError(f"images must be a dict {{'name': image (C, H, W)}}, got {type(images).__name__}; "
                            f"e.g. {{'cat': x[0]}}")
        if not images:
            raise ValueError("AugmentationExplorer needs at least one image: {'name': image (C, H, W)}")
        images = {name: _one_image(img, f"AugmentationExplorer (image {name!r})") for name, img in images.items()}
        n_views = check_number(n_views, "n_views", low=1, integer=True, hint="e.g. 16")
        if size is not None:
            check_number(size, "size", low=1, integer=True, hint="or None for each image's shorter side")
        self.images, self.n_views, self.size, self.seed = images, n_views, size, 0
        self.image = W.Dropdown(options=list(images), description="image")
        self.ops = W.SelectMultiple(options=OPS, value=("crop", "flip", "colour jitter", "grayscale"),
                                    description="ops", rows=len(OPS))
        self.strength = W.FloatSlider(value=1.0, min=0.0, max=1.5, step=0.05, description="strength",
                                      continuous_update=False)
        self.resample = W.Button(description="new sample", icon="refresh")
        self.picture = W.Image(format="png")
        for control in (self.image, self.ops, self.strength):
            control.observe(lambda _: self.redraw(), names="value")
        self.resample.on_click(lambda _: self.new_sample())
        self.widget = W.HBox([W.VBox([self.image, self.ops, self.strength, self.resample]), self.picture])
        self.redraw()

    def new_sample(self) -> None:
        self.seed += 1
        self.redraw()

    def redraw(self) -> None:
        image = self.images[self.image.value]
        self.views = augmentation_views(image, self.ops.value, self.strength.value, self.n_views,
                                        self.seed, self.size)
        scale = max(1, 96 // self.views.shape[-1])
        self.picture.value = png_of_images(self.views, ncols=int(self.n_views ** 0.5 + 0.5), scale=scale)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
