"""Offline data: the image loaders, and the check of every shipped file against :mod:`sslteach.registry`.

Every loader checks the file's sha256 before use; image archives are decoded once and the arrays
cached (``sslteach.utils.cache_dir()``), so a second load of CIFAR-10 is a cache hit. A missing or
changed file raises :class:`DataError` naming it and how to restore it; a torn or foreign cache file
is rebuilt, with a warning. Text: :mod:`sslteach.textdata`; the full data sets, online: :mod:`sslteach.online`.

Examples:
    >>> x, y, classes = load_cifar10("train")          # uint8 (10000, 3, 32, 32), (10000,), 10 names
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import warnings
import zipfile
import zlib
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
from PIL import Image

from .registry import SHA256  # noqa: F401  (sslteach.data.SHA256: the registry, re-exported)
from .utils import cache_dir, check_labels, check_number, data_dir

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
PHOTOS = ("astronaut", "chelsea", "coffee")


class DataError(RuntimeError):
    """A data file is missing, corrupt or cannot be fetched; the message says how to fix it."""


class ImageSet(NamedTuple):
    """Images with labels; unpacks as ``x, y, classes = load_cifar10()``."""
    images: torch.Tensor  # (N, C, H, W) uint8 in [0, 255] or float32 in [0, 1]
    labels: torch.Tensor  # (N,) int64
    classes: list


def sha256sum(path: Path) -> str:
    """The sha256 of a file, as 64 lower-case hex digits (compare with :func:`same_digest`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Two hex digests are equal whatever their case (``sha256sum -c`` accepts upper case too)."""
    return a.strip().lower() == b.strip().lower()


def data_file(name: str) -> Path:
    """Path of a shipped file (e.g. ``"images/mnist_5k.csv.gz"``) after checking its sha256.

    Raises:
        DataError: the file is missing or its content differs from the shipped one.
    """
    if not isinstance(name, str):
        raise TypeError(f"the data file name must be a string such as 'images/mnist_5k.csv.gz', got "
                        f"{type(name).__name__} {name!r}")
    if name not in SHA256:
        raise DataError(f"{name!r} is not a shipped data file; expected one of {sorted(SHA256)}")
    path = data_dir() / name
    restore = (f"Restore it with `git checkout -- data/{name}` from the repository root "
               f"(or copy it from a fresh clone); data/README.md lists every file and its source.")
    if not path.is_file():
        raise DataError(f"Data file {path} is missing: expected the shipped file data/{name} "
                        f"(sha256 {SHA256[name]}). {restore}")
    actual = sha256sum(path)
    if not same_digest(actual, SHA256[name]):
        raise DataError(f"Data file {path} is corrupt or was changed: its sha256 is {actual}, "
                        f"expected {SHA256[name]}. {restore}")
    return path


def per_class_indices(labels: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Indices of exactly ``k`` examples of every class, drawn at random with ``seed`` (sorted).

    Args:
        labels: (N,) integer class labels (a tensor, array or list), N >= 1.
        k: examples per class, an int >= 1.
        seed: an int.

    Raises:
        TypeError: labels are not integers, or ``k``/``seed`` is not an int.
        ValueError: labels are empty or not 1-D, ``k`` < 1, or some class has fewer than ``k`` examples.
    """
    labels = check_labels(labels, None)
    if len(labels) == 0:
        raise ValueError("labels is empty: there are no examples to choose from; pass the labels of the data set")
    check_number(k, "k (examples per class)", low=1, integer=True, hint="e.g. k=10")
    check_number(seed, "seed", integer=True)
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < k:
            raise ValueError(f"class {c} has only {len(idx)} examples, cannot take k={k} per class; "
                             f"use k <= {len(idx)}")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.cat(chosen).sort().values


# what each decoded image file must hold: n images of one shape, n_classes balanced classes
IMAGE_ARRAYS = {"images/cifar10_train_10000_jpg.zip": dict(n=10_000, shape=(3, 32, 32), n_classes=10),
                "images/cifar10_test_2000_jpg.zip": dict(n=2_000, shape=(3, 32, 32), n_classes=10),
                "images/mnist_5k.csv.gz": dict(n=5_000, shape=(1, 28, 28), n_classes=10)}

# what reading a torn, truncated or foreign .npz raises
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, OSError, ValueError, zlib.error)


