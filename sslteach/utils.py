"""Small shared helpers: seeding, device choice, quick/classroom mode, paths, the argument checks
every module uses (each error says what was expected, what came, and how to fix it) and ``unit_rows``."""
from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Folder holding the shipped data sets (``$SSLTEACH_DATA`` overrides ``<repo>/data``)."""
    return Path(os.environ.get("SSLTEACH_DATA") or REPO_ROOT / "data")  # set but empty: the default


def cache_dir() -> Path:
    """Folder for decoded-array caches (``$SSLTEACH_CACHE`` overrides ``~/.cache/sslteach``)."""
    return _folder(os.environ.get("SSLTEACH_CACHE") or Path.home() / ".cache" / "sslteach", "SSLTEACH_CACHE")


def checkpoint_dir() -> Path:
    """Where notebooks save encoders they train (``$SSLTEACH_CHECKPOINTS`` overrides ``<repo>/checkpoints``)."""
    return _folder(os.environ.get("SSLTEACH_CHECKPOINTS") or REPO_ROOT / "checkpoints", "SSLTEACH_CHECKPOINTS")


def _folder(path: str | Path, variable: str) -> Path:
    """``path``, created if needed; a file in the way is named along with the variable that moves it."""
    path = Path(path).expanduser()
    check_out_path(path, f"${variable}", folder=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every CUDA device).

    Raises:
        TypeError, ValueError: ``seed`` is not an integer in [0, 2**32 - 1] (NumPy's range).
    """
    seed = check_number(seed, "seed", low=0, high=2**32 - 1, integer=True, hint="e.g. set_seed(0)")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices
    torch.cuda.manual_seed_all(seed)


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``prefer`` if given, else the best available (CUDA, then Apple's MPS,
    then CPU).

    Every function of the package that takes ``device=`` resolves it here, so ``None`` always means
    "the best available" and a device that is not there fails at once, with a sentence.

    Args:
        prefer: force a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``);
            ``$SSLTEACH_DEVICE`` does the same when ``prefer`` is None.

    Raises:
        TypeError: ``prefer`` is neither a name nor a ``torch.device`` (e.g. the number 3).
        ValueError: the name is not a device, or that device is not available on this machine.
    """
    source = ""
    if prefer is None and (os.environ.get("SSLTEACH_DEVICE") or "").strip():
        prefer, source = os.environ["SSLTEACH_DEVICE"], " (from $SSLTEACH_DEVICE)"
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(prefer, (str, torch.device)):
        index = isinstance(prefer, int) and not isinstance(prefer, bool)
        raise TypeError(f"device must be a name such as 'cpu', 'cuda' or 'cuda:1' (or a torch.device, or None "
                        f"for the best available), got {prefer!r} ({type(prefer).__name__})"
                        + (f"; for GPU number {prefer} write 'cuda:{prefer}'" if index else ""))
    try:
        device = torch.device(prefer.strip() if isinstance(prefer, str) else prefer)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps' (or None for the best "
                         f"available), got {prefer!r}{source}") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} was asked for{source}, but PyTorch sees no CUDA GPU here "
                             f"(torch {torch.__version__}); use device='cpu', or leave the device out "
                             f"(and unset $SSLTEACH_DEVICE) to take the best available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} was asked for{source}, but this machine has "
                             f"{torch.cuda.device_count()} CUDA GPU(s): use cuda:0 .. "
                             f"cuda:{torch.cuda.device_count() - 1}")
    elif device.type == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for, but Apple's MPS backend is not available here; "
                         "use device='cpu' or leave the device out")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {str(device)!r}{source}")
    return device


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def quick_mode() -> bool:
    """True when ``SSLTEACH_QUICK=1``: tiny data and 1-2 epochs, to check that notebooks run.

    Classroom mode (the default) runs the real experiment, sized for a laptop CPU (the README's
    performance table has the measured times).
    """
    value = os.environ.get("SSLTEACH_QUICK", "0").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"SSLTEACH_QUICK must be 1 (quick mode) or 0 (classroom mode), got {value!r}")


# ---- checks of arguments, shared by every module: each error says what was expected, what came,
# ---- and how to fix it

def check_number(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False,
                 hint: str = "") -> float | int:
    """``value`` if it is a finite real number (an ``int`` when ``integer``) within the bounds, else a
    ``TypeError``/``ValueError`` that names the argument, the allowed range and the value given.

    Booleans are refused (``temperature=True`` is a mistake, not 1.0), as are NaN and infinities.

    Examples:
        >>> check_number(0.5, "temperature", low=0, low_open=True)
        0.5
    """
    import numbers

    kind = "an integer" if integer else "a number"
    def show(bound) -> str:  # integers in full (2**32 - 1, not 4.29497e+09), other numbers short
        return str(bound) if isinstance(bound, int) else f"{bound:g}"

    lo = "" if low is None else f"{'>' if low_open else '>='} {show(low)}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {show(high)}"
    wanted = kind + (" " + " and ".join(b for b in (lo, hi) if b) if (lo or hi) else "")
    tail = f"; {hint}" if hint else ""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype == torch.bool:
        value = value.item()
    ok_type = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise TypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}){tail}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {wanted}, got {value!r}{tail}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {wanted}, got {value!r}{tail}")
    return int(value) if integer else value


def check_finite(x: torch.Tensor, name: str, hint: str = "") -> torch.Tensor:
    """``x`` unless it holds NaN or an infinity; the error counts them and says where they may come from.

    Cheap on large tensors: one ``aminmax`` (NaN and infinities propagate into it); the counting
    is done only when something is wrong.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}; convert with torch.as_tensor(...)")
    if x.is_floating_point() and x.numel() > 0:
        lo, hi = torch.aminmax(x.detach())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            n_nan, n_bad = int(torch.isnan(x).sum()), int((~torch.isfinite(x)).sum())
            raise ValueError(f"{name} holds {n_nan} NaN and {n_bad - n_nan} infinite value(s) out of {x.numel()}: "
                             f"{hint or 'check how it was computed (a division by 0, a log of 0, a diverged training run)'}")
    return x


