"""Barlow Twins: make the cross-correlation of the two views' outputs the identity matrix.

No negatives (as BYOL and SimSiam, :mod:`sslteach.siamese`), and no predictor or momentum target
either: the loss itself rules collapse out. Each output dimension must agree across the two views
(the diagonal of the cross-correlation matrix near 1) and different dimensions must be
uncorrelated (the off-diagonal near 0), which a constant output cannot satisfy::

    c = cross_correlation(z1, z2)           # (D, D), entries in [-1, 1]
    loss = barlow_twins_loss(z1, z2)        # Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²

- Zbontar et al., Barlow Twins: Self-Supervised Learning via Redundancy Reduction, 2021.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .collapse import output_std
from .models import ProjectionHead
from .utils import check_number
from .distributed import gather, unwrap
from .views import check_augment, check_model, check_paired, feature_dim_of, two_views


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Barlow Twins' (D, D) cross-correlation ``C = z1nᵀ z2n / N`` of the batch-standardised outputs.

    Each dimension is standardised over the batch: ``(z − mean) / sqrt(var + eps)`` with the biased
    variance, as the paper's code does with ``BatchNorm1d(affine=False)``, so ``C_ii = 1`` when
    ``z1 = z2`` (up to eps). (Its pseudocode writes ``z.std(0)``, the unbiased one: C_ii would be
    (N−1)/N.) Each column is first divided by its largest ``|value|`` (a constant), so no scale
    overflows float32 and eps is relative: a dimension whose spread is below about
    ``sqrt(eps) · max|z|`` counts as constant, and a constant dimension standardises to 0 (its
    C_ii = 0). Float32, autocast off.

    Args:
        z1, z2: (N, D) projections of the two views, N >= 2.
        eps: > 0, added to each rescaled variance (BatchNorm's 1e-5 is for variances near 1; ours
            are about 1/16 for Gaussian columns, as the largest value is ~4 standard deviations).

    Returns:
        (D, D) tensor, entries in [−1, 1]; ``C_ij`` is the correlation of dimension i of z1 with
        dimension j of z2 over the batch.
    """
    check_paired({"z1": z1, "z2": z2}, min_n=2, why=" (each dimension is standardised over the batch)")
    eps = check_number(eps, "eps", low=0, low_open=True, hint="a small number, e.g. 1e-8")

    def standardise(z):                                           # (N, D), each column mean 0, std 1
        z = z.to(torch.promote_types(z.dtype, torch.float32))
        scale = z.detach().abs().amax(dim=0)                      # (D,), a constant for autograd
        z = z / torch.where(scale > 0, scale, torch.ones_like(scale))  # entries in [-1, 1]: no overflow
        z = z - z.mean(dim=0)                                     # (N, D) centred
        return z / (z.pow(2).mean(dim=0) + eps).sqrt()            # biased variance, as BatchNorm

    with torch.autocast(z1.device.type, enabled=False):
        return standardise(z1).T @ standardise(z2) / len(z1)      # (D, D)


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float | None = None) -> torch.Tensor:
    """``L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²`` with ``C = cross_correlation(z1, z2)``.

    The first term makes each dimension agree across the views (invariance), the second
    decorrelates the dimensions (redundancy reduction): a collapsed output cannot satisfy both.

    λ: the paper uses 5e-3 for D = 8192. The off-diagonal sum has D(D − 1) terms against the
    diagonal's D, so λ must shrink as D grows; the default λ = 1/D (Tsai et al., 2021, "A Note on
    Connecting Barlow Twins with Negative-Sample-Free Contrastive Learning") keeps the two terms
    of one order for the small D used here.

    Args:
        z1, z2: (N, D) projections of the two views, N >= 2.
        lambd: λ >= 0 (``lambda`` is a Python keyword); None for 1/D.

    Returns:
        Scalar loss (a sum over D² terms: not divided by D, as in the paper).
    """
    c = cross_correlation(z1, z2)                                 # (D, D), checks z1, z2
    lambd = 1 / c.shape[0] if lambd is None else check_number(lambd, "lambd", low=0,
                                                                hint="None uses 1/D; the paper 5e-3 for D = 8192")
    diag = c.diagonal()                                           # (D,)
    off = c.pow(2).sum() - diag.pow(2).sum()                      # Σ_{i≠j} C_ij²
    return (1 - diag).pow(2).sum() + lambd * off


class BarlowTwins(nn.Module):
    """Barlow Twins' network: encoder and a Linear-BN-ReLU-Linear projector (the loss standardises z).

    Args:
        encoder: maps images to h (N, feature_dim).
        out_dim, hidden_dim: width D of z (the side of the cross-correlation matrix) and hidden width.
    """

    def __init__(self, encoder: nn.Module, out_dim: int = 256, hidden_dim: int = 512):
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(feature_dim_of(encoder), hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)                   # (N, feature_dim)
        return h, self.projector(h)           # (N, D)


def barlow_step(augment: Callable, lambd: float | None = None) -> Callable:
    """Build the Barlow Twins step for :func:`sslteach.train.fit`: one pass over both views, then
    :func:`barlow_twins_loss`. Returns ``(loss, {"diag": mean C_ii, "std": output_std(z1)})``.

    Under torchrun the loss standardises and correlates the outputs of the global batch, gathered
    from every process with gradients (:func:`sslteach.distributed.gather`): every process computes
    the same loss, and DDP's average of their gradients is the gradient of one process on the
    global batch (the argument of :mod:`sslteach.distributed`'s docstring)."""
    check_augment(augment)
    if lambd is not None:
        check_number(lambd, "lambd", low=0, hint="None uses 1/D; the paper 5e-3 for D = 8192")

    def step(model: BarlowTwins, batch) -> tuple[torch.Tensor, dict]:
        check_model(unwrap(model), BarlowTwins, "BarlowTwins(ConvEncoder())")
        x1, x2 = two_views(augment, batch)
        _, z = model(torch.cat([x1, x2]))                         # (2N, D)
        z1, z2 = z.chunk(2)                                       # (N, D) each
        loss = barlow_twins_loss(gather(z1), gather(z2), lambd)   # under torchrun: the global batch (W·N, D)
        with torch.no_grad():
            diag = cross_correlation(z1, z2).diagonal().mean()
        return loss, {"diag": diag, "std": output_std(z1)}

    return step
