"""BYOL and SimSiam: two branches and no negatives, with the switches that keep them from collapsing.

SimCLR (:mod:`sslteach.contrastive`) and MoCo (:mod:`sslteach.moco`) need negatives. BYOL and
SimSiam have none: the online branch predicts the target branch's projection of the other view,
the target being a slow EMA copy (BYOL, :func:`~sslteach.moco.ema_update`) or the online network
itself behind a stop-gradient (SimSiam)::

    BYOL         predict the projection of an EMA target, no negatives      Siamese(momentum=0.99)
    SimSiam      predict your own projection, stop-gradient, no negatives   Siamese(momentum=0)

Without negatives, one constant output for every image is a perfect solution: *collapse*.
:mod:`sslteach.collapse` measures it, and :func:`siamese_step` logs it at every step. Barlow Twins,
which rules collapse out by decorrelating the outputs instead, is :mod:`sslteach.barlow`.

- Grill et al., Bootstrap Your Own Latent (BYOL), 2020.
- Chen & He, Exploring Simple Siamese Representation Learning (SimSiam), 2021.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .collapse import effective_rank, output_std
from .models import ProjectionHead
from .moco import ema_update, frozen_copy
from .utils import check_number, unit_rows
from .distributed import unwrap
from .views import check_augment, check_model, check_paired, feature_dim_of, two_views


def siamese_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor,
                 stop_gradient: bool = True) -> torch.Tensor:
    """Symmetric negative cosine similarity (SimSiam, Algorithm 1)::

        D(p, z) = −cos(p, z), mean over the batch
        L       = D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2          in [−1, 1]; −1: every p matches its z

    ``sg`` is stop-gradient (``detach``): the targets z are constants, so no gradient reaches the
    target branch. BYOL writes the same loss as the normalised MSE ``‖p̂ − ẑ‖² = 2 − 2 cos``: the
    mean of its two terms is ``2 + 2 L``, with the same minimiser and gradients up to a factor 2. We return SimSiam's form because
    its floor, −1, reads directly as "perfect agreement" (and, without negatives, possibly collapse).
    Float32 with autocast off; rows of any scale (:func:`sslteach.utils.unit_rows`).

    Args:
        p1, p2: (N, D) predictions from views 1 and 2 (online branch).
        z1, z2: (N, D) projections from views 1 and 2 (target branch).
        stop_gradient: detach z1, z2. False lets gradients flow into the target branch too.
    """
    check_paired({"p1": p1, "p2": p2, "z1": z1, "z2": z2}, min_n=1)
    if not isinstance(stop_gradient, bool):
        raise TypeError(f"stop_gradient must be True or False, got {stop_gradient!r}")
    if stop_gradient:
        z1, z2 = z1.detach(), z2.detach()                         # sg(z): targets are constants

    def d(p, z):                                                  # −cos(p_i, z_i), mean over i
        return -(unit_rows(p) * unit_rows(z)).sum(dim=1).mean()

    with torch.autocast(p1.device.type, enabled=False):
        return d(p1, z2) / 2 + d(p2, z1) / 2


class Siamese(nn.Module):
    """BYOL and SimSiam in one network, with the switches that separate them.

    Online branch: encoder -> projector -> predictor. Target branch: encoder -> projector, either the
    online ones themselves (``momentum=0``: SimSiam, weights shared) or an EMA copy (``momentum>0``:
    BYOL). The projector is BYOL's 2-layer Linear-BN-ReLU-Linear (SimSiam's 3-layer one is for
    ResNet-50 on ImageNet); the predictor a Linear-BN-ReLU-Linear bottleneck (``pred_hidden`` < D, as
    SimSiam's 2048-512-2048). Defaults (256-wide z, 512 hidden, 64 bottleneck) are small for 32x32
    images on a CPU; the heads cost little next to the encoder.

    ``output_bn=True`` adds SimSiam's BatchNorm (no affine) on the projector's output. It forbids
    *complete* collapse (each dimension of z is standardised over the batch), so without
    stop-gradient the output then collapses onto a few dimensions instead of one point:
    :func:`effective_rank` shows it, :func:`output_std` barely does. Off by default, so that the
    no-stop-gradient run shows the textbook collapse (``output_std`` -> 0, loss -> -1).

    Args:
        encoder: maps images to h (N, feature_dim), e.g. ``ConvEncoder(downsample="pool")``.
        out_dim, hidden_dim: width D of z and of the projector's hidden layer.
        pred_hidden: the predictor's bottleneck width.
        predictor: False puts an Identity in its place (SimSiam and BYOL then collapse).
        stop_gradient: read at every step (it can be flipped mid-training). False needs
            ``momentum=0``: an EMA target has no gradient to stop.
        momentum: 0 for SimSiam; BYOL's EMA momentum in (0, 1] otherwise (1: a frozen random target;
            BYOL with m = 0 would be SimSiam). Fixed at construction (it decides whether a target
            copy exists).
        output_bn: BatchNorm on the projector's output (see above).

    Examples:
        >>> simsiam = Siamese(ConvEncoder())                  # stop-gradient + predictor
        >>> byol = Siamese(ConvEncoder(), momentum=0.99)
        >>> collapse = Siamese(ConvEncoder(), stop_gradient=False)
    """

    def __init__(self, encoder: nn.Module, out_dim: int = 256, hidden_dim: int = 512, pred_hidden: int = 64,
                 predictor: bool = True, stop_gradient: bool = True, momentum: float = 0.0,
                 output_bn: bool = False):
        super().__init__()
        for name, flag in (("predictor", predictor), ("stop_gradient", stop_gradient), ("output_bn", output_bn)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.momentum = check_number(momentum, "momentum", low=0, high=1,
                                     hint="0 for SimSiam (shared weights), 0.99 for BYOL (an EMA target)")
        if not stop_gradient and self.momentum > 0:
            raise ValueError(f"stop_gradient=False with momentum={momentum}: an EMA target gets no gradient "
                             f"anyway, so there is nothing to stop; use momentum=0 (SimSiam's shared weights) to "
                             f"see what stop-gradient does")
        self.encoder = encoder
        out_bn = [nn.BatchNorm1d(out_dim, affine=False)] if output_bn else []  # SimSiam's output BN
        self.projector = nn.Sequential(ProjectionHead(feature_dim_of(encoder), hidden_dim, out_dim), *out_bn)
        self.predictor = ProjectionHead(out_dim, check_number(pred_hidden, "pred_hidden", low=1, integer=True),
                                        out_dim) if predictor else nn.Identity()
        self.stop_gradient = stop_gradient
        if self.momentum > 0:                                                   # BYOL's slow target
            self.target_encoder, self.target_projector = frozen_copy(encoder), frozen_copy(self.projector)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)                   # (N, feature_dim)
        return h, self.projector(h)           # (N, D) online projections z

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The EMA target's projections (N, D) (BYOL only; SimSiam's target is ``forward``)."""
        if self.momentum == 0:
            raise ValueError("a Siamese model with momentum=0 shares its weights: its target is model(x)[1]")
        return self.target_projector(self.target_encoder(x))


