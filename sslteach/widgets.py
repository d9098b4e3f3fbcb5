"""Interactive widgets for the notebooks (ipywidgets).

Each widget is a thin shell over package functions: the picture it shows is computed by a plain
function (``augmentation_views``, ``temperature_figure``) that tests call directly, and the
widget classes expose their controls as attributes so tests can set them and check the output.
Pictures are shown as PNG ``ipywidgets.Image`` values, so they render in JupyterLab, Voilà and
in saved notebooks alike.
"""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import torch

from . import augment as A
from .contrastive import anchor_distribution, info_nce

OPS = ("crop", "flip", "colour jitter", "grayscale", "blur", "noise", "cutout")


def augmentation_ops(names, strength: float = 1.0, size: int = 32) -> A.Compose:
    """The chosen augmentations at a given strength (0 = off, 1 = SimCLR's recipe).

    Each chosen op is always applied (probability 1) so its effect is visible, except the flip
    (probability 0.5) and grayscale (probability ``min(strength, 1)``).
    """
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from {OPS}")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    s, c = float(strength), min(float(strength), 1.0)
    table = {
        "crop": lambda: A.RandomResizedCrop(size, scale=(1 - 0.92 * c, 1.0), ratio=((3 / 4) ** c, (4 / 3) ** c)),
        "flip": lambda: A.RandomHorizontalFlip(p=0.5),
        "colour jitter": lambda: A.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.2 * s, 0.5), p=1.0),
        "grayscale": lambda: A.RandomGrayscale(p=c),
        "blur": lambda: A.GaussianBlur(kernel_size=max(3, size // 10 * 2 + 1), sigma=(0.1, 0.1 + 2 * s), p=1.0),
        "noise": lambda: A.GaussianNoise(std=0.1 * s, p=1.0),
        "cutout": lambda: A.Cutout(size=min(0.5 * s, 1.0), p=1.0),
    }
    return A.Compose([table[n]() for n in OPS if n in names])  # canonical order


def augmentation_views(image: torch.Tensor, names, strength: float = 1.0, n_views: int = 8,
                       seed: int = 0, size: int | None = None) -> torch.Tensor:
    """``n_views`` random views of one float image (C, H, W) in [0, 1] -> (n_views, C, size, size)."""
    if image.ndim != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    size = size or min(image.shape[-2:])
    batch = image.unsqueeze(0).expand(n_views, -1, -1, -1).contiguous()
    if "crop" not in names:  # without a crop, bring the image to size x size by a central crop
        batch = A.RandomResizedCrop(size, scale=(1.0, 1.0), ratio=(1.0, 1.0)).apply(
            batch, *_central_square(image, n_views))
    return augmentation_ops(names, strength, size)(batch, torch.Generator().manual_seed(seed))


def _central_square(image, n):
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return [torch.full((n,), v) for v in (top, left, side, side)]


def png_of_images(images: torch.Tensor, ncols: int = 8, scale: int = 1) -> bytes:
    """A grid of images (N, C, H, W) in [0, 1] as PNG bytes (nearest-neighbour upscaling)."""
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=ncols, padding=2, pad_value=1.0)
    img = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_of_figure(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


class AugmentationExplorer:
    """Pick an image, the augmentations and their strength; see a grid of random views.

    Args:
        images: ``{"name": image (C, H, W) float in [0, 1]}`` to choose from.
        n_views: views in the grid.
        size: output size of each view (default: the image's shorter side).

    Display it by leaving ``explorer.widget`` (or the explorer itself) last in a cell.
    """

    def __init__(self, images: dict, n_views: int = 16, size: int | None = None):
        import ipywidgets as W

        if not images:
            raise ValueError("AugmentationExplorer needs at least one image")
        self.images, self.n_views, self.size, self.seed = images, n_views, size, 0
        self.image = W.Dropdown(options=list(images), description="image")
        self.ops = W.SelectMultiple(options=OPS, value=("crop", "flip", "colour jitter", "grayscale"),
                                    description="ops", rows=len(OPS))
        self.strength = W.FloatSlider(value=1.0, min=0.0, max=1.5, step=0.05, description="strength",
                                      continuous_update=False)
        self.resample = W.Button(description="new sample", icon="refresh")
        self.picture = W.Image(format="png")
        for control in (self.image, self.ops, self.strength):
            control.observe(lambda _: self.redraw(), names="value")
        self.resample.on_click(lambda _: self.new_sample())
        self.widget = W.HBox([W.VBox([self.image, self.ops, self.strength, self.resample]), self.picture])
        self.redraw()

    def new_sample(self) -> None:
        self.seed += 1
        self.redraw()

    def redraw(self) -> None:
        image = self.images[self.image.value]
        self.views = augmentation_views(image, self.ops.value, self.strength.value, self.n_views,
                                        self.seed, self.size)
        scale = max(1, 96 // self.views.shape[-1])
        self.picture.value = png_of_images(self.views, ncols=int(self.n_views ** 0.5 + 0.5), scale=scale)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def hard_negative_share(probs: torch.Tensor, positive: int, k: int = 5) -> float:
    """Share of the negatives' probability (= their share of the gradient) on the ``k`` hardest."""
    neg = torch.cat([probs[:positive], probs[positive + 1:]])
    return (neg.topk(min(k, len(neg))).values.sum() / neg.sum().clamp_min(1e-30)).item()


def temperature_summary(z1: torch.Tensor, z2: torch.Tensor, anchor: int, tau: float) -> dict:
    """The numbers the temperature widget shows for one anchor at temperature ``tau``."""
    d = anchor_distribution(z1, z2, anchor, tau)
    return {"tau": tau, "loss": info_nce(z1, z2, tau).item(), "anchor_loss": d.loss,
            "p_positive": d.p_positive, "hard5": hard_negative_share(d.probs, d.positive),
            "positive_rank": int((d.sims > d.sims[d.positive]).sum()) + 1, "dist": d}


def temperature_figure(z1: torch.Tensor, z2: torch.Tensor, anchor: int = 0, tau: float = 0.5,
                       images: torch.Tensor | None = None, taus=None):
    """Left: the softmax over the anchor's 2N-1 candidates, sorted by similarity (positive in
    green). Right: the batch's InfoNCE loss and the hardest-5 share of the negatives' weight
    against τ, with the current τ marked. With ``images`` (2N views), the anchor, its positive and
    its hardest negatives are drawn above."""
    info = temperature_summary(z1, z2, anchor, tau)
    d = info["dist"]
    order = d.sims.argsort(descending=True)
    taus = taus if taus is not None else torch.logspace(-2, 1, 40).tolist()
    curves = [temperature_summary(z1, z2, anchor, t) for t in taus]
    fig = plt.figure(figsize=(11, 5.6 if images is not None else 3.6))
    rows = 2 if images is not None else 1
    gs = fig.add_gridspec(rows, 2, height_ratios=[1, 2.2][-rows:], width_ratios=[1.3, 1])
    ax = fig.add_subplot(gs[-1, 0])
    colours = ["C2" if i == d.positive else "0.6" for i in order.tolist()]
    ax.bar(range(len(order)), d.probs[order].cpu().numpy(), color=colours, width=1.0)
    ax.set(xlabel="candidates, most similar first (green: the positive)", ylabel="softmax probability",
           title=f"anchor {anchor} at tau = {tau:.3g}: p(positive) = {info['p_positive']:.2f}, "
                 f"rank {info['positive_rank']}")
    ax.set_ylim(0, 1)
    ax2 = fig.add_subplot(gs[-1, 1])
    ax2.plot(taus, [c["loss"] for c in curves], label="InfoNCE loss (batch)")
    ax2.set(xscale="log", xlabel="temperature tau", ylabel="loss")
    ax3 = ax2.twinx()
    ax3.plot(taus, [c["hard5"] for c in curves], color="C3", label="weight on 5 hardest negatives")
    ax3.set_ylim(0, 1.02)
    ax3.set_ylabel("share of negatives' weight", color="C3")
    ax2.axvline(tau, color="k", ls=":")
    ax2.set_title(f"loss {info['loss']:.3f}; hardest-5 share {info['hard5']:.2f}")
    ax2.legend(loc="upper left", fontsize=8), ax3.legend(loc="lower right", fontsize=8)
    if images is not None:
        picks = [anchor, int(d.candidates[d.positive])] + [int(d.candidates[i]) for i in order[:6].tolist()
                                                            if i != d.positive][:5]
        labels = ["anchor", "positive"] + [f"neg p={d.probs[(d.candidates == j).nonzero()[0, 0]]:.2f}"
                                           for j in picks[2:]]
        strip = fig.add_gridspec(2, len(picks), height_ratios=[1, 2.2], left=0.1, right=0.9, top=0.97)
        for i, (j, label) in enumerate(zip(picks, labels)):
            a = fig.add_subplot(strip[0, i])
            a.imshow(images[j].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy())
            a.set_title(label, fontsize=8, color="C2" if i == 1 else "k")
            a.axis("off")
    fig.tight_layout() if images is None else None
    return fig, info


class TemperatureExplorer:
    """A τ slider (log scale, 0.01-10) and an anchor slider over real embeddings of a batch.

    Args:
        z1, z2: (N, D) projections of the two views of N images.
        images: optional (2N, C, H, W) views in the order of ``torch.cat([x1, x2])``.
    """

    def __init__(self, z1: torch.Tensor, z2: torch.Tensor, images: torch.Tensor | None = None,
                 tau: float = 0.5):
        import ipywidgets as W

        self.z1, self.z2, self.images = z1.detach().cpu(), z2.detach().cpu(), images
        self.tau = W.FloatLogSlider(value=tau, base=10, min=-2, max=1, step=0.05, description="tau",
                                    continuous_update=False)
        self.anchor = W.IntSlider(value=0, min=0, max=2 * len(z1) - 1, description="anchor",
                                  continuous_update=False)
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        for control in (self.tau, self.anchor):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HBox([self.tau, self.anchor]), self.readout, self.picture])
        self.redraw()

    def redraw(self) -> None:
        fig, self.info = temperature_figure(self.z1, self.z2, self.anchor.value, self.tau.value, self.images)
        self.picture.value = png_of_figure(fig)
        i = self.info
        self.readout.value = (f"<b>tau = {i['tau']:.3g}</b> &nbsp; batch loss {i['loss']:.3f} &nbsp; "
                              f"anchor loss {i['anchor_loss']:.3f} &nbsp; p(positive) {i['p_positive']:.3f} "
                              f"&nbsp; weight on 5 hardest negatives {100 * i['hard5']:.0f}%")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


__all__ = ["OPS", "AugmentationExplorer", "augmentation_ops", "augmentation_views", "png_of_images",
           "png_of_figure", "TemperatureExplorer", "temperature_figure", "temperature_summary",
           "hard_negative_share"]


# --- word embeddings (notebook 06) ----------------------------------------------------------------

def neighbour_figure(emb, word: str, k: int = 10):
    """Horizontal bar chart of the ``k`` nearest neighbours of ``word`` by cosine similarity.

    Args:
        emb: :class:`sslteach.wordeval.Embeddings`.
        word: a vocabulary word; an unknown one raises :class:`sslteach.wordeval.UnknownWordError`
            (a KeyError whose message suggests close words).
        k: number of neighbours.

    Returns:
        ``(fig, neighbours)`` with ``neighbours = emb.most_similar(word, k)``: ``[(word, cosine), ...]``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    neighbours = emb.most_similar(word, k=k)  # raises UnknownWordError with suggestions
    names, sims = [w for w, _ in neighbours], [s for _, s in neighbours]
    fig, ax = plt.subplots(figsize=(5.5, 0.9 + 0.28 * len(names)))
    ax.barh(range(len(names)), sims, color="C0")
    for i, s in enumerate(sims):
        ax.text(s, i, f" {s:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()  # most similar on top
    ax.set_xlim(min(0.0, min(sims)), 1.1)  # room for the value labels
    ax.set(xlabel="cosine similarity", title=f"nearest neighbours of '{word}'")
    fig.tight_layout()
    return fig, neighbours


class WordNeighbours:
    """Type a word, see its nearest neighbours and a bar chart of their cosine similarities.

    Args:
        emb: :class:`sslteach.wordeval.Embeddings`.
        k: neighbours shown at first (a slider changes it, 1-30).
        word: the first word; default the most frequent word of the vocabulary.
        suggestions: how many of the most frequent words the text box offers while typing.

    An unknown word shows the :class:`~sslteach.wordeval.UnknownWordError` message (with close
    vocabulary words) instead of a chart. Display it by leaving it last in a cell.
    """

    def __init__(self, emb, k: int = 10, word: str | None = None, suggestions: int = 1000):
        import ipywidgets as W

        if len(emb) < 2:
            raise ValueError(f"WordNeighbours needs at least 2 words, the vocabulary has {len(emb)}")
        self.emb, self.neighbours = emb, []
        self.word = W.Combobox(value=word if word is not None else emb.words[0], description="word",
                               options=emb.words[:suggestions], ensure_option=False,
                               continuous_update=False, placeholder="type a word and press Enter")
        self.k = W.IntSlider(value=k, min=1, max=min(30, len(emb) - 1), description="k",
                             continuous_update=False)
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        for control in (self.word, self.k):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HBox([self.word, self.k]), self.readout, self.picture])
        self.redraw()

    def redraw(self) -> None:
        from html import escape

        from .wordeval import UnknownWordError

        word = self.word.value.strip().lower()
        if not word:
            self.neighbours, self.readout.value = [], "Type a word and press Enter."
            self.picture.layout.display = "none"
            return
        try:
            fig, self.neighbours = neighbour_figure(self.emb, word, self.k.value)
        except UnknownWordError as err:
            self.neighbours = []
            self.readout.value = f"<span style='color:#b00'>{escape(str(err))}</span>"
            self.picture.layout.display = "none"
            return
        self.picture.value = png_of_figure(fig)
        self.picture.layout.display = None
        self.readout.value = (f"<b>{escape(word)}</b>: " +
                              ", ".join(f"{escape(w)} ({s:.2f})" for w, s in self.neighbours))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


__all__ += ["neighbour_figure", "WordNeighbours"]


# --- autoencoders (notebook 05) -------------------------------------------------------------------

CORRUPTIONS = ("masked", "noise", "dropout")


def corruption_preview(model: torch.nn.Module, images: torch.Tensor, kind: str = "masked",
                       level: float = 0.5, patch_size: int = 4, seed: int = 0) -> dict:
    """Corrupt ``images`` and reconstruct them with ``model`` (eval mode, no grad, on its device).

    Args:
        model: an autoencoder, (N, C, H, W) -> (N, C, H, W) in [0, 1].
        images: (N, C, H, W) float images in [0, 1] (or uint8).
        kind: ``"masked"`` (``level`` = mask ratio), ``"noise"`` (``level`` = noise std) or
            ``"dropout"`` (``level`` = pixel drop probability).
        patch_size: side of a masked patch.
        seed: seed of the corruption.

    Returns:
        ``{"x": clean, "x_in": corrupted, "x_hat": reconstruction}`` (each (N, C, H, W), CPU),
        ``"mse"``: mean squared error of the reconstruction against the clean images and
        ``"mse_hidden"``: the same over masked pixels only (``None`` unless ``kind="masked"``).
    """
    from .autoencoder import Corruption, masked_mse, reconstruct
    from .train import as_float_images

    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")
    levels = {"masked": dict(mask_ratio=level), "noise": dict(noise_std=level), "dropout": dict(drop_p=level)}
    x = as_float_images(images).float().cpu()
    g = torch.Generator().manual_seed(seed)
    x_c, mask = Corruption(patch_size=patch_size, generator=g, **levels[kind]).with_mask(x)
    device = next(model.parameters()).device
    _, x_hat = reconstruct(model, x_c, batch_size=len(x_c), device=device)     # (N, C, H, W)
    hidden = masked_mse(x_hat, x, mask).item() if kind == "masked" and mask.sum() > 0 else None
    return {"x": x, "x_in": x_c, "x_hat": x_hat, "mse": ((x_hat - x) ** 2).mean().item(),
            "mse_hidden": hidden}


class MaskExplorer:
    """Slide the mask ratio (or noise level) and see the corrupted input and the reconstruction.

    Each column of the picture is one image: clean on top, corrupted in the middle, the model's
    reconstruction below.

    Args:
        models: an autoencoder, or ``{"name": autoencoder}`` to choose from with a dropdown.
        images: (N, C, H, W) images (a few, e.g. 8) in [0, 1] or uint8.
        kind: the first corruption shown: ``"masked"``, ``"noise"`` or ``"dropout"``.
        patch_size: side of a masked patch.
    """

    def __init__(self, models, images: torch.Tensor, kind: str = "masked", patch_size: int = 4):
        import ipywidgets as W

        self.models = models if isinstance(models, dict) else {"model": models}
        if not self.models or kind not in CORRUPTIONS:
            raise ValueError(f"MaskExplorer needs at least one model and kind in {CORRUPTIONS}, "
                             f"got {len(self.models)} models and kind={kind!r}")
        self.images, self.patch_size, self.seed = images, patch_size, 0
        self.model = W.Dropdown(options=list(self.models), description="model")
        self.kind = W.Dropdown(options=CORRUPTIONS, value=kind, description="corruption")
        self.level = W.FloatSlider(value=0.5, min=0.0, max=0.95, step=0.05, description="ratio / std",
                                   continuous_update=False)
        self.resample = W.Button(description="new mask", icon="refresh")
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        for control in (self.model, self.kind, self.level):
            control.observe(lambda _: self.redraw(), names="value")
        self.resample.on_click(lambda _: self.new_sample())
        self.widget = W.VBox([W.HBox([self.model, self.kind]), W.HBox([self.level, self.resample]),
                              self.readout, self.picture])
        self.redraw()

    def new_sample(self) -> None:
        self.seed += 1
        self.redraw()

    def redraw(self) -> None:
        self.result = r = corruption_preview(self.models[self.model.value], self.images, self.kind.value,
                                             self.level.value, self.patch_size, self.seed)
        grid = torch.cat([r["x"], r["x_in"], r["x_hat"]])                      # (3N, C, H, W)
        self.picture.value = png_of_images(grid, ncols=len(r["x"]), scale=max(1, 96 // grid.shape[-1]))
        hidden = "" if r["mse_hidden"] is None else f" &nbsp; on hidden pixels {r['mse_hidden']:.4f}"
        self.readout.value = (f"rows: clean / {self.kind.value} ({self.level.value:.2f}) / reconstruction"
                              f" &nbsp; <b>MSE {r['mse']:.4f}</b>{hidden}")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


__all__ += ["CORRUPTIONS", "corruption_preview", "MaskExplorer"]
