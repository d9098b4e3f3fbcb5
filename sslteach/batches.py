"""Data in batches: mini-batches for training, float images from every batch, and inference.

:class:`TensorLoader` slices shuffled mini-batches from in-memory tensors for
:func:`sslteach.train.fit` (the training loop, in ``train.py``); :func:`as_float_images` turns any
batch into checked float images in [0, 1], as every step function and widget needs;
:func:`infer_batches` runs a model over many images without gradients (features, predictions,
reconstructions all use it).

Examples:
    >>> loader = TensorLoader(images, labels, batch_size=128)   # for fit(...)
    >>> x = as_float_images(next(iter(loader)))                 # (128, C, H, W) float in [0, 1]
    >>> h = infer_batches(encoder, images)                      # (N, D) float32 on the CPU
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .utils import check_images, check_number, get_device


class TensorLoader:
    """Mini-batches sliced straight from in-memory tensors (no worker processes).

    Much faster than a ``DataLoader`` over a ``TensorDataset`` for small data on a CPU. Each
    pass reshuffles with its own generator, so two loaders with the same seed give the same order.

    Args:
        *tensors: tensors with the same first dimension (e.g. images and labels).
        batch_size: examples per batch.
        shuffle: reshuffle at every pass.
        drop_last: drop the last incomplete batch (keeps BatchNorm and contrastive losses happy).
        seed: seed of the shuffling generator.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 256, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0):
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor, e.g. TensorLoader(images, labels, batch_size=64)")
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"TensorLoader takes tensors, but argument {i} is a {type(t).__name__}; "
                                f"convert it with torch.as_tensor(...)")
            if t.ndim == 0:
                raise ValueError(f"TensorLoader needs one row per example, but argument {i} is a 0-d tensor "
                                 f"({t.item()!r}); pass a batch such as images (N, C, H, W) or labels (N,)")
        lengths = [len(t) for t in tensors]
        n = lengths[0]
        if any(length != n for length in lengths):
            raise ValueError(f"all tensors need the same length (one row per example), got lengths {lengths}; "
                             f"pass matching rows, e.g. images[:n] with labels[:n]")
        if n == 0:
            raise ValueError(f"TensorLoader got 0 examples (shapes {[tuple(t.shape) for t in tensors]}); check "
                             f"the selection that produced the tensors")
        batch_size = check_number(batch_size, "batch_size", low=1, integer=True, hint="examples per batch, e.g. 64")
        for flag, name in ((shuffle, "shuffle"), (drop_last, "drop_last")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        seed = check_number(seed, "seed", low=0, integer=True, hint="e.g. seed=0")
        if drop_last and n < batch_size:
            raise ValueError(f"drop_last=True with {n} examples and batch_size={batch_size} gives no "
                             f"batch at all; use a batch_size <= {n}")
        self.tensors, self.batch_size, self.shuffle, self.drop_last = tensors, batch_size, shuffle, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def state_dict(self) -> dict:
        """The shuffling generator's state: what ``fit`` saves to resume a run with the same order."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            batch = tuple(t[idx] for t in self.tensors)
            yield batch[0] if len(batch) == 1 else batch


# ---- several processes (torchrun, sslteach.distributed): each its own share ----------------------

def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s random augmentations: ``seed`` itself on rank 0, and a different,
    reproducible seed on every other rank (``(seed + rank · 0x9E3779B9) mod 2³²``: the factor is
    odd, so no two ranks of a run share a seed)."""
    seed = check_number(seed, "seed", low=0, high=2**32 - 1, integer=True, hint="e.g. seed=0")
    rank = check_number(rank, "rank", low=0, integer=True, hint="this process's rank, 0 .. world_size - 1")
    return (seed + rank * 0x9E3779B9) % 2**32


def shard(n: int, rank: int, world: int, seed: int = 0, epoch: int = 0) -> torch.Tensor:
    """Indices of the examples that rank ``rank`` trains on in ``epoch``: (n // world,) int64.

    Every rank draws the same permutation (same ``seed`` and ``epoch``), drops its last
    ``n % world`` positions, so that all ranks get equally many examples and run the same number
    of steps (a collective waits for every rank), and takes every ``world``-th position::

        order = permutation of range(n)          # the same on every rank
        mine  = order[:n - n % world][rank::world]

    The shares are disjoint, and batch k (of size B) of all ranks together is positions
    k·W·B .. (k+1)·W·B - 1 of ``order``: batch k of one process with batch size W·B. The
    permutation of ``epoch`` is the ``epoch + 1``-th ``torch.randperm(n)`` drawn from
    ``torch.Generator().manual_seed(seed)``, the order of ``TensorLoader(seed=seed)``'s pass number
    ``epoch + 1``: with ``world=1`` a run sees today's batches, and a resumed run needs only the epoch.
    """
    n = check_number(n, "n", low=1, integer=True, hint="the number of examples")
    world = check_number(world, "world", low=1, integer=True, hint="the number of processes, world_size()")
    rank = check_number(rank, "rank", low=0, high=world - 1, integer=True, hint=f"a rank of the {world} processes")
    seed = check_number(seed, "seed", low=0, integer=True, hint="the same seed on every rank, e.g. seed=0")
    epoch = check_number(epoch, "epoch", low=0, integer=True, hint="epochs count from 0")
    if n < world:
        raise ValueError(f"{n} examples cannot be shared by {world} processes (each needs at least one); use "
                         f"more data or fewer processes")
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epoch + 1):                   # epoch + 1 draws: milliseconds for 10,000 examples
        order = torch.randperm(n, generator=generator)
    return order[:n - n % world][rank::world]


