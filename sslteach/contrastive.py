"""Contrastive learning: the InfoNCE / NT-Xent loss, its accuracy, and SimCLR.

Two views ``x1, x2`` of the same N images go through one network to projections ``z1, z2``
(N, D). Of the 2N views, each one's other view is its *positive*; the remaining 2N - 2 views are
its *negatives*. InfoNCE is a 2N-way classification: "which candidate is my positive?"::

    loss = info_nce(z1, z2, temperature=0.5)        # vectorised, what training uses
    info_nce_loop(z1, z2, 0.5)                      # the same number, from the formula, slowly
    contrastive_accuracy(z1, z2)                    # how often the positive is the top candidate
    anchor_distribution(z1, z2, anchor=0)           # one view's softmax over its 2N - 1 candidates

Views are numbered as in ``torch.cat([z1, z2])``: view ``i < N`` is ``z1[i]``, view ``N + i`` is
``z2[i]``, and the positive of view ``i`` is view ``(i + N) % 2N``. Wang & Isola's two
diagnostics of the learned points, ``alignment`` and ``uniformity``, are :mod:`sslteach.sphere`;
the input checks shared with the other two-view methods are :mod:`sslteach.views`.

Only directions count: every function divides each row by its length first (:func:`unit_rows`,
safe for rows of any length). An all-zero row has no direction, so its cosine similarity is
undefined. The InfoNCE functions here give it similarity 0 with every view, as
``F.cosine_similarity`` does, so a training step never stops on one; a dead output (every row 0)
then scores the collapse value ``log(2N - 1)``, the worst case.

- Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020.
- van den Oord et al., Representation Learning with Contrastive Predictive Coding, 2018.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .batches import as_float_images
from .distributed import info_nce_distributed, world_size
from .models import ConvEncoder, ProjectionHead
from .utils import check_number, unit_rows
from .views import check_augment, check_views, checked_views


def _check_temperature(temperature):
    """``temperature`` as a float (a one-element tensor stays a tensor: a learnable τ keeps its grad)."""
    value = check_number(temperature, "temperature", low=0, low_open=True,
                         hint="typical values are 0.05 to 1")
    return temperature if torch.is_tensor(temperature) else value


def _unit_views(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """:func:`unit_rows` of ``cat([z1, z2])``: (2N, D)."""
    return unit_rows(torch.cat([z1, z2]))


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent, SimCLR's InfoNCE loss over the 2N views, as a cross-entropy over similarities.

    With ``sim(u, v) = uᵀv / (‖u‖‖v‖)``, view i and its positive j(i)::

        ℓ(i) = -log  exp(sim(z_i, z_j(i)) / τ) / Σ_{k≠i} exp(sim(z_i, z_k) / τ)
             = cross_entropy(logits_i, target=j(i)),   logits_ik = sim(z_i, z_k) / τ, logits_ii = -∞
        L    = 1/(2N) Σ_i ℓ(i)

    so the loss is one (2N, 2N) matrix product and ``F.cross_entropy`` (whose log-sum-exp is
    numerically stable). The diagonal is masked with the most negative float instead of -inf, so no
    ``inf - inf`` can make a NaN. The computation runs in float32 (float64 inputs stay float64) with
    autocast off: finite values and gradients for τ from 0.01 to 10, also for bfloat16 inputs. The
    loss does not depend on the length of each row, and rows of any length (1e-30 to 1e30 in
    float32) are normalised without overflow or underflow (:func:`unit_rows`); an all-zero row has
    similarity 0 with every view (module docstring).

    Args:
        z1: (N, D) projections of the first views; N >= 2.
        z2: (N, D) projections of the second views (row i is the other view of image i).
        temperature: τ > 0; small τ sharpens the softmax and weighs hard negatives more.

    Returns:
        Scalar loss (float32, or float64 for float64 inputs); ``log(2N - 1)`` when all views
        coincide, near 0 when each view is far closer to its positive than to anything else.

    Examples:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> info_nce(z1, z2).shape
        torch.Size([])
    """
    check_views(z1, z2)
    temperature = _check_temperature(temperature)
    n = z1.shape[0]
    with torch.autocast(z1.device.type, enabled=False):
        z = _unit_views(z1, z2)                                  # (2N, D)
        logits = z @ z.T / temperature                           # (2N, 2N) cosine similarity / τ
        logits.fill_diagonal_(torch.finfo(logits.dtype).min)     # a view is not its own candidate
        target = (torch.arange(2 * n, device=z.device) + n) % (2 * n)  # (2N,) index of each positive
        return F.cross_entropy(logits, target)                   # mean over the 2N anchors


def info_nce_loop(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent written straight from the SimCLR paper's formula, one scalar at a time.

    The paper numbers the views 1..2N with pairs (2k-1, 2k)::

        ℓ(i, j) = -log  exp(sim(z_i, z_j) / τ) / Σ_{k=1..2N, k≠i} exp(sim(z_i, z_k) / τ)
        L       = 1/(2N) Σ_{k=1..N} [ℓ(2k-1, 2k) + ℓ(2k, 2k-1)]

    For teaching and testing only: O(N²) Python steps, and no overflow guard (in float32,
    ``exp(1 / τ)`` overflows for τ below 1 / 88.7 ≈ 0.0113; use float64). Equals :func:`info_nce`
    (same view order up to a relabelling, which does not change the mean), also for all-zero rows
    (similarity 0).

    Args:
        z1, z2: (N, D) projections of the two views; N >= 2.
        temperature: τ > 0.

    Returns:
        Scalar loss, differentiable.
    """
    check_views(z1, z2)
    n, tau = z1.shape[0], _check_temperature(temperature)
    dtype = torch.promote_types(z1.dtype, torch.float32)  # bfloat16/float16 -> float32
    z = [v.to(dtype) for k in range(n) for v in (z1[k], z2[k])]  # 0-based: views 2k, 2k+1 are a pair

    def unit(v):  # v / ‖v‖; dividing by max |v_d| first keeps ‖v‖ in range; the zero vector stays 0
        m = v.detach().abs().max()
        v = v / m if m > 0 else v
        return v / v.norm() if m > 0 else v

    def sim(u, v):  # cosine similarity; 0 when u or v is the zero vector (it has no direction)
        return torch.dot(unit(u), unit(v))

    def ell(i, j):
        numerator = torch.exp(sim(z[i], z[j]) / tau)
        denominator = sum(torch.exp(sim(z[i], z[k]) / tau) for k in range(2 * n) if k != i)
        return -torch.log(numerator / denominator)

    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


@torch.no_grad()
def contrastive_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of the InfoNCE task: fraction of the 2N views whose most similar other
    view (cosine similarity) is its positive.

    Args:
        z1, z2: (N, D) projections of the two views; N >= 2.

    Returns:
        Scalar float tensor in [0, 1]; chance level is 1 / (2N - 1). Ties (e.g. a collapsed
        output) go to the lowest view index, so a collapse scores about chance.
    """
    check_views(z1, z2)
    n = z1.shape[0]
    with torch.autocast(z1.device.type, enabled=False):
        z = _unit_views(z1, z2)                                 # (2N, D)
        sim = z @ z.T                                           # (2N, 2N)
    sim.fill_diagonal_(-math.inf)                               # never pick yourself
    target = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return (sim.argmax(dim=1) == target).float().mean()


class AnchorDistribution(NamedTuple):
    """One anchor view's view of the InfoNCE task (see :func:`anchor_distribution`)."""
    probs: torch.Tensor       # (2N-1,) softmax of sims / τ: the probability of "this is my positive"
    sims: torch.Tensor        # (2N-1,) cosine similarity of the anchor to each candidate
    candidates: torch.Tensor  # (2N-1,) index of each candidate among the 2N views (anchor left out)
    positive: int             # position of the anchor's positive in the candidate list
    p_positive: float         # probs[positive]
    loss: float               # -log p_positive: the anchor's term in info_nce


@torch.no_grad()
def anchor_distribution(z1: torch.Tensor, z2: torch.Tensor, anchor: int = 0,
                        temperature: float = 0.5) -> AnchorDistribution:
    """Softmax over the 2N - 1 candidates of one anchor view: what the temperature widget draws.

    High τ spreads the probability over all candidates; low τ puts nearly all of it on the most
    similar candidate (the positive, or else the hardest negative). The mean of ``loss`` over all
    2N anchors equals :func:`info_nce`.

    Args:
        z1, z2: (N, D) projections of the two views; N >= 2.
        anchor: index of the anchor among the 2N views (``i < N``: ``z1[i]``; else ``z2[i - N]``).
        temperature: τ > 0.

    Returns:
        An :class:`AnchorDistribution`.
    """
    check_views(z1, z2)
    temperature = _check_temperature(temperature)
    n = z1.shape[0]
    anchor = check_number(anchor, "anchor", low=0, high=2 * n - 1, integer=True,
                          hint=f"the index of a view among the 2N = {2 * n}: i < N is z1[i], N + i is z2[i]")
    z = _unit_views(z1, z2)                                     # (2N, D)
    views = torch.arange(2 * n, device=z.device)
    candidates = views[views != anchor]                         # (2N-1,) every view but the anchor
    sims = z[candidates] @ z[anchor]                            # (2N-1,)
    log_probs = F.log_softmax(sims / temperature, dim=0)        # (2N-1,)
    pos_view = (anchor + n) % (2 * n)
    positive = pos_view - (pos_view > anchor)                   # shift left past the removed anchor
    return AnchorDistribution(probs=log_probs.exp(), sims=sims, candidates=candidates,
                              positive=positive, p_positive=log_probs[positive].exp().item(),
                              loss=-log_probs[positive].item())


class SimCLR(nn.Module):
    """SimCLR's network: encoder ``f`` and projection head ``g``; the loss lives in :func:`info_nce`.

    ``h = f(x)`` is the representation kept for downstream tasks; ``z = g(h)`` exists only for
    the contrastive loss (SimCLR found h transfers better than z).

    Args:
        encoder: maps images (N, C, H, W) in [0, 1] to h (N, feature_dim); default ``ConvEncoder()``.
        out_dim: width D of z.
        hidden_dim: hidden width of the head (default: feature_dim).
        feature_dim: width of h, needed only when the encoder has no ``feature_dim`` attribute.

    Examples:
        >>> model = SimCLR(ConvEncoder())
        >>> h, z = model(torch.rand(4, 3, 32, 32))      # h: (4, 256), z: (4, 128)

    - Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020.
    """

    def __init__(self, encoder: nn.Module | None = None, out_dim: int = 128,
                 hidden_dim: int | None = None, feature_dim: int | None = None):
        super().__init__()
        if encoder is not None and not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module (e.g. ConvEncoder()), "
                            f"got {type(encoder).__name__}")
        self.encoder = encoder if encoder is not None else ConvEncoder()
        feature_dim = feature_dim if feature_dim is not None else getattr(self.encoder, "feature_dim", None)
        if feature_dim is None:
            raise ValueError("cannot tell the width of h: pass feature_dim=... (the encoder's output width)")
        feature_dim = check_number(feature_dim, "feature_dim", low=1, integer=True)
        out_dim = check_number(out_dim, "out_dim", low=1, integer=True, hint="the width D of z, e.g. 128")
        if hidden_dim is not None:
            hidden_dim = check_number(hidden_dim, "hidden_dim", low=1, integer=True)
        self.head = ProjectionHead(feature_dim, hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (N, feature_dim) representation
        z = self.head(h)     # (N, out_dim) projection, fed to the loss only
        return h, z


def simclr_step(augment: Callable, temperature: float = 0.5) -> Callable:
    """Build the SimCLR training step for :func:`sslteach.train.fit`.

    Args:
        augment: any callable ``x -> (x1, x2)`` giving two random views of a float batch in
            [0, 1] (e.g. ``sslteach.augment.TwoViews``); both views must have the same shape.
        temperature: τ of :func:`info_nce`.

    Returns:
        ``step(model, batch) -> (loss, {"acc": contrastive accuracy})`` for a :class:`SimCLR`
        model; ``batch`` is images (N, C, H, W), uint8 or float in [0, 1], or a tuple whose
        first item is the images (labels are ignored). Under torchrun the loss is
        :func:`sslteach.distributed.info_nce_distributed`: the views of every process are negatives.

    Examples:
        >>> step = simclr_step(TwoViews(simclr_augment(32)), temperature=0.2)
        >>> history = fit(SimCLR(), step, TensorLoader(images, batch_size=256, drop_last=True), opt)
    """
    check_augment(augment)
    temperature = _check_temperature(temperature)

    def step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        x = as_float_images(batch)                   # (N, C, H, W) in [0, 1]; labels unused
        x1, x2 = checked_views(augment(x))           # two random views: (N, C, H, W) each
        _, z = model(torch.cat([x1, x2]))            # (2N, D): one pass, BatchNorm sees both views
        z1, z2 = z.chunk(2)                          # (N, D) each; z1[i], z2[i] are positives
        if world_size() > 1:                         # torchrun: every process's views are negatives too
            loss = info_nce_distributed(z1, z2, temperature)
        else:
            loss = info_nce(z1, z2, temperature)     # -log softmax(sim/τ)[positive], mean over 2N
        return loss, {"acc": contrastive_accuracy(z1, z2)}

    return step
