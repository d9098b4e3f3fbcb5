"""Training on several processes (GPUs, machines) with PyTorch's own DistributedDataParallel (DDP).

``torchrun --nproc_per_node=W ...`` starts W copies of the same script and tells each one who it is
through environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). Each copy (a *rank*) trains on its own share of the data; DDP averages the
parameter gradients over the ranks after every backward pass, so all copies stay identical::

    info = setup()                                  # the process group; world 1 under plain python
    model = wrap_ddp(convert_sync_batchnorm(model, info), info)
    loader = ShardedLoader(images, batch_size=128, seed=0)   # sslteach.batches: this rank's share, new every epoch
    loss = info_nce_distributed(z1, z2, 0.2)        # negatives from every rank, with gradients
    if is_main(): save(...)                         # one rank logs and writes files
    cleanup()

Without ``WORLD_SIZE`` (or with 1) every function answers for one process, so the same code runs
under plain ``python``.

Negatives across ranks. Rank r holds N images (2N views). :func:`gather` copies every rank's views
to every rank (all_gather), so each of the 2N anchors of rank r is compared with all 2N·W views.
Let L be :func:`~sslteach.contrastive.info_nce` of one process on the union of the W batches and
L_r the loss of rank r (the mean over its own 2N anchors). The 2NW anchor terms are the same, so::

    L = (1/W) Σ_r L_r                                   # the mean of the per-rank losses
    grad of rank r's rows = Σ_s ∂L_s/∂z_r = W · ∂L/∂z_r  # every rank's loss uses rank r's rows
    DDP: (1/W) Σ_r (W ∂L/∂z_r)(∂z_r/∂θ) = ∂L/∂θ         # exactly one process on the union batch

The middle line is why :func:`gather`'s backward must sum (all-reduce) the gradients of all ranks
before it keeps its own rows. Two published bugs: returning this rank's slice without the sum
loses the terms in which other ranks' anchors use our rows as negatives; averaging instead of
summing makes everything that comes back through the gather W times too small (where anchors are
gathered too, that is all of it: DDP then gives ∂L/∂θ / W, a learning rate silently W times
smaller). tests/test_distributed.py shows that its comparison catches both.

- Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, 2020
  (negatives and BatchNorm statistics gathered over all devices).
- Li et al., PyTorch Distributed: Experiences on Accelerating Data Parallel Training, 2020.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from .utils import check_number, get_device, unit_rows
from .views import check_views

LAUNCH = "start one process per GPU with torchrun, e.g. torchrun --nproc_per_node=2 -m sslteach pretrain simclr"


@dataclass(frozen=True)
class DistributedInfo:
    """Who this process is. A single process is rank 0 of a world of 1."""
    rank: int = 0                # this process among all of them: 0 .. world_size - 1
    world_size: int = 1          # processes in all (machines × processes per machine)
    local_rank: int = 0          # this process on its machine: which GPU it uses
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None   # "nccl" (GPUs), "gloo" (CPU), or None for a single process

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, shows progress bars and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 for a single process)."""
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    """How many processes train together (1 for a single process)."""
    return dist.get_world_size() if _active() else 1


def is_main() -> bool:
    """True on rank 0, and in a single process."""
    return rank() == 0


def _env_int(name: str, low: int, high: int | None = None) -> int:
    text = os.environ[name].strip()
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"${name} must be an integer, got {text!r}; {LAUNCH} (it sets ${name})") from None
    return check_number(value, f"${name}", low=low, high=high, integer=True, hint=LAUNCH)


def setup(backend: str | None = None, timeout: float | None = None) -> DistributedInfo:
    """Join the process group that torchrun describes in the environment, and pick this rank's device.

    Without ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) nothing is initialised: the result is a single
    process (rank 0 of 1) on :func:`sslteach.utils.get_device`. Called again, it describes the
    group that is already there.

    Args:
        backend: ``"nccl"`` (GPUs; the device is ``cuda:LOCAL_RANK``) or ``"gloo"`` (CPU); default
            nccl when CUDA is available, else gloo.
        timeout: seconds a collective waits for the other ranks before failing (default PyTorch's).

    Raises:
        ValueError: an incomplete environment (``WORLD_SIZE`` without ``RANK``...), a value out of
            range, an unknown backend, nccl without a GPU for this process.
    """
    if backend not in (None, "nccl", "gloo"):
        raise ValueError(f"backend must be 'nccl' (GPUs), 'gloo' (CPU) or None (nccl when CUDA is available), "
                         f"got {backend!r}")
    if _active():
        backend = dist.get_backend()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
        return DistributedInfo(dist.get_rank(), dist.get_world_size(), local, device, backend)
    if not os.environ.get("WORLD_SIZE", "").strip():
        return DistributedInfo(device=get_device())
    world = _env_int("WORLD_SIZE", low=1)
    if world == 1:
        return DistributedInfo(device=get_device())
    missing = [v for v in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v, "").strip()]
    if missing:
        raise ValueError(f"WORLD_SIZE={world} is set, but {', '.join('$' + v for v in missing)} not: a distributed "
                         f"run needs all of RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; {LAUNCH}, or unset "
                         f"WORLD_SIZE to train in one process")
    rank_, local = _env_int("RANK", 0, world - 1), _env_int("LOCAL_RANK", 0, world - 1)
    _env_int("MASTER_PORT", 1, 65535)
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available() or local >= torch.cuda.device_count():
            raise ValueError(f"backend 'nccl' needs one CUDA GPU per process, but process LOCAL_RANK={local} sees "
                             f"{torch.cuda.device_count()} GPU(s): start at most that many processes per machine "
                             f"(--nproc_per_node), or use backend='gloo' to train on the CPU")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    timeout = None if timeout is None else timedelta(seconds=check_number(timeout, "timeout", low=0, low_open=True))
    dist.init_process_group(backend, timeout=timeout)   # env:// reads RANK, WORLD_SIZE, MASTER_ADDR/PORT
    return DistributedInfo(rank_, world, local, device, backend)


def cleanup() -> None:
    """Leave the process group (at the end of a run); nothing to do for a single process."""
    if _active():
        dist.destroy_process_group()


# ---- negatives from every rank -------------------------------------------------------------------

class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward returns to each rank the gradient of its rows from EVERY rank's loss.

    forward:  (N, D) on each rank -> (W·N, D), rank r's rows at r·N .. r·N + N - 1, the same everywhere
    backward: rank s holds ∂L_s/∂(all rows); rank r's rows need Σ_s ∂L_s/∂(its rows): sum over ranks
              (all-reduce), then keep this rank's block
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, z.contiguous())
        return torch.cat(parts)                                      # (W·N, D)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()                             # (W·N, D); all_reduce works in place
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)                  # Σ over every rank's loss
        n = grad.shape[0] // dist.get_world_size()
        return grad[dist.get_rank() * n:(dist.get_rank() + 1) * n]   # (N, D) this rank's rows


def gather(z: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, with gradients: (N, D) -> (W·N, D), rank r's rows at r·N .. r·N + N - 1.

    Identity for a single process. Every rank must call it (and later backward) at the same point,
    with the same (N, D): all_gather copies equal shapes. The shapes are compared first (one small
    extra collective), so a mismatch is a clear error on every rank instead of a hang or garbage.
    """
    if not torch.is_tensor(z):
        raise TypeError(f"gather takes a tensor (N, D), e.g. projections, got {type(z).__name__}")
    if z.ndim != 2:
        raise ValueError(f"gather takes a 2-D tensor (N, D), got shape {tuple(z.shape)}; flatten it: z.flatten(1)")
    if world_size() == 1:
        return z
    shape = torch.tensor(z.shape, device=z.device)                   # (2,)
    shapes = [torch.empty_like(shape) for _ in range(world_size())]
    dist.all_gather(shapes, shape)
    if any(not torch.equal(s, shape) for s in shapes):
        raise ValueError(f"gather needs the same (N, D) on every process (all_gather copies equal shapes), but "
                         f"the ranks have {[tuple(s.tolist()) for s in shapes]}: give every rank the same batch "
                         f"size (ShardedLoader does; a last, smaller batch is the usual cause: drop it)")
    return _GatherWithGrad.apply(z)


@torch.no_grad()
def gather_keys(k: torch.Tensor) -> torch.Tensor:
    """Every rank's keys without gradients, (N, D) -> (W·N, D): what each rank enqueues in MoCo's
    queue, so that all ranks keep the same queue (the key encoder gets no gradient anyway)."""
    return gather(k.detach())


def info_nce_distributed(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent of this rank's 2N anchors against the 2N·W views of all ranks (SimCLR on W devices).

    This rank's views are rows r·2N .. r·2N + 2N - 1 of the gathered ``cat([z1, z2])``, so each
    label is the single-process label offset by r·2N. The mean of the per-rank losses is
    :func:`~sslteach.contrastive.info_nce` of the union batch; each rank's input gradient is
    W times its rows' gradient there (module docstring), and DDP's average turns that into exactly
    the union batch's parameter gradient. Log :func:`average` of the loss. For one process it
    equals ``info_nce(z1, z2, temperature)``.

    Args:
        z1, z2: (N, D) this rank's projections of the two views; the same N on every rank.
        temperature: τ > 0.

    Returns:
        Scalar loss of this rank, L_r (float32, or float64 for float64 inputs).
    """
    check_views(z1, z2, min_n=2 if world_size() == 1 else 1)         # N = 1 still has 2W - 2 negatives
    tau = check_number(temperature, "temperature", low=0, low_open=True, hint="typical values are 0.05 to 1")
    temperature = temperature if torch.is_tensor(temperature) else tau  # a learnable τ keeps its gradient
    n, offset = z1.shape[0], rank() * 2 * z1.shape[0]
    with torch.autocast(z1.device.type, enabled=False):
        z = unit_rows(torch.cat([z1, z2]))                           # (2N, D) this rank's views: anchors
        everyone = gather(z)                                         # (W·2N, D) all views: candidates
        logits = z @ everyone.T / temperature                        # (2N, W·2N) cosine similarity / τ
        anchors = torch.arange(2 * n, device=z.device)               # (2N,)
        logits[anchors, anchors + offset] = torch.finfo(logits.dtype).min  # a view is not its own candidate
        target = (anchors + n) % (2 * n) + offset                    # (2N,) the other view of the same image
        return F.cross_entropy(logits, target)                       # mean over this rank's 2N anchors


def average(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over all ranks, detached: what rank 0 logs (``average(loss)`` is the
    loss of the union batch). Every rank must call it. A copy of ``value`` for a single process."""
    if not torch.is_tensor(value) or not value.is_floating_point():
        raise TypeError(f"average takes a float tensor (e.g. the loss), got {value!r}")
    value = value.detach().clone()
    if world_size() > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= world_size()
    return value


def all_ranks(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (any picklable value); ``[obj]`` for one
    process. Every rank must call it."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


# ---- the model: SyncBatchNorm and DDP ------------------------------------------------------------

def convert_sync_batchnorm(model: nn.Module, info: DistributedInfo, enabled: bool = True) -> nn.Module:
    """Replace every BatchNorm by a SyncBatchNorm, whose batch statistics are computed over all ranks
    (as SimCLR does: with per-device statistics, the two views of an image on one device could be
    matched through them). Returns ``model`` unchanged for a single process or ``enabled=False``.
    The weights and buffers keep their names, so ``state_dict`` loads into the plain model.

    Raises:
        ValueError: enabled for several CPU processes: PyTorch's SyncBatchNorm runs on GPUs only.
    """
    if not isinstance(model, nn.Module) or not isinstance(info, DistributedInfo):
        raise TypeError(f"convert_sync_batchnorm(model, info): a torch.nn.Module and setup()'s DistributedInfo, "
                        f"got {type(model).__name__} and {type(info).__name__}")
    if not enabled or not info.distributed:
        return model
    if info.device.type != "cuda":
        raise ValueError(f"SyncBatchNorm runs on GPUs only (PyTorch's kernel), but this run uses {info.device}: "
                         f"pass enabled=False (on the CPU each process normalises its own batch)")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def wrap_ddp(model: nn.Module, info: DistributedInfo, **ddp_options) -> nn.Module:
    """``model`` on ``info.device`` inside a DistributedDataParallel (``model`` itself for one process).

    DDP broadcasts rank 0's weights at once, then all-reduces (averages) the gradients during every
    backward pass. A step calls the wrapper once, ``model(x)`` (DDP prepares its reducer there and
    broadcasts rank 0's buffers); attributes and other submodules are reached through :func:`unwrap`
    (``unwrap(model).queue``, SimSiam's ``unwrap(model).predictor``): their gradients are averaged
    too, as DDP hooks every parameter. A parameter that gets no gradient in some step needs
    ``find_unused_parameters=True`` (``ddp_options`` go to DDP).
    """
    if not isinstance(model, nn.Module) or not isinstance(info, DistributedInfo):
        raise TypeError(f"wrap_ddp(model, info): a torch.nn.Module and setup()'s DistributedInfo, got "
                        f"{type(model).__name__} and {type(info).__name__}")
    model = model.to(info.device)
    if not info.distributed:
        return model
    if not _active():
        raise ValueError(f"info describes {info.world_size} processes, but no process group is initialised: "
                         f"call setup() first (under torchrun)")
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    return DDP(model, device_ids=device_ids, **ddp_options)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (what to save, and where its attributes are); else ``model``."""
    return model.module if isinstance(model, DDP) else model


def no_sync(model: nn.Module):
    """Context for the backward passes of gradient accumulation before the last one: DDP skips its
    all-reduce (gradients add up locally; the last backward all-reduces the sum). Nothing to skip
    for a plain model."""
    return model.no_sync() if isinstance(model, DDP) else contextlib.nullcontext()
