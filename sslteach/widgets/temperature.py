"""Temperature explorer (notebook 03): the softmax over one anchor's candidates as tau moves."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..contrastive import anchor_distribution, info_nce
from ..batches import as_float_images
from ..utils import check_finite, check_number
from .common import png_of_figure

TAU_RANGE = (0.01, 10.0)  # what the explorer's slider spans


def hard_negative_share(probs: torch.Tensor, positive: int, k: int = 5) -> float:
    """Share of the negatives' probability (= their share of the gradient) on the ``k`` hardest.

    Args:
        probs: (M,) probabilities over one anchor's candidates (``AnchorDistribution.probs``), M >= 2.
        positive: index of the positive among them.
        k: how many of the hardest negatives to add up (capped at M - 1).
    """
    if not isinstance(probs, torch.Tensor) or probs.ndim != 1 or len(probs) < 2:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise ValueError(f"probs must be a 1-D tensor over at least 2 candidates, got {shape}; "
                         f"use anchor_distribution(z1, z2, anchor, tau).probs")
    check_finite(probs, "probs", "compute them with anchor_distribution from finite projections")
    positive = check_number(positive, "positive", low=0, high=len(probs) - 1, integer=True,
                            hint="the index of the positive among the candidates (AnchorDistribution.positive)")
    k = check_number(k, "k", low=1, integer=True, hint="how many hardest negatives to count, e.g. 5")
    neg = torch.cat([probs[:positive], probs[positive + 1:]])
    return (neg.topk(min(k, len(neg))).values.sum() / neg.sum().clamp_min(1e-30)).item()


def temperature_summary(z1: torch.Tensor, z2: torch.Tensor, anchor: int, tau: float) -> dict:
    """The numbers the temperature widget shows for one anchor at temperature ``tau``.

    Args:
        z1, z2: (N, D) projections of the two views, N >= 2.
        anchor: view index in ``0 .. 2N-1``.
        tau: temperature > 0.
    """
    tau = check_number(tau, "tau", low=0, low_open=True, hint="typical values 0.05 to 1")
    anchor = check_number(anchor, "anchor", low=0, integer=True, hint="a view index in 0 .. 2N-1")
    d = anchor_distribution(z1, z2, anchor, tau)
    return {"tau": tau, "loss": info_nce(z1, z2, tau).item(), "anchor_loss": d.loss,
            "p_positive": d.p_positive, "hard5": hard_negative_share(d.probs, d.positive),
            "positive_rank": int((d.sims > d.sims[d.positive]).sum()) + 1, "dist": d}


def temperature_figure(z1: torch.Tensor, z2: torch.Tensor, anchor: int = 0, tau: float = 0.5,
                       images: torch.Tensor | None = None, taus=None):
    """Left: the softmax over the anchor's 2N-1 candidates, sorted by similarity (positive in
    green), its y-axis scaled to the largest probability, with the uniform 1/(2N-1) dotted. Right: the batch's InfoNCE loss and the hardest-5 share of the negatives' weight
    against τ, with the current τ marked. With ``images`` (2N views), the anchor, its positive and
    its hardest negatives are drawn above; ``taus`` (default 0.01 to 10) are the curves' τ values.

    Returns:
        ``(fig, info)``, ``info`` as :func:`temperature_summary` returns it.
    """
    info = temperature_summary(z1, z2, anchor, tau)
    d = info["dist"]
    order = d.sims.argsort(descending=True)
    images = _check_views_images(images, len(z1))
    if taus is None:
        taus = torch.logspace(-2, 1, 40).tolist()
    taus = [check_number(t, "each of taus", low=0, low_open=True, hint="temperatures, e.g. [0.05, 0.1, 0.5]")
            for t in taus]
    if not taus:
        raise ValueError("taus is empty; pass some temperatures, or None for 0.01 to 10")
    curves = [temperature_summary(z1, z2, anchor, t) for t in taus]
    fig = plt.figure(figsize=(11, 5.6 if images is not None else 3.6))
    rows = 2 if images is not None else 1
    gs = fig.add_gridspec(rows, 2, height_ratios=[1, 2.2][-rows:], width_ratios=[1.3, 1])
    ax = fig.add_subplot(gs[-1, 0])
    colours = ["C2" if i == d.positive else "0.6" for i in order.tolist()]
    probs = d.probs[order].cpu()                                   # (2N-1,) most similar first
    ax.bar(range(len(order)), probs.numpy(), color=colours, width=1.0)
    uniform = 1 / len(probs)                                       # what every candidate gets as tau -> infinity
    ax.axhline(uniform, color="k", ls=":", lw=1, label=f"uniform 1/(2N-1) = {uniform:.3f}")
    ax.set(xlabel="candidates, most similar first (green: the positive)", ylabel="softmax probability",
           title=f"anchor {anchor} at tau = {tau:.3g}: p(positive) = {info['p_positive']:.3f}, "
                 f"rank {info['positive_rank']}")
    ax.set_ylim(0, 1.15 * max(probs.max().item(), uniform))       # scaled to the data: small p stay visible
    ax.legend(loc="upper right", fontsize=8)
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
            img = images[j].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()  # (H, W, C)
            a.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=1)
            a.set_title(label, fontsize=8, color="C2" if i == 1 else "k")
            a.axis("off")
    fig.tight_layout() if images is None else None
    return fig, info


def _check_views_images(images, n: int):
    """None, or the 2N views (2N, C, H, W) as float in [0, 1]."""
    if images is None:
        return None
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor of the 2N views (2N, C, H, W), got {type(images).__name__}")
    images = as_float_images(images, "images")
    if len(images) != 2 * n:
        raise ValueError(f"images must hold the 2N = {2 * n} views in the order of torch.cat([x1, x2]), "
                         f"got {len(images)}; pass torch.cat([x1, x2]) (or images=None)")
    return images


class TemperatureExplorer:
    """A τ slider (log scale, 0.01-10) and an anchor slider over real embeddings of a batch.

    Args:
        z1, z2: (N, D) projections z = g(f(x)) of the two views of N images: what the InfoNCE loss
            sees (notebook 03 passes z of its trained SimCLR network, head included).
        images: optional (2N, C, H, W) views in the order of ``torch.cat([x1, x2])``.
        tau: the first temperature, within the slider's 0.01 to 10.
    """

    def __init__(self, z1: torch.Tensor, z2: torch.Tensor, images: torch.Tensor | None = None,
                 tau: float = 0.5):
        import ipywidgets as W

        for name, z in (("z1", z1), ("z2", z2)):
            if not isinstance(z, torch.Tensor):
                raise TypeError(f"{name} must be a tensor of projections (N, D), got {type(z).__name__}")
        tau = check_number(tau, "tau", low=TAU_RANGE[0], high=TAU_RANGE[1],
                           hint="the slider spans 0.01 to 10 (log scale); typical values 0.05 to 1")
        temperature_summary(z1, z2, 0, tau)  # the shapes and values of z1, z2, now rather than at the first redraw
        self.z1, self.z2 = z1.detach().cpu(), z2.detach().cpu()
        self.images = _check_views_images(images, len(z1))
        self.tau = W.FloatLogSlider(value=tau, base=10, min=-2, max=1, step=0.05, description="tau",  # TAU_RANGE
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
