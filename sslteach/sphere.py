"""Alignment and uniformity: Wang & Isola's two diagnostics of projections on the unit sphere.

A contrastive loss such as InfoNCE (:mod:`sslteach.contrastive`) does two things at once: it pulls
the two views of an image together (*alignment*: their mean distance, lower is better) and spreads
all the points evenly over the unit sphere (*uniformity*: the log of a Gaussian potential over the
pairs, lower is better). Measuring both separately shows which of the two a run achieves::

    alignment(z1, z2)                               # in [0, 4] for alpha = 2; 0: views coincide
    uniformity(torch.cat([z1, z2]))                 # 0 for collapse, more negative as points spread

Both measure points on the unit sphere, where a zero vector has no place: they refuse all-zero
rows with a ValueError (a dead output would otherwise score a perfect alignment or uniformity).

- Wang & Isola, Understanding Contrastive Representation Learning through Alignment and
  Uniformity on the Hypersphere, 2020.
"""
from __future__ import annotations

import math

import torch

from .utils import check_number, unit_rows
from .views import check_projections, check_views


def _on_the_sphere(z: torch.Tensor, name: str, what: str) -> torch.Tensor:
    """``unit_rows(z)``, refusing all-zero rows: the sphere diagnostics are undefined for them."""
    zero = z.detach().abs().amax(dim=1) == 0                       # (N,) rows without a direction
    if bool(zero.any()):
        rows = zero.nonzero().flatten().tolist()
        if len(rows) == len(z):
            raise ValueError(f"{what} got a dead output: every row of {name} is 0. A zero vector has no "
                             f"direction, so it has no point on the unit sphere; a network that outputs 0 "
                             f"for every input has collapsed (the worst case, not a perfect score). Check "
                             f"the encoder and head: a ReLU as the last layer, a learning rate too high, "
                             f"weights that became 0")
        shown = f"{rows[:5]}"[:-1] + (", ...]" if len(rows) > 5 else "]")
        raise ValueError(f"{what} measures points on the unit sphere, but {len(rows)} of the {len(z)} rows "
                         f"of {name} {'is' if len(rows) == 1 else 'are'} all zeros (rows {shown}), and a zero "
                         f"vector has no direction; drop those rows, or find why the network outputs 0 for "
                         f"those inputs")
    return unit_rows(z)


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """Mean distance between the two views of each image, on the unit sphere (lower is better).

    ``align = 1/N Σ_i ‖ẑ1_i - ẑ2_i‖^α`` with ``ẑ = z / ‖z‖``; ranges over [0, 2^α].

    Args:
        z1, z2: (N, D) projections of the two views, no row all zeros.
        alpha: exponent α > 0.

    Returns:
        Scalar tensor (float32, or float64 for float64 inputs).

    Raises:
        ValueError: a row is all zeros. It has no direction, hence no point on the sphere; a dead
            output (every row 0) would otherwise score a perfect 0.

    - Wang & Isola, Understanding Contrastive Representation Learning through Alignment and
      Uniformity on the Hypersphere, 2020.
    """
    check_views(z1, z2, min_n=1)
    alpha = check_number(alpha, "alpha", low=0, low_open=True, hint="Wang & Isola use alpha=2")
    u1, u2 = _on_the_sphere(z1, "z1", "alignment"), _on_the_sphere(z2, "z2", "alignment")  # (N, D) each
    return (u1 - u2).norm(dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2) -> torch.Tensor:
    """How evenly the vectors spread over the unit sphere (lower is better).

    ``unif = log  1/P Σ_{i<j} exp(-t ‖ẑ_i - ẑ_j‖²)`` over the P = N(N-1)/2 distinct pairs; 0 when
    all vectors coincide (collapse), more negative as they spread out. Uses
    ``‖ẑ_i - ẑ_j‖² = 2 - 2 ẑ_iᵀẑ_j`` and a log-sum-exp, so it is stable and its gradient stays
    finite even for identical vectors (where ``torch.pdist``'s square root has none).

    Args:
        z: (N, D) vectors, N >= 2, no row all zeros (e.g. ``z1``, or ``torch.cat([z1, z2])``).
        t: scale t > 0.

    Returns:
        Scalar tensor (float32, or float64 for float64 inputs).

    Raises:
        ValueError: a row is all zeros (no direction); a dead output (every row 0) would otherwise
            score -2t, as if spread perfectly.

    - Wang & Isola, 2020 (as in :func:`alignment`).
    """
    check_projections(z, "z")
    if len(z) < 2:
        raise ValueError(f"uniformity needs N >= 2 vectors (it averages over pairs), got shape "
                         f"{tuple(z.shape)}; pass a whole batch, e.g. torch.cat([z1, z2])")
    t = check_number(t, "t", low=0, low_open=True, hint="Wang & Isola use t=2")
    u = _on_the_sphere(z, "z", "uniformity")                    # (N, D)
    sq_dist = (2 - 2 * u @ u.T).clamp_min(0)                    # (N, N) squared distances
    i, j = torch.triu_indices(len(u), len(u), offset=1, device=u.device)  # distinct pairs i < j
    return torch.logsumexp(-t * sq_dist[i, j], dim=0) - math.log(len(i))