def siamese_step(augment: Callable) -> Callable:
    """Build the SimSiam / BYOL training step for :func:`sslteach.train.fit`.

    Both views go through one pass (BatchNorm sees both, as in ``simclr_step``); with momentum > 0
    the EMA target is first updated, then computes the targets without gradient.

    Returns:
        ``step(model, batch) -> (loss, {"std": output_std(z1), "erank": effective_rank(z1)})`` for a
        :class:`Siamese` model; ``std · sqrt(D)`` near 1 is healthy, near 0 complete collapse.
    """
    check_augment(augment)

    def step(model: Siamese, batch) -> tuple[torch.Tensor, dict]:
        net = unwrap(model)                                       # under torchrun: the Siamese inside DDP
        check_model(net, Siamese, "Siamese(ConvEncoder())")
        x1, x2 = two_views(augment, batch)
        x = torch.cat([x1, x2])                                   # (2N, C, H, W)
        if net.momentum > 0:
            ema_update(net.target_encoder, net.encoder, net.momentum)
            ema_update(net.target_projector, net.projector, net.momentum)
        _, z = model(x)                                           # (2N, D) online projections (DDP's forward)
        p = net.predictor(z)                                      # (2N, D) predictions
        t = z if net.momentum == 0 else net.target(x)             # (2N, D) targets: shared or EMA
        (p1, p2), (t1, t2) = p.chunk(2), t.chunk(2)
        loss = siamese_loss(p1, p2, t1, t2, net.stop_gradient)
        z1 = z[:len(x1)]
        return loss, {"std": output_std(z1), "erank": effective_rank(z1)}

    return step
