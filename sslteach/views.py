"""Two views and their projections: the input checks every two-view method shares.

SimCLR (:mod:`sslteach.contrastive`), Wang & Isola's diagnostics (:mod:`sslteach.sphere`), MoCo
(:mod:`sslteach.moco`), BYOL and SimSiam (:mod:`sslteach.siamese`), Barlow Twins
(:mod:`sslteach.barlow`) and the collapse diagnostics (:mod:`sslteach.collapse`) all take
projections ``z`` (N, D) whose row i comes from image i, and their training steps all turn a batch
into two augmented views ``x1, x2``. The checks live here once, so every method refuses a bad input
with the same sentence: what was expected, what came, and how to fix it.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .batches import as_float_images
from .utils import check_finite


def check_projections(z, name: str, min_n: int = 0, why: str = "") -> torch.Tensor:
    """``z`` after checking: a finite float tensor (N, D), D >= 1, N >= ``min_n`` (``why`` says why)."""
    if not torch.is_tensor(z):
        raise TypeError(f"{name} must be a tensor of projections (N, D), got {type(z).__name__}; "
                        f"convert with torch.as_tensor({name}, dtype=torch.float32)")
    if z.ndim != 2:
        raise ValueError(f"{name} must be a 2-D tensor of projections (N, D), got shape {tuple(z.shape)}; "
                         f"flatten feature maps first with {name}.flatten(1)")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got {z.dtype}; use {name}.float()")
    if z.shape[1] == 0:
        raise ValueError(f"{name} has shape {tuple(z.shape)}: each row needs at least D = 1 number")
    if len(z) < min_n:
        raise ValueError(f"{name} needs N >= {min_n} rows{why}, got shape {tuple(z.shape)}; use a larger "
                         f"batch (TensorLoader(..., drop_last=True) avoids a last batch of one)")
    return check_finite(z, name, "the network's output is NaN/inf: the training diverged (lower the learning "
                                 "rate, or reload a good checkpoint) or the input images hold NaN")


def check_paired(tensors: dict, min_n: int = 0, why: str = "") -> None:
    """Each of ``{name: z}`` checked by :func:`check_projections`; all of one shape and on one device
    (row i of each comes from image i)."""
    for name, z in tensors.items():
        check_projections(z, name, min_n, why)
    (n0, z0), *rest = tensors.items()
    for name, z in rest:
        if z.shape != z0.shape:
            raise ValueError(f"{n0} and {name} must have the same shape (row i of each comes from image i), "
                             f"got {tuple(z0.shape)} and {tuple(z.shape)}")
        if z.device != z0.device:
            raise ValueError(f"{n0} is on {z0.device} but {name} on {z.device}; move both to one device")


def check_views(z1: torch.Tensor, z2: torch.Tensor, min_n: int = 2) -> None:
    """The projections of the two views for an InfoNCE-style loss: paired, and N >= ``min_n`` pairs."""
    check_paired({"z1": z1, "z2": z2})
    if z1.shape[0] < min_n:
        raise ValueError(f"need N >= {min_n} pairs of views (with N = 1 a view has no negative), "
                         f"got N = {z1.shape[0]}; use a larger batch (TensorLoader(..., drop_last=True) "
                         f"avoids a last batch of one)")


def check_augment(augment) -> None:
    """A training step's ``augment`` must be a callable ``x -> (x1, x2)``."""
    if not callable(augment):
        raise TypeError(f"augment must be a callable x -> (x1, x2), got {type(augment).__name__}; "
                        f"e.g. TwoViews(simclr_augment(32))")


def checked_views(views) -> tuple[torch.Tensor, torch.Tensor]:
    """What an ``augment`` returned, as ``(x1, x2)``: two tensors of one shape, or a ValueError."""
    if not (isinstance(views, (tuple, list)) and len(views) == 2 and all(map(torch.is_tensor, views))
            and views[0].shape == views[1].shape):
        raise ValueError(f"augment must return two views (x1, x2) of one shape, got {_describe(views)}; "
                         f"wrap a one-view augmentation in TwoViews(...)")
    return views[0], views[1]


def two_views(augment: Callable, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views (N, C, H, W) each of a batch of at least 2 images (labels, if any, unused)."""
    x = as_float_images(batch)                              # (N, C, H, W) in [0, 1]
    if len(x) < 2:
        raise ValueError(f"a training step needs batches of at least 2 images (BatchNorm and the losses use "
                         f"batch statistics), got {len(x)}; use TensorLoader(..., drop_last=True)")
    return checked_views(augment(x))


def check_model(model, cls, example: str) -> None:
    """A training step built for ``cls`` refuses any other model, saying how to build the right one."""
    if not isinstance(model, cls):
        raise TypeError(f"this step trains a {cls.__name__} model, got {type(model).__name__}; build it with {example}")


def feature_dim_of(encoder) -> int:
    """The width of ``h = encoder(x)``, read from an sslteach Encoder's ``feature_dim``."""
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"encoder must be a torch.nn.Module (e.g. ConvEncoder()), got {type(encoder).__name__}")
    if getattr(encoder, "feature_dim", None) is None:
        raise ValueError(f"cannot tell the width of h: {type(encoder).__name__} has no feature_dim attribute; "
                         f"use an sslteach Encoder, or set encoder.feature_dim = <its output width>")
    return encoder.feature_dim


def _describe(views) -> str:
    if isinstance(views, (tuple, list)):
        parts = [tuple(v.shape) if torch.is_tensor(v) else type(v).__name__ for v in views]
        return f"{type(views).__name__} of {parts}"
    return f"a {type(views).__name__}" + (f" of shape {tuple(views.shape)}" if torch.is_tensor(views) else "")