def _image_arrays_problem(arrays: dict, n: int, shape: tuple, n_classes: int) -> str | None:
    """What is wrong with decoded arrays (None if nothing): keys, dtypes, shapes, labels, balance."""
    if set(arrays) != {"images", "labels"}:
        return f"it holds the arrays {sorted(arrays)}, expected ['images', 'labels']"
    x, y = arrays["images"], arrays["labels"]
    if x.dtype != np.uint8 or x.shape != (n, *shape):
        return f"its images are {x.dtype} {x.shape}, expected uint8 {(n, *shape)}"
    if y.dtype != np.int64 or y.shape != (n,):
        return f"its labels are {y.dtype} {y.shape}, expected int64 ({n},)"
    if y.min() < 0 or y.max() >= n_classes:
        return f"its labels run from {y.min()} to {y.max()}, expected 0..{n_classes - 1}"
    counts = np.bincount(y, minlength=n_classes)
    if (counts != n // n_classes).any():
        return f"it holds {counts.tolist()} images per class, expected {n // n_classes} of each"
    return None


def _cached_arrays(name: str, decode: Callable, check: Callable | None = None) -> dict:
    """Decode ``data/name`` once with ``decode(path) -> dict of arrays`` and cache it as .npz.

    ``check(arrays) -> None or a sentence saying what is wrong`` vets both the cache and a fresh
    decode (default: the expectations of :data:`IMAGE_ARRAYS` for an image file, else any arrays).
    The cache also records the sha256 of the file it was decoded from (``source_sha256``), so
    arrays of another file saved under this name are not taken for this one. A cache file that
    cannot be read, or fails either test, is rebuilt with a warning; one that cannot be written (a
    read-only cache folder) only costs a warning, the arrays still come back.
    """
    path = data_file(name)
    if check is None and name in IMAGE_ARRAYS:
        check = partial(_image_arrays_problem, **IMAGE_ARRAYS[name])
    check = check or (lambda arrays: None if arrays else "it holds no arrays")
    try:
        cache = cache_dir() / f"{Path(name).name}.{SHA256[name].lower()[:16]}.npz"
    except (OSError, ValueError) as e:  # the cache folder cannot be created (a file in the way, no permission)
        warnings.warn(f"sslteach: cannot use the cache folder ({e}); decoding data/{name} without caching it. "
                      f"Set SSLTEACH_CACHE to a writable folder.", stacklevel=3)
        cache = None
    problem = None
    if cache is not None and cache.is_file():
        try:
            with open(cache, "rb") as fh, np.load(fh, allow_pickle=False) as f:  # fh: closed even if np.load fails
                arrays = {k: f[k] for k in f.files}
            source = str(arrays.pop("source_sha256", ""))  # the sha256 of the file it was decoded from
            if not source:
                problem = "it does not record which file it was decoded from (an older sslteach wrote it)"
            elif not same_digest(source, SHA256[name]):
                problem = f"it was decoded from a file with sha256 {source[:16]}..., not {SHA256[name][:16]}..."
            else:
                problem = check(arrays)
        except _UNREADABLE as e:  # a torn or foreign cache file
            problem = f"it cannot be read ({type(e).__name__}: {e})"
        if problem is None:
            return arrays
    arrays = decode(path)
    fresh_problem = check(arrays)
    if fresh_problem is not None:
        raise DataError(f"data/{name} decodes to arrays that are not what sslteach expects: {fresh_problem}. "
                        f"Restore the file with `git checkout -- data/{name}`; if it is the shipped file, "
                        f"this is a bug in sslteach.data.")
    if cache is not None:
        tmp = cache.with_name(f"{cache.stem}.tmp{os.getpid()}.npz")
        try:
            np.savez(tmp, **arrays, source_sha256=np.array(SHA256[name].lower()))
            os.replace(tmp, cache)  # atomic: a concurrent reader never sees half a file
        except OSError as e:
            tmp.unlink(missing_ok=True)
            warnings.warn(f"sslteach: could not write the cache file {cache} ({e}); data/{name} will be "
                          f"decoded again next time. Set SSLTEACH_CACHE to a writable folder.", stacklevel=3)
    if problem is not None:
        warnings.warn(f"sslteach: the cache file {cache} did not fit data/{name}: {problem}. Rebuilt it "
                      f"from data/{name}; nothing to do.", stacklevel=3)
    return arrays


_DTYPES = (torch.uint8, torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _check_dtype(dtype) -> torch.dtype:
    """``dtype`` if it is torch.uint8 (0-255) or a float dtype (0-1)."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch dtype: torch.uint8 (0-255) or a float dtype such as "
                        f"torch.float32 (0-1), got {type(dtype).__name__} {dtype!r}; write dtype=torch.float32")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be torch.uint8 (0-255) or a float dtype (0-1), got {dtype}; "
                         f"use torch.uint8 or torch.float32")
    return dtype


def _check_n_per_class(n_per_class) -> None:
    if n_per_class is not None:
        check_number(n_per_class, "n_per_class", low=1, integer=True, hint="or None for every image")


def _finish(images: np.ndarray, labels: np.ndarray, classes, dtype, n_per_class, seed) -> ImageSet:
    _check_dtype(dtype)
    _check_n_per_class(n_per_class)
    x = torch.from_numpy(np.ascontiguousarray(images))
    y = torch.from_numpy(labels.astype(np.int64))
    if n_per_class is not None:
        idx = per_class_indices(y, n_per_class, seed)
        x, y = x[idx], y[idx]
    if dtype != torch.uint8:
        x = x.to(dtype) / 255
    return ImageSet(x, y, list(classes))


def _check_split(split, allowed: tuple) -> str:
    if not isinstance(split, str) or split not in allowed:
        raise ValueError(f"split must be one of {', '.join(map(repr, allowed))}, got {split!r}")
    return split


def _decode_cifar_zip(path: Path) -> dict:
    images, labels = [], []
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir() or not info.filename.endswith(".jpg"):
                continue
            cls = info.filename.split("/")[-2]
            with Image.open(io.BytesIO(zf.read(info))) as im:
                images.append(np.asarray(im.convert("RGB")))
            labels.append(CIFAR10_CLASSES.index(cls))
    x = np.stack(images).transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    return {"images": x, "labels": np.array(labels, dtype=np.int64)}


def load_cifar10(split: str = "train", dtype: torch.dtype = torch.uint8,
                 n_per_class: int | None = None, seed: int = 0) -> ImageSet:
    """The shipped CIFAR-10 subset: 10,000 train (1,000 per class) or 2,000 test (200 per class).

    Args:
        split: ``"train"`` or ``"test"``.
        dtype: ``torch.uint8`` (0-255) or a float dtype (scaled to 0-1).
        n_per_class: keep only this many random images per class (quick mode, exercises).
        seed: seed for that sampling.

    Returns:
        ``ImageSet(images (N, 3, 32, 32), labels (N,), classes)``.

    - Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009.
    """
    files = {"train": "images/cifar10_train_10000_jpg.zip", "test": "images/cifar10_test_2000_jpg.zip"}
    _check_split(split, tuple(files))
    _check_dtype(dtype)
    _check_n_per_class(n_per_class)
    a = _cached_arrays(files[split], _decode_cifar_zip)
    return _finish(a["images"], a["labels"], CIFAR10_CLASSES, dtype, n_per_class, seed)


def _decode_mnist(path: Path) -> dict:
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.uint8)
    return {"images": rows[:, :784].reshape(-1, 1, 28, 28), "labels": rows[:, 784].astype(np.int64)}


def _split_per_class(labels: np.ndarray, split: str, n_test_per_class: int) -> np.ndarray:
    """Deterministic split: the last ``n_test_per_class`` of each class (in file order) are test."""
    if _check_split(split, ("train", "test", "all")) == "all":
        return np.arange(len(labels))
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(idx[-n_test_per_class:] if split == "test" else idx[:-n_test_per_class])
    return np.sort(np.concatenate(keep))


def load_mnist(split: str = "train", dtype: torch.dtype = torch.uint8,
               n_per_class: int | None = None, seed: int = 0) -> ImageSet:
    """The shipped 5,000 MNIST digits (500 per class) as (N, 1, 28, 28).

    ``split``: ``"train"`` (400 per class), ``"test"`` (the last 100 per class) or ``"all"``.

    - LeCun, Cortes, Burges, The MNIST database of handwritten digits, 1998.
    """
    _check_split(split, ("train", "test", "all"))
    _check_dtype(dtype)
    _check_n_per_class(n_per_class)
    a = _cached_arrays("images/mnist_5k.csv.gz", _decode_mnist)
    keep = _split_per_class(a["labels"], split, 100)
    return _finish(a["images"][keep], a["labels"][keep], [str(d) for d in range(10)],
                   dtype, n_per_class, seed)


def load_digits(split: str = "all", dtype: torch.dtype = torch.uint8) -> ImageSet:
    """scikit-learn's 1,797 8×8 digits (a tiny extra), rescaled from 0-16 to 0-255, as (N, 1, 8, 8).

    ``split``: ``"all"``, ``"train"`` or ``"test"`` (the last 30 of each class).
    """
    _check_split(split, ("all", "train", "test"))
    _check_dtype(dtype)
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)[:, None]
    keep = _split_per_class(d.target, split, 30)
    return _finish(images[keep], d.target[keep], [str(k) for k in range(10)], dtype, None, 0)


def load_photo(name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One of the shipped full-size photos (``"astronaut"``, ``"chelsea"``, ``"coffee"``) as (3, H, W):
    float in [0, 1] (the default, float32), or uint8 0-255 with ``dtype=torch.uint8``."""
    if not isinstance(name, str) or name not in PHOTOS:
        raise ValueError(f"photo must be one of {PHOTOS}, got {name!r}")
    _check_dtype(dtype)
    with Image.open(data_file(f"images/{name}.png")) as im:
        x = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)  # (3, H, W)
    return x if dtype == torch.uint8 else x.to(dtype) / 255
