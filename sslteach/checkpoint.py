"""Checkpoints: a model's weights and plain values, written atomically with a sha256 beside them.

``fit(..., checkpoint=path)`` (:mod:`sslteach.train`) writes one after each epoch with
:func:`save_checkpoint`; :func:`load_checkpoint` reads it back safely (``weights_only=True``) and
checks it against its ``.sha256``. A file that is wrong (a folder, empty, cut short, changed,
another format, another architecture) raises :class:`CheckpointError` saying how to fix it.

Examples:
    >>> path = save_checkpoint("runs/model.pt", model, epoch=3, note="first try")
    >>> load_checkpoint("runs/model.pt", fresh_model)["epoch"]
    3
"""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import torch

from .data import same_digest, sha256sum
from .distributed import all_ranks, is_main, rank, unwrap, world_size
from .utils import check_out_path, get_device


class CheckpointError(ValueError):
    """A checkpoint is corrupt or was made for other settings; the message says how to fix it."""


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


# ---- the training state: resuming an interrupted run ----------------------------------------------

def _rng_state() -> dict:
    """This process's random number generators: the CPU's, and the current GPU's where CUDA is in use."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def save_training_state(path, model, optimizer, scheduler, loader, history, epoch: int, epochs: int) -> None:
    """What :func:`sslteach.train.fit` needs to continue after ``epoch``: the model's, optimizer's and
    scheduler's states, the history, every process's random number generators and the loader's
    state; written by the main process (under torchrun every process calls it)."""
    rngs = all_ranks(_rng_state())                  # one per process: each draws its own augmentations
    if is_main():
        save_checkpoint(path, unwrap(model), optimizer=optimizer.state_dict(),
                        scheduler=None if scheduler is None else scheduler.state_dict(), epoch=epoch, epochs=epochs,
                        history=history.epoch, history_steps=history.step, rng=rngs, world_size=world_size(),
                        loader=loader.state_dict() if callable(getattr(loader, "state_dict", None)) else None)


def load_training_state(path, model, optimizer, scheduler, loader, history, epochs: int) -> int:
    """Restore what :func:`save_training_state` wrote, in place; returns the epochs already done.

    Raises:
        CheckpointError: not a training state, written by another number of processes, or states
            that do not fit the model, optimizer and scheduler.
        ValueError: a run of another number of epochs, or one that has finished.
    """
    state = load_checkpoint(path)                   # sha256 checked
    missing = [k for k in ("optimizer", "epoch", "rng", "history") if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a training state written by fit(checkpoint=...) (it has no "
                              f"{', '.join(missing)}), so there is nothing to resume from; start without resume")
    if state.get("world_size", 1) != world_size():
        raise CheckpointError(f"{path} was written by a run of {state.get('world_size', 1)} process(es), this run has "
                              f"{world_size()}: resume with the same number of processes (each one's share of the "
                              f"data and its random state depend on it)")
    if state.get("epochs", epochs) != epochs:
        raise ValueError(f"{path} belongs to a run of {state['epochs']} epochs (its learning-rate schedule too); "
                         f"resume it with epochs={state['epochs']}, not {epochs}")
    if state["epoch"] >= epochs:
        raise ValueError(f"{path} has done all {epochs} epochs already: nothing to resume")
    try:
        unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} does not fit this model, optimizer and scheduler ({' '.join(str(e).split())[:200]}): "
                              f"resume with the settings the run started with") from None
    if state.get("loader") is not None and callable(getattr(loader, "load_state_dict", None)):
        loader.load_state_dict(state["loader"])
    rng = state["rng"][rank()]
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    history.epoch.update({k: list(v) for k, v in state["history"].items()})
    history.step.update({k: list(v) for k, v in state.get("history_steps", {}).items()})
    return state["epoch"]
