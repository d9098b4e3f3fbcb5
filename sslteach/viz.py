"""Pictures: image grids, training curves and t-SNE maps of features coloured by class."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .batches import as_float_images
from .findings import Measure
from .utils import check_finite, check_number


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    img = img.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    return img[..., 0] if img.shape[2] == 1 else img


def _numpy(a, name: str) -> np.ndarray:
    """A tensor (any device, any dtype: bfloat16 becomes float32) or array-like as a NumPy array."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        return (a.float() if a.is_floating_point() else a).numpy()
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array or a tensor, got {type(a).__name__}") from e


def show_images(images: torch.Tensor, titles=None, ncols: int = 8, size: float = 1.3,
                axes=None, suptitle: str | None = None):
    """A grid of images (N, C, H, W), uint8 or float in [0, 1], with optional titles.

    Args:
        images: (N, C, H, W) or one image (C, H, W), C = 1 or 3; a NumPy array works too.
        titles: one title per image.
        ncols: images per row.
        size: inches per image.
        axes: draw into these axes (at least N of them) instead of a new figure.
        suptitle: title of the whole figure.

    Returns:
        The matplotlib figure.

    Raises:
        TypeError: not a tensor, or an integer dtype other than uint8.
        ValueError: wrong shape, no image, NaN, float values outside [0, 1] (0-255 floats, or
            normalised images), or titles/axes that do not match the number of images.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"show_images expects a tensor of images (N, C, H, W), got {type(images).__name__}; "
                        f"for a list of images use torch.stack(images)")
    if images.ndim == 3:
        images = images[None]
    images = as_float_images(images, "show_images")     # (N, C, H, W) float in [0, 1], checked
    n = len(images)
    check_number(ncols, "ncols", low=1, integer=True, hint="images per row, e.g. 8")
    check_number(size, "size", low=0, low_open=True, hint="inches per image, e.g. 1.3")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles; pass one title per image (\"\" for none)")
    if axes is not None and np.size(axes) < n:
        raise ValueError(f"got {n} images but only {np.size(axes)} axes; pass at least one axis per image, "
                         f"or leave axes out for a new figure")
    if axes is None:
        nrows = int(np.ceil(n / ncols))
        ncols = min(ncols, n)
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (titles is not None)),
                                 squeeze=False)
    else:
        fig = np.ravel(axes)[0].figure
    axes = np.ravel(axes)
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(_to_hwc(images[i]), cmap="gray" if images.shape[1] == 1 else None,
                      vmin=0, vmax=1, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history, keys=("loss",), ax=None, per_step: bool = False, label: str | None = None):
    """Curves of a :class:`sslteach.train.History` (per epoch, or per step with ``per_step``).

    Raises:
        TypeError: ``history`` is not a History.
        KeyError: a key the history does not hold (the message lists those it has).
    """
    if not (hasattr(history, "epoch") and hasattr(history, "step")):
        raise TypeError(f"plot_history expects the History that fit(...) returns, got {type(history).__name__}")
    source = history.step if per_step else history.epoch
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise ValueError(f"keys is empty; name at least one curve, e.g. keys='loss' (it has {sorted(source)})")
    missing = [k for k in keys if k not in source]
    if missing:
        raise KeyError(f"history has no {missing}{' per step' if per_step else ''}; it has {sorted(source)}: "
                       f"pass keys= from those")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for k in keys:
        x = np.arange(1, len(source[k]) + 1)
        ax.plot(x, source[k], marker=None if per_step else "o", label=f"{label} {k}" if label else k)
    ax.set_xlabel("step" if per_step else "epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def tsne(features: torch.Tensor, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding of (N, D) features (openTSNE, PCA initialisation).

    Features are L2-normalised first, so the map reflects cosine similarity, which is what the
    kNN evaluation and contrastive losses use. openTSNE (2 jobs) is faster than scikit-learn on a
    2-core CPU (see the README's performance table; benchmarks/bench_tsne.py measures both).

    Args:
        features: (N, D) finite features, N >= 5 (a tensor or an array).
        seed: seed of the layout.
        perplexity: effective number of neighbours, > 0; lowered to ``(N - 2) / 3`` when N is too
            small for it (the neighbourhood must fit in the data).

    Returns:
        (N, 2) float64 NumPy array.

    - van der Maaten & Hinton, Visualizing Data using t-SNE, 2008.
    - Policar, Strazar, Zupan, openTSNE: a modular Python library for t-SNE, 2024.
    """
    from openTSNE import TSNE

    x = torch.as_tensor(_numpy(features, "features")).detach().cpu().float()
    hint = {1: "; for one number per point use features[:, None]",
            4: "; for images, extract features first (extract_features) or flatten them: x.flatten(1)"}
    if x.ndim != 2 or len(x) < 5 or x.shape[1] == 0:
        raise ValueError(f"t-SNE needs (N, D) features with N >= 5 points and D >= 1, got shape "
                         f"{tuple(x.shape)}{hint.get(x.ndim, '; pass at least 5 points')}")
    check_finite(x, "the features given to tsne", "drop those rows, or check the encoder (a diverged run gives NaN)")
    check_number(perplexity, "perplexity", low=0, low_open=True, hint="typical values 5 to 50")
    check_number(seed, "seed", integer=True)
    x = torch.nn.functional.normalize(x, dim=1).double().numpy()
    perplexity = min(perplexity, (len(x) - 2) / 3)  # the neighbourhood must fit in the data
    emb = TSNE(perplexity=perplexity, initialization="pca", n_jobs=2, random_state=seed).fit(x)
    return np.asarray(emb)


