"""Opt-in, online: the full CIFAR-10 and STL-10 from torchvision, downloaded with a timeout.

Everything else in the suite runs offline on the subsets shipped in ``data/`` (:mod:`sslteach.data`);
this is for users with a network and time who want the full sets.
"""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import torch

from .data import DataError, ImageSet, _check_dtype, _check_split, _finish
from .utils import cache_dir, check_number

TORCHVISION_SPLITS = {"cifar10": ("train", "test"), "stl10": ("train", "test", "unlabeled", "train+unlabeled")}


def _timed_out(e: BaseException) -> bool:
    """True if ``e``, or an error it wraps (urllib's URLError.reason, a cause), is a socket timeout."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (socket.timeout, TimeoutError)) or "timed out" in str(e):
            return True
        reason = getattr(e, "reason", None)
        e = reason if isinstance(reason, BaseException) else (e.__cause__ or e.__context__)
    return False


def load_torchvision(name: str = "cifar10", split: str = "train", root: str | Path | None = None,
                     dtype: torch.dtype = torch.uint8, timeout: float = 60) -> ImageSet:
    """Opt-in: the FULL CIFAR-10 (50k/10k) or STL-10 from torchvision, downloaded (needs internet).

    Args:
        name: ``"cifar10"`` or ``"stl10"``.
        split: ``"train"``/``"test"`` (STL-10 also ``"unlabeled"`` and ``"train+unlabeled"``).
        root: download folder (default ``cache_dir()/torchvision``).
        dtype: ``torch.uint8`` (0-255) or a float dtype (scaled to 0-1).
        timeout: seconds to wait for the server on each connection and read before giving up (the
            process-wide default socket timeout is set to it during the download, then restored).

    Raises:
        DataError: the download failed or timed out (for example offline, or behind a proxy that
            never answers); the shipped subsets need no network.
    """
    if not isinstance(name, str) or name not in TORCHVISION_SPLITS:
        raise ValueError(f"name must be 'cifar10' or 'stl10', got {name!r}")
    _check_split(split, TORCHVISION_SPLITS[name])
    _check_dtype(dtype)
    check_number(timeout, "timeout", low=0, low_open=True, hint="seconds to wait for the server, e.g. 60")
    import torchvision

    root = Path(root) if root is not None else cache_dir() / "torchvision"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib (torchvision's downloader) opens its sockets with it
    try:
        if name == "cifar10":
            ds = torchvision.datasets.CIFAR10(root, train=(split == "train"), download=True)
            images, labels, classes = ds.data.transpose(0, 3, 1, 2), np.array(ds.targets), ds.classes
        else:
            ds = torchvision.datasets.STL10(root, split=split, download=True)
            images, labels, classes = ds.data, np.asarray(ds.labels), ds.classes
    except Exception as e:  # URLError, socket errors, bad archives... all mean "could not fetch"
        offline = ("Offline, use the shipped subsets instead, which need no network: load_cifar10('train') "
                   "(10,000 images) / load_cifar10('test') (2,000) or load_mnist().")
        if _timed_out(e):
            raise DataError(f"Downloading the full {name} data set into {root} timed out: the server did not "
                            f"answer within {timeout:g} s ({type(e).__name__}: {e}). Check the internet "
                            f"connection or proxy, or raise timeout=. {offline}") from e
        raise DataError(f"Could not download the full {name} data set into {root} ({type(e).__name__}: {e}). "
                        f"This needs an internet connection. {offline}") from e
    finally:
        socket.setdefaulttimeout(previous)
    return _finish(images, labels, classes, dtype, None, 0)
