"""One plain training loop, used by every method in the suite.

A method is a *step function* ``step(model, batch) -> loss`` (or ``(loss, {"name": value})``);
``fit`` does the rest: device moves, mixed precision on CUDA, the optimizer and scheduler steps,
a tqdm progress bar that works in JupyterLab and in a terminal, a per-epoch history and an
optional atomic checkpoint.

Examples:
    >>> loader = TensorLoader(x, y, batch_size=128)
    >>> step = lambda model, batch: F.cross_entropy(model(batch[0]), batch[1])
    >>> history = fit(model, step, loader, torch.optim.Adam(model.parameters()), epochs=5)
    >>> history["loss"]          # mean loss of each epoch
"""
from __future__ import annotations

import math
import numbers
import os
import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from .data import same_digest, sha256sum
from .utils import check_images, check_number, check_out_path, get_device


class CheckpointError(ValueError):
    """A checkpoint is corrupt or was made for other settings; the message says how to fix it."""


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

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            batch = tuple(t[idx] for t in self.tensors)
            yield batch[0] if len(batch) == 1 else batch


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
        progress: bool = True, desc: str = "train") -> History:
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
        checkpoint: file written atomically after each epoch with the model's and optimizer's
            ``state_dict``, the epoch and the history (read it back with :func:`load_checkpoint`).
        progress: show a progress bar.
        desc: its label.

    Returns:
        History with per-epoch ``loss``, ``time`` (seconds), ``lr``, the step's extra values and
        the ``evaluate`` results; ``history.step["loss"]`` has every step's loss.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the training diverged); the message
            names the epoch, the step, the learning rate and the batch size.
    """
    epochs, n_batches, checkpoint = _check_fit_arguments(model, step, loader, optimizer, epochs, scheduler,
                                                         evaluate, amp, progress, checkpoint)
    device = get_device(device)
    model.to(device)
    dtype = amp_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    history = History()
    bar = tqdm(total=epochs * n_batches, desc=desc, disable=not progress, unit="step")
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            sums, count, start = {}, 0, time.perf_counter()
            for i, batch in enumerate(loader, 1):
                batch = to_device(batch, device)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    out = step(model, batch)
                loss, extra = _loss_and_extra(out)
                value = loss.detach().float().item()  # one sync per step, also the history's value
                if not math.isfinite(value):
                    raise FloatingPointError(_diverged(value, epoch, epochs, i, n_batches, optimizer, batch))
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
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
                save_checkpoint(checkpoint, model, optimizer=optimizer.state_dict(), epoch=epoch,
                                history=history.epoch)
    finally:
        bar.close()
    model.eval()
    return history


def _check_fit_arguments(model, step, loader, optimizer, epochs, scheduler, evaluate, amp, progress, checkpoint):
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
    for flag, name in ((amp, "amp"), (progress, "progress")):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if checkpoint is not None:
        checkpoint = check_checkpoint_path(checkpoint)  # before training, not after the first epoch
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


def checksum_path(path: str | Path) -> Path:
    """The sha256 sidecar of a checkpoint: ``model.pt`` -> ``model.pt.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def check_checkpoint_path(path: str | Path) -> Path:
    """``path`` as a ``Path`` where a checkpoint can be written: not a folder, no file among its parents.

    Raises:
        TypeError: ``path`` is not a str or ``Path``.
        CheckpointError: a folder is in the way, or a parent is a file.
    """
    try:
        return check_out_path(path, "the checkpoint path")
    except ValueError as e:
        raise CheckpointError(str(e)) from None


# what a checkpoint may hold besides the weights: what torch.load(weights_only=True) reads back
_PLAIN_TYPES = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device, torch.Size)
_CONTAINERS = (dict, OrderedDict, list, tuple, set)