def _check_labels(labels, n: int, classes) -> np.ndarray:
    """(n,) non-negative integer class labels, each with a name in ``classes`` when given."""
    labels = _numpy(labels, "labels")
    if labels.shape != (n,):
        raise ValueError(f"labels must hold one class per point: expected shape ({n},), got {labels.shape}")
    if n == 0:
        raise ValueError("there are no points to draw; pass at least one")
    if labels.dtype.kind not in "iub" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}; convert with "
                        f"labels.long() (or map names to indices)")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {labels.min()}")
    if classes is not None and labels.max() >= len(classes):
        raise ValueError(f"label {labels.max()} has no name: classes holds only {len(classes)} names; "
                         f"pass one name per class (or classes=None)")
    return labels


def plot_embedding(emb: np.ndarray, labels, classes=None, ax=None, title: str | None = None,
                   legend: bool = True):
    """Scatter a 2-D embedding (N, 2) coloured by class; ``labels`` (N,) are integer classes that
    index ``classes`` (names) when given."""
    emb = _numpy(emb, "emb")
    if emb.ndim != 2 or emb.shape[1] != 2:
        raise ValueError(f"emb must be a 2-D embedding (N, 2), got shape {emb.shape}; make one with tsne(features)")
    if not np.isfinite(emb).all():
        raise ValueError("emb holds NaN or infinite values; compute it again from finite features")
    labels = _check_labels(labels, len(emb), classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    cmap = plt.get_cmap("tab10" if labels.max() < 10 else "tab20")
    for c in np.unique(labels):
        pts = emb[labels == c]
        name = classes[c] if classes is not None else str(c)
        ax.scatter(pts[:, 0], pts[:, 1], s=4, color=cmap(int(c) % cmap.N), label=name)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return ax


def tsne_panels(features: dict, labels, classes=None, seed: int = 0, size: float = 4.5):
    """Side-by-side t-SNE maps, e.g. ``{"random init": h0, "after SimCLR": h1}`` ("before/after").

    Args:
        features: ``{"panel name": (N, D) features}``, all with the N points of ``labels``.
        labels: (N,) integer classes; classes: their names.

    Returns:
        The figure and a dict ``name -> (N, 2)`` embedding.
    """
    if not isinstance(features, dict):
        raise TypeError(f"features must be a dict {{'name': (N, D) features}}, got {type(features).__name__}; "
                        f"for one map use plot_embedding(tsne(features), labels)")
    if not features:
        raise ValueError("features is an empty dict; pass at least one {'name': (N, D) features}")
    n = len(_numpy(labels, "labels"))
    for name, feats in features.items():   # fail before the first (slow) t-SNE
        if len(feats) != n:
            raise ValueError(f"features[{name!r}] has {len(feats)} rows but labels has {n}; "
                             f"pass the features of the labelled points, in order")
    _check_labels(labels, n, classes)
    fig, axes = plt.subplots(1, len(features), figsize=(size * len(features), size), squeeze=False)
    embs = {}
    for i, (ax, (name, feats)) in enumerate(zip(axes[0], features.items())):
        embs[name] = tsne(feats, seed=seed)
        plot_embedding(embs[name], labels, classes, ax=ax, title=name, legend=(i == len(features) - 1))
    fig.tight_layout()
    return fig, embs


def plot_measures(measures: dict, ax=None, *, live: dict | None = None, ylabel: str = "accuracy (%)",
                  title: str | None = None, xlabel: str | None = None, connect: bool = False):
    """Every run of each measurement as a dot, its mean ± one standard deviation as a bar, and a
    notebook's live single run (``live={name: value}``) as a star beside it.

    The y-axis is scaled to the data with a margin, never cut so close that a point looks like a cliff;
    each bar is labelled with its mean. ``connect=True`` joins the means (for an ordered setting
    such as a temperature).

    Returns:
        The matplotlib axes.
    """
    names = list(measures) if isinstance(measures, dict) else []
    if not names:
        raise ValueError("plot_measures needs at least one named measurement")
    ms = {n: v if isinstance(v, Measure) else Measure(v) for n, v in measures.items()}
    scale = 100 if next(iter(ms.values())).unit == "%" else 1
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 1.5), 3.2))
    xs = range(len(names))
    means = [scale * ms[n].mean for n in names]
    ax.errorbar(xs, means, yerr=[scale * ms[n].std for n in names], fmt="s" if not connect else "s-",
                color="C0", ms=7, capsize=5, label=f"mean ± sd ({ms[names[0]].n} {ms[names[0]].what})", zorder=3)
    for i, n in enumerate(names):
        ax.plot([i] * ms[n].n, [scale * v for v in ms[n].values], "o", color="C0", alpha=0.35, ms=5, zorder=2)
        ax.annotate(f"{means[i]:.{ms[n].digits}f}", (i, means[i]), textcoords="offset points", xytext=(9, -3), fontsize=8)
    values = [scale * v for n in names for v in ms[n].values]
    if live:
        unknown = [k for k in live if k not in ms]
        if unknown:
            raise ValueError(f"live names {unknown} are not among the measures {names}")
        lx = [names.index(k) + 0.18 for k in live]
        ly = [scale * check_number(float(v), f"live[{k!r}]") for k, v in live.items()]
        ax.plot(lx, ly, "*", color="C3", ms=12, label="this notebook's run", zorder=4)
        values += ly
    lo, hi = min(values), max(values)
    pad = max(0.15 * (hi - lo), 0.02 * max(abs(hi), 1e-9), 1.0 if scale == 100 else 0.0)
    ax.set_ylim(lo - 2 * pad, hi + 2 * pad)
    ax.set_xticks(list(xs), names)
    ax.set(ylabel=ylabel, title=title, xlabel=xlabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax
