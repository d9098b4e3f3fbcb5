"""MoCo: negatives from a queue of keys, made by a slow (momentum) copy of the network.

SimCLR (:mod:`sslteach.contrastive`) takes its negatives from the batch, so it needs large
batches. MoCo keeps the keys of earlier batches in a first-in-first-out queue (:class:`KeyQueue`)
and makes them with a key encoder that follows the query encoder slowly (:func:`ema_update`, which
BYOL's target in :mod:`sslteach.siamese` uses too)::

    model = MoCo(ConvEncoder(downsample="pool"), queue_size=4096, momentum=0.99)
    history = fit(model, moco_step(TwoViews(simclr_augment(32))), loader, optimizer)
    loss = moco_loss(q, k, model.queue)     # InfoNCE: each query's own key against the queue

- He et al., Momentum Contrast for Unsupervised Visual Representation Learning, 2020.
- Chen et al., Improved Baselines with Momentum Contrastive Learning (MoCo v2), 2020.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import gather_keys, unwrap
from .models import ProjectionHead
from .utils import check_number, unit_rows
from .views import check_augment, check_model, check_paired, check_projections, feature_dim_of, two_views


# ---- the momentum (EMA) target -------------------------------------------------------------------

@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """Move ``target`` a step towards ``online``, in place: ``θ_t ← m θ_t + (1 − m) θ_o``.

    Parameters follow the exponential moving average; buffers (BatchNorm running statistics) are
    copied from ``online``. ``m = 0`` makes ``target`` an exact copy; ``m = 1`` leaves its parameters
    unchanged (a frozen target).

    Args:
        target: the slow network, made by ``copy.deepcopy(online)`` (same architecture).
        online: the network the optimizer trains.
        momentum: m in [0, 1]; MoCo uses 0.999 and BYOL 0.996 over long runs, 0.99 suits a short one.
    """
    for name, net in (("target", target), ("online", online)):
        if not isinstance(net, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(net).__name__}")
    m = check_number(momentum, "momentum", low=0, high=1, hint="0 copies the online network, 1 freezes the "
                                                               "target; 0.99 is usual for a short run")
    pairs = []
    for kind in ("parameters", "buffers"):
        t, o = dict(getattr(target, f"named_{kind}")()), dict(getattr(online, f"named_{kind}")())
        if t.keys() != o.keys() or any(t[k].shape != o[k].shape for k in t):
            raise ValueError(f"target and online have different {kind}: the target must be a copy of the online "
                             f"network (copy.deepcopy(online)), with the same architecture")
        pairs.append([(t[k], o[k]) for k in t])
    if any(pt is po for pt, po in pairs[0]):
        raise ValueError("target shares its parameters with online, so it cannot lag behind it; make the target "
                         "with copy.deepcopy(online)")
    for pt, po in pairs[0]:
        if m == 0:
            pt.copy_(po)                                   # exact, even where θ_t holds inf
        else:
            pt.mul_(m).add_(po.to(pt.dtype), alpha=1 - m)  # θ_t ← m θ_t + (1 − m) θ_o
    for bt, bo in pairs[1]:
        bt.copy_(bo)                                       # BatchNorm running statistics: the online ones


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy that no optimizer moves: the target/key branch, changed only by :func:`ema_update`."""
    return copy.deepcopy(module).requires_grad_(False)


# ---- MoCo: negatives from a queue --------------------------------------------------------------

