"""Pictures: image grids, training curves and t-SNE maps of features coloured by class."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    img = img.detach().cpu()
    img = img.float() / 255 if img.dtype == torch.uint8 else img.float()
    img = img.clamp(0, 1).permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    return img[..., 0] if img.shape[2] == 1 else img


def show_images(images: torch.Tensor, titles=None, ncols: int = 8, size: float = 1.3,
                axes=None, suptitle: str | None = None):
    """A grid of images (N, C, H, W), uint8 or float in [0, 1], with optional titles.

    Returns:
        The matplotlib figure.
    """
    if images.ndim == 3:
        images = images[None]
    n = len(images)
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
    """Curves of a :class:`sslteach.train.History` (per epoch, or per step with ``per_step``)."""
    source = history.step if per_step else history.epoch
    keys = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in keys if k not in source]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(source)}")
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
    kNN evaluation and contrastive losses use. openTSNE (2 jobs) is 1.6x faster than scikit-learn
    with 2 threads for 5,000 points on 2 cores: 12 s against 19 s (benchmarks/bench_tsne.py).

    - van der Maaten & Hinton, Visualizing Data using t-SNE, 2008.
    - Policar, Strazar, Zupan, openTSNE: a modular Python library for t-SNE, 2024.
    """
    from openTSNE import TSNE

    x = torch.as_tensor(features).float()
    if x.ndim != 2 or len(x) < 5:
        raise ValueError(f"t-SNE needs (N, D) features with N >= 5, got shape {tuple(x.shape)}")
    x = torch.nn.functional.normalize(x, dim=1).double().numpy()
    perplexity = min(perplexity, (len(x) - 2) / 3)  # the neighbourhood must fit in the data
    emb = TSNE(perplexity=perplexity, initialization="pca", n_jobs=2, random_state=seed).fit(x)
    return np.asarray(emb)


def plot_embedding(emb: np.ndarray, labels, classes=None, ax=None, title: str | None = None,
                   legend: bool = True):
    """Scatter a 2-D embedding coloured by class."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    labels = np.asarray(labels)
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

    Returns:
        The figure and a dict ``name -> (N, 2)`` embedding.
    """
    fig, axes = plt.subplots(1, len(features), figsize=(size * len(features), size), squeeze=False)
    embs = {}
    for i, (ax, (name, feats)) in enumerate(zip(axes[0], features.items())):
        embs[name] = tsne(feats, seed=seed)
        plot_embedding(embs[name], labels, classes, ax=ax, title=name, legend=(i == len(features) - 1))
    fig.tight_layout()
    return fig, embs
