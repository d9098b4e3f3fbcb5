"""One plain training loop, used by every method in the suite.

A method is a *step function* ``step(model, batch) -> loss`` (or ``(loss, {"name": value})``);
``fit`` does the rest: device moves, mixed precision on CUDA, the optimizer and scheduler steps,
a tqdm progress bar that works in JupyterLab and in a terminal, a per-epoch history and an
optional atomic checkpoint (written by :mod:`sslteach.checkpoint`). The batches come from any
loader with a length, e.g. :class:`sslteach.batches.TensorLoader`.

Examples:
    >>> loader = TensorLoader(x, y, batch_size=128)
    >>> step = lambda model, batch: F.cross_entropy(model(batch[0]), batch[1])
    >>> history = fit(model, step, loader, torch.optim.Adam(model.parameters()), epochs=5)
    >>> history["loss"]          # mean loss of each epoch
"""
from __future__ import annotations

import contextlib
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from .checkpoint import check_checkpoint_path, load_training_state, save_training_state
from .distributed import average, is_main, no_sync, world_size
from .utils import check_number, get_device


@dataclass
class History:
    """What ``fit`` measured. ``history["loss"]`` reads the per-epoch means."""
    epoch: dict = field(default_factory=dict)  # name -> one value per epoch (mean over its steps)
    step: dict = field(default_factory=dict)   # name -> one value per optimisation step

    def __getitem__(self, key: str) -> list:
        return self.epoch[key]

    def __contains__(self, key: str) -> bool:
        return key in self.epoch

    def add(self, where: dict, values: dict) -> None:
        for k, v in values.items():
            where.setdefault(k, []).append(float(v))


def to_device(batch, device: torch.device):
    """Move a tensor, or the tensors inside a tuple/list/dict, to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 instructions (AVX512-BF16 or AMX) that oneDNN uses."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return torch.backends.mkldnn.is_available() and any(p is not None and p() for p in probes)


def amp_dtype(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """Mixed-precision dtype, or None for plain float32.

    bfloat16 on CUDA (float16 where bf16 is missing) and on CPUs with native bfloat16
    instructions, where training steps of the small encoders run faster than in float32
    (measured by benchmarks/bench_encoder.py; see the README's performance table). Other CPUs
    would only emulate bfloat16, so they stay float32.
    """
    if amp and device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp and device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def fit(model: torch.nn.Module, step: Callable, loader, optimizer: torch.optim.Optimizer,
        epochs: int = 1, *, scheduler=None, device: torch.device | str | None = None,
        amp: bool = True, evaluate: Callable | None = None, checkpoint: str | Path | None = None,
        resume: bool = False, accumulate: int = 1, progress: bool = True, desc: str = "train") -> History:
    """Train ``model`` for ``epochs`` passes over ``loader``.

    Args:
        model: moved to ``device`` and put in train mode.
        step: ``step(model, batch) -> loss`` or ``(loss, {"acc": value, ...})``; the batch is
            already on ``device``; the loss is a scalar tensor with a gradient. Extra values are
            numbers (or one-element tensors), averaged per epoch into the history.
        loader: iterable of batches with ``len`` (a ``TensorLoader`` or a ``DataLoader``).
        optimizer: any ``torch.optim`` optimizer over the model's parameters.
        epochs: passes over the data.
        scheduler: stepped after every optimisation step (see :func:`cosine_schedule`).
        device: default :func:`sslteach.utils.get_device`.
        amp: mixed precision where the hardware has it (:func:`amp_dtype`): bfloat16 on CUDA
            (float16 with loss scaling on GPUs without bf16) and on CPUs with bfloat16
            instructions; plain float32 elsewhere or with ``amp=False``.
        evaluate: ``evaluate(model) -> {"name": value}`` called after each epoch (model in eval mode).
        checkpoint: file written atomically after each epoch with the model's, optimizer's and
            scheduler's ``state_dict``, the epoch, the history, the random number generators' states
            (of every process) and the loader's (read it back with
            :func:`sslteach.checkpoint.load_checkpoint`).
        resume: continue from ``checkpoint`` (which must exist): the model, optimizer, scheduler,
            history, random states and loader come back as they were after its epoch, and
            training goes on with the next one. On the CPU the result equals an uninterrupted run
            bit for bit (a loader without ``state_dict``, e.g. a ``DataLoader``, reshuffles anew).
        accumulate: gradient accumulation: sum the gradients of this many consecutive batches
            (each loss scaled by 1/their number) before one optimiser and scheduler step, the
            one-machine way to a larger batch. For losses that are means over examples this is the
            step of one batch that many times larger; a contrastive loss still finds its negatives
            within each batch. An epoch's last group may be smaller. Under torchrun the processes
            exchange gradients only at the group's last batch.
        progress: show a progress bar (on the main process only, under torchrun).
        desc: its label.

    Under torchrun (several processes, :mod:`sslteach.distributed`) every process calls ``fit``
    with its DDP-wrapped model and its own shard of the data; the logged loss is the mean over the
    processes (so a diverging process stops them all), and only the main process writes the
    checkpoint.

    Returns:
        History with per-epoch ``loss``, ``time`` (seconds), ``lr``, the step's extra values and
        the ``evaluate`` results; ``history.step["loss"]`` has every batch's loss.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the training diverged); the message
            names the epoch, the step, the learning rate and the batch size.
    """
    epochs, n_batches, checkpoint = _check_fit_arguments(model, step, loader, optimizer, epochs, scheduler,
                                                         evaluate, amp, progress, checkpoint, resume)
    accumulate = check_number(accumulate, "accumulate", low=1, integer=True,
                              hint="batches whose gradients add up before each optimiser step, e.g. 4")
    device = get_device(device)
    model.to(device)
    dtype = amp_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    history = History()
    done = load_training_state(checkpoint, model, optimizer, scheduler, loader, history, epochs) if resume else 0
    bar = tqdm(total=epochs * n_batches, initial=done * n_batches, desc=desc, disable=not progress or not is_main(),
               unit="step")
    try:
        for epoch in range(done + 1, epochs + 1):
            model.train()
            sums, count, start = {}, 0, time.perf_counter()
            for i, batch in enumerate(loader, 1):
                first, last = (i - 1) % accumulate == 0, i % accumulate == 0 or i == n_batches
                group = min(accumulate, n_batches - (i - 1) // accumulate * accumulate)   # batches in i's group
                if first:
                    optimizer.zero_grad(set_to_none=True)
                batch = to_device(batch, device)
                with contextlib.nullcontext() if last else no_sync(model):   # DDP: all-reduce at the group's end
                    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                        out = step(model, batch)
                    loss, extra = _loss_and_extra(out)
                    # one sync per step, also the history's value: under torchrun the mean over the processes
                    value = (average(loss) if world_size() > 1 else loss.detach()).float().item()
                    if not math.isfinite(value):
                        raise FloatingPointError(_diverged(value, epoch, epochs, i, n_batches, optimizer, batch))
                    scaled = loss / group if group > 1 else loss
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                if last:
                    if scaler is not None:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                values = {"loss": value, **{k: _number(v, f"the step's value {k!r}") for k, v in extra.items()}}
                history.add(history.step, values)
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                bar.set_description(f"{desc} {epoch}/{epochs}")
                bar.set_postfix(loss=f"{value:.4f}", refresh=False)
                bar.update()
            if count == 0:
                raise ValueError(f"the loader yielded no batch in epoch {epoch} although len(loader) is {n_batches}: "
                                 f"it cannot be iterated again (a generator, or an iterator used up?); pass a "
                                 f"TensorLoader, a DataLoader or a list of batches")
            summary = {k: v / count for k, v in sums.items()}
            summary["time"] = time.perf_counter() - start
            summary["lr"] = float(optimizer.param_groups[0]["lr"])
            if evaluate is not None:
                model.eval()
                with torch.no_grad():
                    results = evaluate(model)
                summary.update(_evaluated(results, summary))
            history.add(history.epoch, summary)
            if checkpoint is not None:
                save_training_state(checkpoint, model, optimizer, scheduler, loader, history, epoch, epochs)
    finally:
        bar.close()
    model.eval()
    return history


def _check_fit_arguments(model, step, loader, optimizer, epochs, scheduler, evaluate, amp, progress, checkpoint,
                         resume=False):
    """``fit``'s arguments checked before anything runs: ``(epochs, len(loader), checkpoint path or None)``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(step):
        raise TypeError(f"step must be a function step(model, batch) -> loss, got {type(step).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim optimizer, e.g. torch.optim.Adam(model.parameters(), "
                        f"lr=1e-3), got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("the optimizer holds none of the model's parameters, so training would not change the "
                         "model; create it from this model: torch.optim.Adam(model.parameters(), lr=1e-3)")
    epochs = check_number(epochs, "epochs", low=1, integer=True, hint="the passes over the data, e.g. epochs=5")
    n_batches = _loader_length(loader)
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must be a learning-rate scheduler with .step() (e.g. cosine_schedule(...)), "
                        f"got {type(scheduler).__name__}")
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"evaluate must be a function evaluate(model) -> {{'name': value}}, got {type(evaluate).__name__}")
    for flag, name in ((amp, "amp"), (progress, "progress"), (resume, "resume")):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if checkpoint is not None:
        checkpoint = check_checkpoint_path(checkpoint)  # before training, not after the first epoch
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=, the file that fit writes after every epoch and resumes from")
    if resume and not checkpoint.is_file():
        raise FileNotFoundError(f"resume=True, but there is no checkpoint at {checkpoint} to resume from: it is "
                                f"written after every epoch of a run with checkpoint={str(checkpoint)!r}; start "
                                f"without resume")
    return epochs, n_batches, checkpoint