class KeyQueue(nn.Module):
    """MoCo's dictionary: the last ``size`` keys, L2-normalised, first in first out.

    The keys live in buffers, so they move with ``.to(device)`` and are saved in ``state_dict``::

        queue = KeyQueue(dim=128, size=4096)
        queue.enqueue(k)        # k: (N, 128); once full, the oldest keys are overwritten
        queue.keys()            # (K, 128), oldest first, K = min(keys enqueued, size)

    Args:
        dim: width D of the keys.
        size: how many keys it holds (MoCo: 65,536 for ImageNet). Keep it well below the data set
            size: a key of the same image from an earlier epoch would count as a negative.
    """

    def __init__(self, dim: int, size: int = 4096):
        super().__init__()
        self.dim = check_number(dim, "dim", low=1, integer=True, hint="the width D of the keys, e.g. 128")
        self.size = check_number(size, "queue_size", low=1, integer=True,
                                 hint="how many keys the queue holds, e.g. 4096 (well below the data set size)")
        self.register_buffer("queue", torch.zeros(self.size, self.dim))      # (size, D) slots
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))       # next slot (the oldest key once full)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))     # filled slots, <= size

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Add ``keys`` (B, D) at the end (normalised, detached); the oldest drop out once full.
        Of a batch larger than the queue only its last ``size`` keys remain."""
        check_projections(keys, "keys", min_n=1)
        if keys.shape[1] != self.dim:
            raise ValueError(f"keys must have width D = {self.dim} (the queue's dim), got shape {tuple(keys.shape)}")
        b, start = len(keys), int(self.ptr)
        keys = unit_rows(keys.detach())[-self.size:].to(self.queue)         # (min(B, size), D)
        start = (start + b - len(keys)) % self.size                          # skipped keys still move the pointer
        slots = (start + torch.arange(len(keys), device=self.queue.device)) % self.size
        self.queue[slots] = keys                                             # overwrite the oldest slots
        self.ptr.fill_((start + len(keys)) % self.size)
        self.count.fill_(min(int(self.count) + b, self.size))

    def keys(self) -> torch.Tensor:
        """The keys held, oldest first: (K, D), K = min(keys enqueued so far, size)."""
        n = int(self.count)
        return self.queue[:n] if n < self.size else self.queue.roll(-int(self.ptr), dims=0)


def _negatives(queue, d: int) -> torch.Tensor:
    negatives = queue.keys() if isinstance(queue, KeyQueue) else queue
    check_projections(negatives, "queue (the negative keys)", min_n=0)
    if negatives.shape[1] != d:
        raise ValueError(f"the queue holds keys of width {negatives.shape[1]}, but q has width {d}: build the "
                         f"queue with KeyQueue(dim={d}, ...)")
    return negatives


def moco_loss(q: torch.Tensor, k: torch.Tensor, queue, temperature: float = 0.2) -> torch.Tensor:
    """MoCo's InfoNCE: each query against its own key (positive) and the queue (negatives).

    With unit vectors q, k and queued keys n_1..n_K (Algorithm 1 of He et al.)::

        logits_i = [q_i·k_i, q_i·n_1, ..., q_i·n_K] / τ                  (1 + K,)
        loss     = 1/N Σ_i cross_entropy(logits_i, target=0)

    Keys get no gradient (``k.detach()``): only the query encoder learns from the loss. Runs in
    float32 with autocast off, whatever the scale of the rows (:func:`sslteach.utils.unit_rows`).

    Args:
        q: (N, D) queries (query encoder, first view).
        k: (N, D) keys (key encoder, second view of the same images).
        queue: (K, D) keys of earlier batches, or a :class:`KeyQueue`. K = 0 is allowed: the only
            candidate is the positive, so the loss is 0 (nothing to tell apart) and gives no gradient.
        temperature: τ > 0; MoCo v2 uses 0.2.

    Returns:
        Scalar loss; ``log(1 + K)`` when q is equally similar to every candidate.
    """
    check_paired({"q": q, "k": k}, min_n=1)
    negatives = _negatives(queue, q.shape[1])
    tau = check_number(temperature, "temperature", low=0, low_open=True, hint="MoCo v2 uses 0.2")
    with torch.autocast(q.device.type, enabled=False):
        q, k = unit_rows(q), unit_rows(k.detach())                            # (N, D) each
        negatives = unit_rows(negatives.detach()).to(q)                       # (K, D)
        l_pos = (q * k).sum(dim=1, keepdim=True)                              # positive logits: (N, 1)
        l_neg = q @ negatives.T                                               # negative logits: (N, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / tau                       # (N, 1 + K)
        target = torch.zeros(len(q), dtype=torch.long, device=q.device)       # the positive is class 0
        return F.cross_entropy(logits, target)


@torch.no_grad()
def moco_accuracy(q: torch.Tensor, k: torch.Tensor, queue) -> torch.Tensor:
    """Fraction of queries whose own key beats every key in the queue (1.0 for an empty queue)."""
    check_paired({"q": q, "k": k}, min_n=1)
    negatives = _negatives(queue, q.shape[1])
    if len(negatives) == 0:
        return torch.ones((), device=q.device)
    with torch.autocast(q.device.type, enabled=False):
        q, k = unit_rows(q), unit_rows(k)                                     # (N, D) each
        best_negative = (q @ unit_rows(negatives).to(q).T).amax(dim=1)       # (N,)
        return ((q * k).sum(dim=1) > best_negative).float().mean()


class MoCo(nn.Module):
    """MoCo v2: query encoder + head, their momentum copy (the key branch), and a :class:`KeyQueue`.

    ``forward`` is the query branch, ``(h, z) = model(x)`` as for SimCLR; ``keys(x)`` the key branch.
    The key branch is changed only by :func:`ema_update`, at the start of every :func:`moco_step`.

    Args:
        encoder: maps images to h (N, feature_dim), e.g. ``ConvEncoder(downsample="pool")``.
        out_dim: width D of q and k. hidden_dim: hidden width of the head (default feature_dim).
        queue_size: keys kept as negatives. Keep it well below the number of training images.
        momentum: m of the key branch's EMA. MoCo's 0.999 suits 100k+ steps; a classroom run has a
            few hundred, where 0.99 lets the keys follow the queries.
        temperature: τ of :func:`moco_loss` (MoCo v2: 0.2).
    """

    def __init__(self, encoder: nn.Module, out_dim: int = 128, hidden_dim: int | None = None,
                 queue_size: int = 4096, momentum: float = 0.99, temperature: float = 0.2):
        super().__init__()
        self.encoder, self.head = encoder, ProjectionHead(feature_dim_of(encoder), hidden_dim, out_dim)
        self.key_encoder, self.key_head = frozen_copy(encoder), frozen_copy(self.head)
        self.queue = KeyQueue(out_dim, queue_size)
        self.momentum = check_number(momentum, "momentum", low=0, high=1, hint="0.99 for a short run")
        self.temperature = check_number(temperature, "temperature", low=0, low_open=True, hint="MoCo v2 uses 0.2")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)                   # (N, feature_dim)
        return h, self.head(h)                # (N, D) queries

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        return self.key_head(self.key_encoder(x))  # (N, D), no gradient


def moco_step(augment: Callable) -> Callable:
    """Build MoCo's training step for :func:`sslteach.train.fit`.

    Per batch: EMA-update the key branch (the query branch was just moved by the optimizer, as in
    MoCo's ``forward``), queries from view 1, keys from view 2, :func:`moco_loss` against the queue,
    then enqueue the keys (after the loss: a batch never sees its own keys as negatives).

    BatchNorm: MoCo's "shuffle BN" computes the keys' batch statistics on other GPUs than the
    queries', because the positive is the only candidate from the same batch and shared batch
    statistics could give it away. On one device we accept that leak (the key encoder runs in
    train mode on the whole batch of second views): in a short CPU run, emulating shuffle BN (keys
    in 4 BatchNorm groups) changed neither the loss nor the kNN accuracy beyond run-to-run noise.

    Under torchrun (:mod:`sslteach.distributed`) every process enqueues the keys of all processes
    (:func:`~sslteach.distributed.gather_keys`), so all hold the same queue and it fills as fast as
    with one process on the global batch; the key encoders stay identical, as the query encoders
    they follow do.

    Returns:
        ``step(model, batch) -> (loss, {"acc": moco_accuracy})`` for a :class:`MoCo` model (or a
        DDP wrapper around one).
    """
    check_augment(augment)

    def step(model: MoCo, batch) -> tuple[torch.Tensor, dict]:
        moco = unwrap(model)                                      # under torchrun: the MoCo inside DDP
        check_model(moco, MoCo, "MoCo(ConvEncoder())")
        x1, x2 = two_views(augment, batch)                        # (N, C, H, W) each
        ema_update(moco.key_encoder, moco.encoder, moco.momentum)  # θ_k ← m θ_k + (1 − m) θ_q
        ema_update(moco.key_head, moco.head, moco.momentum)
        _, q = model(x1)                                          # (N, D) queries, with gradient (DDP's forward)
        k = moco.keys(x2)                                         # (N, D) keys, no gradient
        negatives = moco.queue.keys()                             # (K, D) earlier batches only
        loss = moco_loss(q, k, negatives, moco.temperature)
        acc = moco_accuracy(q, k, negatives)
        moco.queue.enqueue(gather_keys(k))                        # FIFO; under torchrun every rank's keys (W·N, D)
        return loss, {"acc": acc}

    return step
