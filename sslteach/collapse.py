"""Collapse diagnostics: is the network giving every image (nearly) the same output?

Methods without negatives (BYOL and SimSiam in :mod:`sslteach.siamese`, Barlow Twins in
:mod:`sslteach.barlow`) could solve their task with one constant output for every image. Such
*complete collapse* shows in :func:`output_std` (-> 0). Subtler, *dimensional collapse* leaves the
outputs in a few directions of z only: the embedding spectrum (:func:`singular_values`) and
:func:`effective_rank` show it::

    output_std(z) * D ** 0.5                # about 1 when healthy, 0 for complete collapse
    effective_rank(z)                       # between 1 (one direction) and min(N, D)

- Chen & He, Exploring Simple Siamese Representation Learning, 2021.
- Jing et al., Understanding Dimensional Collapse in Contrastive Self-supervised Learning, 2022.
- Roy & Vetterli, The Effective Rank: a Measure of Effective Dimensionality, 2007.
"""
from __future__ import annotations

import math

import torch

from .utils import unit_rows
from .views import check_projections


@torch.no_grad()
def output_std(z: torch.Tensor) -> torch.Tensor:
    """SimSiam's collapse metric: the std over the batch of the L2-normalised rows, averaged over D.

    About ``1/sqrt(D)`` for outputs spread evenly over the sphere (exactly so in expectation of the
    variance for an isotropic Gaussian), 0 for complete collapse (every row one direction). Blind to
    dimensional collapse onto a few directions: see :func:`singular_values`.

    Args:
        z: (N, D) outputs, N >= 2. An all-zero row counts as the zero vector.

    Returns:
        Scalar float32 tensor; multiply by ``sqrt(D)`` for a 0..1 scale.

    - Chen & He, Exploring Simple Siamese Representation Learning, 2021 (section 4).
    """
    check_projections(z, "z", min_n=2, why=" (a standard deviation over the batch)")
    with torch.autocast(z.device.type, enabled=False):
        return unit_rows(z).std(dim=0).mean().float()             # std over N, mean over D


@torch.no_grad()
def singular_values(z: torch.Tensor) -> torch.Tensor:
    """The embedding spectrum: singular values of the centred ``z``, divided by sqrt(N), descending.

    ``s_k`` is the standard deviation of z along its k-th principal axis (the square root of the
    k-th eigenvalue of the biased covariance), in z's units; divide by ``s[0]`` for a scale-free
    plot. An isotropic cloud gives a flat spectrum, a cloud in an r-dimensional subspace exactly r
    non-zero values, a constant output all zeros. Values below the rounding level of z's dtype
    (``eps · ‖z‖_F``: rounding every entry of z moves no singular value by more, Weyl's inequality)
    are set to 0. Computed in float64 on the CPU.

    Args:
        z: (N, D) outputs, N >= 1.

    Returns:
        float32 CPU tensor (min(N, D),).

    - Jing et al., Understanding Dimensional Collapse in Contrastive Self-supervised Learning, 2022.
    """
    check_projections(z, "z", min_n=1)
    tol = torch.finfo(z.dtype).eps                                 # bfloat16 (training under autocast): 2^-7
    z = z.detach().to("cpu", torch.float64)
    s = torch.linalg.svdvals(z - z.mean(dim=0))                  # (min(N, D),) descending
    s = torch.where(s > tol * z.norm(), s, torch.zeros_like(s))
    return (s / math.sqrt(len(z))).float()


@torch.no_grad()
def effective_rank(z: torch.Tensor) -> torch.Tensor:
    """``exp(H(p))`` with ``p_k = s_k / Σ s`` the normalised :func:`singular_values`.

    Between 1 (one direction) and min(N, D) (all equally used); exactly r for r equal singular
    values; 0 for a constant output (no spread at all). Scale-free: complete collapse plus tiny noise
    still looks high rank, so read it with :func:`output_std`.

    - Roy & Vetterli, The Effective Rank: a Measure of Effective Dimensionality, 2007.
    """
    s = singular_values(z).double()
    if s.sum() == 0:
        return torch.zeros(())
    p = s[s > 0] / s.sum()
    return torch.exp(-(p * p.log()).sum()).float()