def check_images(x: torch.Tensor, name: str = "augment") -> torch.Tensor:
    """Raise a clear error unless ``x`` is a float batch (N, 1 or 3, H, W) of finite values in [0, 1]
    with at least one image and one pixel."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a tensor of images (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        hint = "; for one image add a batch dimension: x.unsqueeze(0)" if x.ndim == 3 else ""
        raise ValueError(f"{name} expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}{hint}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{name} expects 1 (gray) or 3 (RGB) channels in dim 1, got shape {tuple(x.shape)}; "
                         f"for channels-last images (N, H, W, C) use x.permute(0, 3, 1, 2)")
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{name} expects at least one image of at least 1x1 pixels, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} expects float images in [0, 1], got dtype {x.dtype}; convert with x.float() / 255")
    lo, hi = torch.aminmax(x.detach())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        check_finite(x, f"the images given to {name}", "replace or drop those images (torch.nan_to_num fills NaN)")
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{name} expects values in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; divide "
                         f"0-255 images by 255, and normalise (mean/std) after augmenting, not before")
    return x


def check_labels(labels, n: int | None, name: str = "labels") -> torch.Tensor:
    """``labels`` as an int64 tensor after checking: 1-D, integer, ``n`` of them (None: any), all >= 0."""
    try:
        labels = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a tensor of class indices (N,), got {type(labels).__name__}") from e
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,), got shape {tuple(labels.shape)}; use labels.flatten()")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be integer class indices 0, 1, 2, ..., got dtype {labels.dtype}; "
                        f"use labels.long()")
    if n is not None and len(labels) != n:
        raise ValueError(f"need one label per image, got {n} images and {len(labels)} labels")
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"{name} must be class indices 0, 1, 2, ..., got {int(labels.min())}; "
                         f"renumber the classes from 0")
    return labels.long()


def check_out_path(path, name: str, *, folder: bool = False) -> Path:
    """``path`` as a ``Path`` if a file (a folder with ``folder=True``) can be created there, else an
    error naming what is in the way: a folder where a file should go (or a file where a folder should
    go), or a file among its parent folders. Nothing is created.

    Examples:
        >>> check_out_path("checkpoints/run.pt", "--out")
        PosixPath('checkpoints/run.pt')
    """
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path.strip()):
        raise TypeError(f"{name} must be a path (a str or pathlib.Path) such as 'checkpoints/run.pt', "
                        f"got {path!r} ({type(path).__name__})")
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{name} must be a folder, but {path} is a file; choose another folder, or move the file")
    if not folder and path.is_dir():
        raise ValueError(f"{name} must be a file path, but {path} is a folder; give a file name inside it, "
                         f"e.g. {path / 'model.pt'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write {name} to {path}: {parent} is a file, not a folder; choose "
                                 f"another path, or move {parent}")
            break
    return path


def unit_rows(z: torch.Tensor) -> torch.Tensor:
    """Each row of ``z`` divided by its L2 norm, in float32 at least (float64 stays float64): (N, D).

    Safe at any scale: each row is first divided by its largest ``|z_d|``, so its squared norm lies
    in [1, D] and neither overflows (rows of 1e30 in float32) nor falls below ``F.normalize``'s
    epsilon (rows of 1e-30). That factor is a constant for autograd (``detach``): the result does not
    depend on it, so the gradient is exact. An all-zero row has no direction and stays all zero,
    so its cosine similarity with every vector is 0, as with ``F.cosine_similarity``.
    """
    z = z.to(torch.promote_types(z.dtype, torch.float32))          # bfloat16/float16 -> float32
    scale = z.detach().abs().amax(dim=1, keepdim=True)             # (N, 1) largest |z_d| of each row
    z = z / torch.where(scale > 0, scale, torch.ones_like(scale))  # (N, D) entries in [-1, 1]
    norm = z.norm(dim=1, keepdim=True)                             # (N, 1) in [1, sqrt(D)], or 0
    return z / torch.where(norm > 0, norm, torch.ones_like(norm))  # zero rows stay zero
