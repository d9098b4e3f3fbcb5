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
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from .data import sha256sum
from .utils import check_images, check_number, get_device


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
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"all tensors need the same length, got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
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
    device = get_device(device)
    check_number(batch_size, "batch_size", low=1, integer=True)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got {shape}")
    was_training = model.training
    model.eval().to(device)
    outs = []
    try:
        for i in range(0, len(images), batch_size):
            x = as_float_images(images[i:i + batch_size].to(device, non_blocking=True))
            out = model(x) if fn is None else fn(model, x)
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
    instructions, where training steps of the small encoders run 1.4-1.9x faster on 2 cores
    (benchmarks/bench_encoder.py). Other CPUs would only emulate bfloat16, so they stay float32.
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
            already on ``device``. Extra values are averaged per epoch into the history.
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
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if len(loader) == 0:
        raise ValueError("the loader yields no batch: check the data size against batch_size/drop_last")
    device = get_device(device)
    model.to(device)
    dtype = amp_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    history = History()
    bar = tqdm(total=epochs * len(loader), desc=desc, disable=not progress, unit="step")
    for epoch in range(1, epochs + 1):
        model.train()
        sums, count, start = {}, 0, time.perf_counter()
        for batch in loader:
            batch = to_device(batch, device)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = step(model, batch)
            loss, extra = out if isinstance(out, tuple) else (out, {})
            if not torch.isfinite(loss):
                bar.close()
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}: lower the "
                                         f"learning rate or check the inputs")
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
            values = {"loss": loss.detach(), **{k: torch.as_tensor(v).detach() for k, v in extra.items()}}
            values = {k: v.float().item() for k, v in values.items()}
            history.add(history.step, values)
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            bar.set_description(f"{desc} {epoch}/{epochs}")
            bar.set_postfix(loss=f"{values['loss']:.4f}", refresh=False)
            bar.update()
        summary = {k: v / count for k, v in sums.items()}
        summary["time"] = time.perf_counter() - start
        summary["lr"] = optimizer.param_groups[0]["lr"]
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                summary.update(evaluate(model))
        history.add(history.epoch, summary)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer=optimizer.state_dict(), epoch=epoch,
                            history=history.epoch)
    bar.close()
    model.eval()
    return history


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0):
    """Linear warm-up then cosine decay to 0, stepped once per optimisation step."""
    if total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"need total_steps >= 1 and 0 <= warmup_steps < total_steps, "
                         f"got {total_steps} and {warmup_steps}")

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


def save_checkpoint(path: str | Path, model: torch.nn.Module, **extra) -> Path:
    """Write ``{"model": state_dict, **extra}`` atomically (temporary file, then rename), and its
    sha256 next to it in ``<file>.sha256`` (the format of ``sha256sum``, so ``sha256sum -c`` works).

    ``extra`` should hold plain values (numbers, strings, lists, dicts, tensors) so that
    :func:`load_checkpoint` can read the file with ``weights_only=True``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save({"model": state, **extra}, tmp)
    sidecar = checksum_path(path)
    tmp_sidecar = sidecar.with_name(f".{sidecar.name}.tmp{os.getpid()}")
    tmp_sidecar.write_text(f"{sha256sum(tmp)}  {path.name}\n")
    os.replace(tmp, path)  # a crash mid-write never leaves a half-written checkpoint
    os.replace(tmp_sidecar, sidecar)
    return path


def load_checkpoint(path: str | Path, model: torch.nn.Module | None = None,
                    map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (``weights_only=True``) and load its weights into ``model``.

    When ``<file>.sha256`` exists (:func:`save_checkpoint` writes it), the file's sha256 must match.

    Returns:
        The whole checkpoint dict (``"model"`` plus whatever was saved with it).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file does not match its ``.sha256`` (changed, or copied only in part).
        ValueError: the weights do not fit ``model``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the model first "
                                f"(fit(..., checkpoint={str(path)!r})) or check the path")
    sidecar = checksum_path(path)
    if sidecar.is_file():
        words = sidecar.read_text().split()  # "<hex digest>  <file name>"
        expected = words[0] if words else "(nothing)"
        actual = sha256sum(path)
        if actual != expected:
            raise CheckpointError(
                f"checkpoint {path} is corrupt or was changed: its sha256 is {actual}, but {sidecar.name} "
                f"expects {expected}. Delete both files and train again, or copy the pair again together.")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if model is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise ValueError(f"checkpoint {path} does not fit this model's architecture: {e}") from e
    return ckpt