class ShardedLoader:
    """Batches of this rank's share (:func:`shard`) of in-memory tensors, a new share every epoch.

    ``batch_size`` is one rank's batch (the effective batch is ``world · batch_size``); the last
    incomplete batch is dropped, so every rank runs the same number of steps. Each pass is the next
    epoch (set ``loader.epoch`` to resume). ``seed`` must be the same on every rank; ``rank`` and
    ``world`` default to :func:`rank` and :func:`world_size`. With one process it yields the batches
    of ``TensorLoader(*tensors, batch_size=batch_size, drop_last=True, seed=seed)``.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, seed: int = 0, rank: int | None = None,
                 world: int | None = None):
        if not tensors or not all(torch.is_tensor(t) and t.ndim > 0 for t in tensors):
            raise TypeError("ShardedLoader takes tensors with one row per example, e.g. ShardedLoader(images, "
                            "labels, batch_size=128)")
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"all tensors need the same length, got {[len(t) for t in tensors]}")
        from .distributed import rank as rank_of_process, world_size   # lazily: distributed imports this module
        self.world = world_size() if world is None else world
        self.rank = rank_of_process() if rank is None else rank
        shard(len(tensors[0]), self.rank, self.world, seed)          # checks n, rank, world and seed
        share = len(tensors[0]) // self.world
        self.batch_size = check_number(batch_size, "batch_size", low=1, high=share, integer=True,
                                       hint=f"each of the {self.world} processes has {share} examples")
        self.tensors, self.seed, self.epoch = tensors, seed, 0

    def __len__(self) -> int:
        return len(self.tensors[0]) // self.world // self.batch_size

    def state_dict(self) -> dict:
        return {"epoch": self.epoch}          # the next pass's epoch: all a resumed run needs

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]

    def __iter__(self):
        mine = shard(len(self.tensors[0]), self.rank, self.world, self.seed, self.epoch)  # (n // W,)
        self.epoch += 1
        for i in range(len(self)):
            idx = mine[i * self.batch_size:(i + 1) * self.batch_size]                      # (B,)
            batch = tuple(t[idx] for t in self.tensors)
            yield batch[0] if len(batch) == 1 else batch



def as_float_images(batch, name: str = "images") -> torch.Tensor:
    """Images of a batch (a tensor, or the first item of an ``(images, labels)`` tuple) as float in
    [0, 1]: uint8 0-255 becomes float32 0-1; float images are checked (finite, in [0, 1]) and pass
    through unchanged; any other dtype (int64 0-255, bool) is refused with the conversion to use."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor (N, C, H, W), got {type(x).__name__}; "
                        f"convert with torch.as_tensor(...)")
    if x.dtype == torch.uint8:
        x = x.float() / 255
    elif not x.is_floating_point():
        raise TypeError(f"{name} must be uint8 (0-255) or float (0-1), got dtype {x.dtype}; convert "
                        f"with x.float() / 255 if the values are 0-255, or x.float() if they are 0-1")
    return check_images(x, name)


@torch.no_grad()
def infer_batches(model: torch.nn.Module, images: torch.Tensor, fn: Callable | None = None, *,
                  batch_size: int = 500, device: torch.device | str | None = None):
    """Run a model over many images in batches: eval mode, no gradients, then the mode restored.

    The one inference loop of the package (features, predictions, reconstructions all use it).

    Args:
        model: moved to ``device``; put in eval mode for the loop, then back to its previous mode.
        images: (N, C, H, W) uint8 0-255 or float 0-1 (:func:`as_float_images` checks each batch).
        fn: ``fn(model, x) -> tensor`` (or a tuple of tensors) on a float batch on ``device``;
            default ``model(x)``.
        batch_size: images per forward pass.
        device: default :func:`sslteach.utils.get_device`.

    Returns:
        The outputs of every batch concatenated along dim 0, as float32 CPU tensors (a tuple of
        them when ``fn`` returns a tuple).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if fn is not None and not callable(fn):
        raise TypeError(f"fn must be a function fn(model, x) -> tensor (or None for model(x)), got {type(fn).__name__}")
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor (N, C, H, W), got {type(images).__name__}; convert with "
                        f"torch.as_tensor(...)")
    if images.ndim != 4:
        hint = "; for one image add a batch dimension: x.unsqueeze(0)" if images.ndim == 3 else ""
        raise ValueError(f"images must be a batch (N, C, H, W), got shape {tuple(images.shape)}{hint}")
    if len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}: pass at "
                         f"least one image; check the selection or filter that produced it")
    batch_size = check_number(batch_size, "batch_size", low=1, integer=True,
                              hint="images per forward pass, e.g. 500 (lower it if memory runs out)")
    device = get_device(device)
    was_training = model.training
    model.eval().to(device)
    outs = []
    try:
        for i in range(0, len(images), batch_size):
            x = as_float_images(images[i:i + batch_size].to(device, non_blocking=True))
            out = model(x) if fn is None else fn(model, x)
            parts = out if isinstance(out, tuple) else (out,)
            if not parts or not all(isinstance(o, torch.Tensor) for o in parts):
                raise TypeError(f"{'model' if fn is None else 'fn'} must return a tensor or a tuple of tensors, "
                                f"got {type(out).__name__}; return the output tensor itself")
            outs.append(tuple(o.float().cpu() for o in out) if isinstance(out, tuple) else out.float().cpu())
    finally:
        model.train(was_training)
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)
