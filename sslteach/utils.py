"""Small shared helpers: seeding, device choice, quick/classroom mode and paths."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Folder holding the shipped data sets (``$SSLTEACH_DATA`` overrides ``<repo>/data``)."""
    return Path(os.environ.get("SSLTEACH_DATA", REPO_ROOT / "data"))


def cache_dir() -> Path:
    """Folder for decoded-array caches (``$SSLTEACH_CACHE`` overrides ``~/.cache/sslteach``)."""
    path = Path(os.environ.get("SSLTEACH_CACHE", Path.home() / ".cache" / "sslteach"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoint_dir() -> Path:
    """Where notebooks save encoders they train (``$SSLTEACH_CHECKPOINTS`` overrides ``<repo>/checkpoints``)."""
    path = Path(os.environ.get("SSLTEACH_CHECKPOINTS", REPO_ROOT / "checkpoints"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices
    torch.cuda.manual_seed_all(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then CPU.

    Args:
        prefer: force a device (``"cpu"``, ``"cuda"``, ``"mps"``); ``$SSLTEACH_DEVICE`` does the same.
    """
    prefer = prefer or os.environ.get("SSLTEACH_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def quick_mode() -> bool:
    """True when ``SSLTEACH_QUICK=1``: tiny data and 1-2 epochs, to check that notebooks run.

    Classroom mode (the default) runs the real experiment, within about 5 minutes on 2 CPU cores.
    """
    value = os.environ.get("SSLTEACH_QUICK", "0").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"SSLTEACH_QUICK must be 1 (quick mode) or 0 (classroom mode), got {value!r}")