def _loader_length(loader) -> int:
    """``len(loader)``, refusing loaders without a length or without batches."""
    try:
        n = len(loader)
    except TypeError:
        raise TypeError(f"loader must be an iterable of batches with a length (a TensorLoader, a DataLoader or a "
                        f"list of batches), got {type(loader).__name__}; e.g. TensorLoader(images, batch_size=64)"
                        ) from None
    if n == 0:
        size = getattr(loader, "batch_size", None)
        raise ValueError(f"the loader yields no batch (len(loader) == 0{f', batch_size={size}' if size else ''}): "
                         f"use a batch_size no larger than the data, or drop_last=False, or give it more data")
    return n


def _loss_and_extra(out) -> tuple[torch.Tensor, dict]:
    """Check what a step function returned: ``loss`` or ``(loss, {"name": value})``."""
    if isinstance(out, tuple) and len(out) != 2:
        raise ValueError(f"step must return loss or (loss, {{'name': value}}), got a tuple of {len(out)} items")
    loss, extra = out if isinstance(out, tuple) else (out, {})
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"step must return the loss as a tensor (or (loss, {{'name': value}})), got "
                        f"{type(loss).__name__}; return the tensor itself, not loss.item() or float(loss)")
    if loss.numel() != 1:
        raise ValueError(f"step must return a scalar loss, got a tensor of shape {tuple(loss.shape)}; reduce it, "
                         f"e.g. loss.mean()")
    if not loss.requires_grad:
        raise ValueError("the loss returned by step has no gradient (requires_grad=False), so the model cannot "
                         "learn from it: compute it from the model's output, without torch.no_grad(), .detach() "
                         "or .item()")
    if not isinstance(extra, dict):
        raise TypeError(f"step's extra values must be a dict {{'name': value}}, got {type(extra).__name__}")
    clash = sorted({"loss", "time", "lr"} & set(extra))
    if clash:
        raise ValueError(f"step returned an extra value named {clash[0]!r}, the name of a value fit records "
                         f"itself; rename it, e.g. 'my_{clash[0]}'")
    return loss, extra


def _number(value, name: str) -> float:
    """A step's or evaluate's value as a float: a number or a one-element tensor."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.detach().float().item()
    if isinstance(value, numbers.Real):
        return float(value)
    shape = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
    raise TypeError(f"{name} must be one number, got {shape}; return a number or a one-element tensor, "
                    f"e.g. acc.mean()")


def _evaluated(results, summary: dict) -> dict:
    """Check what ``evaluate`` returned: a dict of numbers whose names fit does not use already."""
    if not isinstance(results, dict):
        raise TypeError(f"evaluate must return a dict {{'name': value}}, got {type(results).__name__}")
    clash = sorted(set(results) & set(summary))
    if clash:
        raise ValueError(f"evaluate returned {clash[0]!r}, which is already a training value; name it "
                         f"differently, e.g. 'val_{clash[0]}'")
    return {k: _number(v, f"evaluate's value {k!r}") for k, v in results.items()}


def _diverged(value: float, epoch: int, epochs: int, i: int, n: int, optimizer, batch) -> str:
    """The message for a loss that became NaN or infinite."""
    lrs = sorted({float(g["lr"]) for g in optimizer.param_groups}, reverse=True)
    first = next((t for t in (batch.values() if isinstance(batch, dict) else
                              batch if isinstance(batch, (tuple, list)) else (batch,))
                  if isinstance(t, torch.Tensor) and t.ndim > 0), None)
    size = "?" if first is None else len(first)
    now = ", ".join(f"{lr:g}" for lr in lrs)
    return (f"the loss became {value} at epoch {epoch}/{epochs}, step {i}/{n} (learning rate {now}, batch size "
            f"{size}): the training diverged; lower the learning rate (lr={now} now, try lr={lrs[0] / 10:g}) and "
            f"train again; if it still diverges, lower the batch size ({size} now) or check the inputs for NaN/inf")


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0):
    """Linear warm-up then cosine decay to 0, stepped once per optimisation step."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim optimizer, got {type(optimizer).__name__}")
    total_steps = check_number(total_steps, "total_steps", low=1, integer=True, hint="epochs * len(loader)")
    warmup_steps = check_number(warmup_steps, "warmup_steps", low=0, high=total_steps, high_open=True,
                                integer=True, hint=f"the warm-up must end before the last of the {total_steps} steps")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