def _check_plain(value, where: str) -> None:
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_TYPES:
        return
    if type(value) in _CONTAINERS:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            if isinstance(value, dict):
                _check_plain(k, f"a key of {where}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(f"save_checkpoint stores only plain values next to the weights (numbers, strings, lists, "
                    f"tuples, dicts, tensors), so that load_checkpoint can read the file safely; {where} is a "
                    f"{type(value).__name__}: convert it (float(x) for a NumPy number, torch.as_tensor(x) for an "
                    f"array, str(x) for a path), or store an object's state_dict()")


def save_checkpoint(path: str | Path, model: torch.nn.Module, **extra) -> Path:
    """Write ``{"model": state_dict, **extra}`` atomically (temporary file, then rename), and its
    sha256 next to it in ``<file>.sha256`` (the format of ``sha256sum``, so ``sha256sum -c`` works).

    ``extra`` holds plain values (numbers, strings, lists, dicts, tensors) so that
    :func:`load_checkpoint` can read the file with ``weights_only=True``. An interruption at any
    point leaves the old pair, or a ``.pt`` without a ``.sha256`` (read without a check), never a
    ``.pt`` with a stale ``.sha256``; a failed save removes its temporary files.

    Raises:
        TypeError: ``model`` is not a module, or ``extra`` holds a value that is not plain.
        CheckpointError: ``path`` is a folder, or one of its parents is a file.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; to store plain values "
                        f"only, pass them as keywords next to a module")
    path = check_checkpoint_path(path)
    for key, value in extra.items():
        _check_plain(value, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    sidecar = checksum_path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp_sidecar = sidecar.with_name(f".{sidecar.name}.tmp{os.getpid()}")
    try:
        torch.save({"model": state, **extra}, tmp)
        tmp_sidecar.write_text(f"{sha256sum(tmp)}  {path.name}\n")
        # each step leaves a matching pair, or a .pt without a .sha256: never a .pt with a stale .sha256
        sidecar.unlink(missing_ok=True)   # the old .pt alone
        os.replace(tmp, path)             # the new .pt alone (a crash mid-write never leaves half a file)
        os.replace(tmp_sidecar, sidecar)  # the new pair
    finally:
        tmp.unlink(missing_ok=True)       # gone already after a successful save
        tmp_sidecar.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, model: torch.nn.Module | None = None,
                    map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (``weights_only=True``) and load its weights into ``model``.

    When ``<file>.sha256`` exists (:func:`save_checkpoint` writes it), the file's sha256 must match
    (in lower or upper case, as ``sha256sum -c`` accepts).

    Returns:
        The whole checkpoint dict (``"model"`` plus whatever was saved with it).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a folder, an empty file, a file that is not a checkpoint, one holding objects
            a safe load refuses, or one that does not match its ``.sha256`` (changed, or copied only
            in part); also weights that do not fit ``model`` (a ``ValueError`` too).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {type(path).__name__}")
    if model is not None and not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (or None to only read the file), got {type(model).__name__}")
    if isinstance(map_location, (str, torch.device)):
        get_device(map_location)  # a device that is not here fails now, not as a "broken file"
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pt"))
        inside = f"it holds {', '.join(found[:5])}" if found else "it holds no .pt file"
        raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass the checkpoint file itself ({inside})")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the model first "
                                f"(fit(..., checkpoint={str(path)!r})) or check the path")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): a save or a copy was interrupted. Delete it "
                              f"(and its .sha256) and train again, or copy it again")
    sidecar = checksum_path(path)
    if sidecar.is_file():
        words = sidecar.read_text(errors="replace").split()  # "<hex digest>  <file name>"
        expected = words[0] if words else "(nothing)"
        actual = sha256sum(path)
        if not same_digest(actual, expected):
            raise CheckpointError(
                f"checkpoint {path} is corrupt or was changed: its sha256 is {actual}, but {sidecar.name} "
                f"expects {expected}. Delete both files and train again, or copy the pair again together.")
    with open(path, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):  # torch.save's zip, or its old pickle
        raise CheckpointError(_not_a_checkpoint(path, f"it starts with {head!r}, not like a file of torch.save"))
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" not in str(e).lower():
            raise CheckpointError(_not_a_checkpoint(path, e)) from None
        raise CheckpointError(
            f"checkpoint {path} holds Python objects that a safe load (weights_only=True) refuses. If you wrote "
            f"it yourself and trust it, read it with torch.load(path, weights_only=False), then save it again "
            f"with save_checkpoint(path, model, ...) and plain values (numbers, strings, lists, dicts, tensors)"
        ) from None
    except Exception as e:  # a zip that is cut short, a text file, another format: all "not a checkpoint"
        raise CheckpointError(_not_a_checkpoint(path, e)) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        tensors = isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values())
        hint = ("it looks like a bare state_dict: load it with model.load_state_dict(torch.load(path, "
                "weights_only=True)), or save it with save_checkpoint(path, model)" if tensors else
                "write checkpoints with save_checkpoint(path, model, ...)")
        found = f"a dict with keys {sorted(map(str, ckpt))[:6]}" if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}"
        raise CheckpointError(f"checkpoint {path} holds {found}, not a checkpoint {{'model': state_dict, ...}}: {hint}")
    if model is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except (RuntimeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path} does not fit this model's architecture: "
                                  f"{' '.join(str(e).split())}. Build the model with the settings it was "
                                  f"saved with, or load the checkpoint of this model") from None
    return ckpt


def _not_a_checkpoint(path: Path, error: Exception | str) -> str:
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"
    return (f"checkpoint {path} is not a PyTorch checkpoint, or it is damaged ({reason}). "
            f"Check the path (a .pt file written by save_checkpoint or torch.save); if a copy was cut short, "
            f"copy it again or train again")
