"""Collapse switchboard (notebook 08): flip SimSiam's and BYOL's switches and watch the outputs collapse, or not.

Every setting of the switches is one short run of :func:`sslteach.pretrain` (:data:`SHORT`: 45 steps
of 128 images, 2,000 images in all), whose per-step loss, spread of the normalised outputs
(``std · √D``) and effective rank are its curves (:func:`collapse_run`). The switchboard draws the
stored curves of the shipped grid at once (every combination, made by ``python -m sslteach sweep
collapse-grid``) and trains the same run live at the press of a button, tens of seconds on a CPU::

    board = CollapseSwitchboard(st.load_sweep("collapse-grid"))   # or CollapseSwitchboard() without it
    board.stop_gradient.value = False                              # the picture changes at once
    board.run_live()                                               # what the button does

- Chen & He, Exploring Simple Siamese Representation Learning (SimSiam), 2021.
- Grill et al., Bootstrap Your Own Latent (BYOL), 2020.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt

from ..data import load_cifar10
from ..pretrained import initial_encoder, pretrain
from ..probe import extract_features, knn_accuracy
from ..utils import check_number, quick_mode
from .common import png_of_figure

GRID = "collapse-grid"                   # the shipped sweep of every switch setting (sslteach.sweeps.siamese)
SHORT = dict(n_per_class=200, epochs=3)  # each run: 3 epochs of 15 batches of 128 = 45 steps on 2,000 images
LRS = (1e-3, 3e-3, 1e-2, 3e-2)           # the learning-rate slider (AdamW, cosine decay)
WEIGHT_DECAYS = (1e-4, 0.1)              # the weight-decay buttons
DEFAULT_LR, DEFAULT_WD = 3e-3, 1e-4      # where the switchboard starts
READ_OUT = dict(train=200, test=100)     # images per class of the kNN read-out (the 2,000 trained on; 1,000 test)
CURVES = ("loss", "std", "erank")        # per step: loss, std · √D of the normalised z, effective rank of z


def switch_recipe(stop_gradient: bool = True, predictor: bool = True, momentum: bool = False,
                  lr: float = DEFAULT_LR, weight_decay: float = DEFAULT_WD, quick: bool = False) -> tuple[str, dict]:
    """``(method, overrides)`` of the short run for these switches: ``"byol"`` with momentum (an EMA
    target, the recipe's m), else ``"simsiam"`` (shared weights); quick mode keeps the quick recipe's size."""
    for name, flag in (("stop_gradient", stop_gradient), ("predictor", predictor), ("momentum", momentum),
                       ("quick", quick)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if momentum and not stop_gradient:
        raise ValueError("momentum=True needs stop_gradient=True: BYOL's EMA target gets no gradient anyway, so "
                         "there is nothing to stop; switch momentum off to see what stop-gradient does")
    lr = check_number(lr, "lr", low=0, low_open=True, hint=f"e.g. {DEFAULT_LR}")
    weight_decay = check_number(weight_decay, "weight_decay", low=0, hint=f"e.g. {DEFAULT_WD}")
    overrides = dict({} if quick else SHORT, stop_gradient=stop_gradient, predictor=predictor, lr=lr,
                     weight_decay=weight_decay)
    return ("byol" if momentum else "simsiam"), overrides


def condition_name(stop_gradient: bool = True, predictor: bool = True, momentum: bool = False,
                   lr: float = DEFAULT_LR, weight_decay: float = DEFAULT_WD) -> str:
    """The grid's name for a setting, e.g. ``"SimSiam, stop-gradient on, predictor on, lr 0.003, wd 0.0001"``."""
    switch_recipe(stop_gradient, predictor, momentum, lr, weight_decay)  # checks the values
    on = {True: "on", False: "off"}
    return (f"{'BYOL' if momentum else 'SimSiam'}, stop-gradient {on[stop_gradient]}, predictor {on[predictor]}, "
            f"lr {lr:g}, wd {weight_decay:g}")


def grid_settings() -> list[dict]:
    """Every setting of the shipped grid: the 6 valid switch combinations × :data:`LRS` × :data:`WEIGHT_DECAYS`."""
    switches = [dict(stop_gradient=s, predictor=p, momentum=False) for s in (True, False) for p in (True, False)]
    switches += [dict(stop_gradient=True, predictor=p, momentum=True) for p in (True, False)]
    return [dict(sw, lr=lr, weight_decay=wd) for sw in switches for lr in LRS for wd in WEIGHT_DECAYS]


def read_out_sets(quick: bool = False):
    """The kNN read-out's images: the first :data:`READ_OUT` per class of the shipped train and test sets."""
    return (load_cifar10("train", n_per_class=20 if quick else READ_OUT["train"]),
            load_cifar10("test", n_per_class=10 if quick else READ_OUT["test"]))


def collapse_run(stop_gradient: bool = True, predictor: bool = True, momentum: bool = False, lr: float = DEFAULT_LR,
                 weight_decay: float = DEFAULT_WD, *, seed: int = 0, quick: bool = False, device=None,
                 progress: bool = False) -> dict:
    """Train one short run with these switches and return its curves and read-out.

    Returns:
        ``{"loss": [...], "std": [...], "erank": [...]}`` one value per step (``std`` is
        :func:`~sslteach.collapse.output_std` of the batch's z times √D: about 1 spread evenly over
        the sphere, 0 every image one point), ``"knn"`` and ``"knn random init"`` (cosine kNN on h,
        :data:`READ_OUT` images) and ``"seconds"`` of training.
    """
    method, overrides = switch_recipe(stop_gradient, predictor, momentum, lr, weight_decay, quick)
    run = pretrain(method, seed=seed, quick=quick, device=device, progress=progress, **overrides)
    d = run.recipe["out_dim"]
    steps = run.history.step
    train, test = read_out_sets(quick)
    knn = {}
    for name, enc in (("knn", run.encoder), ("knn random init", initial_encoder(method, seed=seed, **overrides))):
        h_tr, h_te = (extract_features(enc, x.images, device=device) for x in (train, test))
        knn[name] = knn_accuracy(h_tr, train.labels, h_te, test.labels)
    return {"loss": steps["loss"], "std": [s * math.sqrt(d) for s in steps["std"]], "erank": steps["erank"],
            **knn, "seconds": run.info["seconds"]}


def to_metrics(result: dict) -> dict:
    """A :func:`collapse_run` result as flat ``{metric: number}`` (what a sweep stores): ``"loss at step 007"``..."""
    flat = {f"{c} at step {i:03d}": v for c in CURVES for i, v in enumerate(result[c])}
    return {**flat, **{k: v for k, v in result.items() if k not in CURVES}}


def from_metrics(metrics: dict) -> dict:
    """The inverse of :func:`to_metrics` (values may be one-element lists, as a sweep stores them)."""
    def one(v):
        return v[0] if isinstance(v, (list, tuple)) else v
    out = {c: [one(v) for k, v in sorted(metrics.items()) if k.startswith(f"{c} at step ")] for c in CURVES}
    return {**out, **{k: one(v) for k, v in metrics.items() if " at step " not in k}}


def stored_run(grid, **setting) -> dict | None:
    """The stored curves of one setting in a loaded grid sweep, or None (no grid, or the setting is not in it)."""
    if grid is None:
        return None
    name = condition_name(**setting)
    if name not in grid.record["results"]:
        return None
    return from_metrics(grid.record["results"][name])


def verdict(result: dict) -> str:
    """Plain words for the end of a run: complete collapse, collapse onto a few directions, or spread out."""
    std, erank = result["std"][-1], result["erank"][-1]
    if std < 0.2:
        return f"complete collapse: std·√D {std:.2f} (every image near one point)"
    if erank < 10:
        return f"spread along few directions: std·√D {std:.2f}, effective rank {erank:.1f}"
    return f"spread out: std·√D {std:.2f}, effective rank {erank:.1f}"


def switchboard_figure(stored: dict | None = None, live: dict | None = None, title: str = ""):
    """Three panels over the training steps: loss, std·√D of the normalised outputs, effective rank.

    ``stored`` (solid) and ``live`` (dashed, this machine) are :func:`collapse_run` results; either may
    be None. The std panel spans 0 to above 1 (0: complete collapse; about 1: spread evenly over the
    sphere); the loss panel shows its minimum, −1.
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    runs = [(r, style, label) for r, style, label in ((stored, "-", "stored grid run"), (live, "--", "live run here"))
            if r is not None]
    for r, style, label in runs:
        steps = range(1, len(r["loss"]) + 1)
        for ax, key, colour in zip(axes, CURVES, ("C0", "C3", "C2")):
            ax.plot(steps, r[key], style, color=colour, label=label)
    axes[0].axhline(-1, color="0.5", ls=":", lw=1, label="minimum −1")
    axes[1].axhline(1, color="0.5", ls=":", lw=1, label="spread evenly (1)")
    top = max([1.1] + [max(r["std"]) * 1.1 for r, _, _ in runs])
    axes[1].set_ylim(0, top)
    axes[2].set_ylim(0, max([10.0] + [max(r["erank"]) * 1.1 for r, _, _ in runs]))
    for ax, name in zip(axes, ("loss (−cos, training batches)", "std·√D of the normalised z", "effective rank of z")):
        ax.set(xlabel="training step", title=name)
        ax.grid(alpha=0.3)
    if runs:
        axes[0].legend(fontsize=8, loc="upper right")
        axes[1].legend(fontsize=8, loc="lower left")
    else:
        for ax in axes:
            ax.text(0.5, 0.5, "no stored run:\npress 'train live'", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


SWITCH_ROWS = (("SimSiam", True, True, False), ("no stop-gradient", False, True, False),
               ("no predictor", True, False, False), ("neither", False, False, False),
               ("BYOL", True, True, True), ("BYOL, no predictor", True, False, True))  # (label, sg, pred, momentum)


def grid_summary_figure(grid, metric: str = "std"):
    """The whole grid at a glance: one heatmap per weight decay, a row per switch setting, a column per
    learning rate, each cell the run's final ``std·√D`` (``metric="std"``, 0 to 1) or its kNN on h minus
    random init's in points (``metric="knn"``). Settings missing from ``grid`` are left blank."""
    import numpy as np

    if metric not in ("std", "knn"):
        raise ValueError(f"metric must be 'std' or 'knn', got {metric!r}")
    fig, axes = plt.subplots(1, len(WEIGHT_DECAYS), figsize=(4.2 * len(WEIGHT_DECAYS) + 1, 3.4), squeeze=False)
    for ax, wd in zip(axes[0], WEIGHT_DECAYS):
        values = np.full((len(SWITCH_ROWS), len(LRS)), np.nan)
        for i, (_, sg, pred, mom) in enumerate(SWITCH_ROWS):
            for j, lr in enumerate(LRS):
                r = stored_run(grid, stop_gradient=sg, predictor=pred, momentum=mom, lr=lr, weight_decay=wd)
                if r is not None:
                    values[i, j] = r["std"][-1] if metric == "std" else 100 * (r["knn"] - r["knn random init"])
        if metric == "std":
            im = ax.imshow(values, cmap="viridis", vmin=0, vmax=1.0, aspect="auto")
        else:
            span = max(1.0, float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0)
            im = ax.imshow(values, cmap="RdBu", vmin=-span, vmax=span, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}" if metric == "std" else f"{v:+.1f}", ha="center", va="center", fontsize=8,
                        color="w" if (metric == "std" and v < 0.5) else "k")
        ax.set_xticks(range(len(LRS)), [f"{lr:g}" for lr in LRS])
        ax.set_yticks(range(len(SWITCH_ROWS)), [r[0] for r in SWITCH_ROWS])
        ax.set(xlabel="learning rate", title=f"weight decay {wd:g}")
    label = "final std·√D of z (0: collapsed)" if metric == "std" else "kNN on h minus random init (points)"
    fig.colorbar(im, ax=axes[0].tolist(), label=label, shrink=0.9)
    return fig


class CollapseSwitchboard:
    """Toggles for stop-gradient, the predictor and momentum, a learning-rate slider and weight-decay
    buttons; the picture shows the stored curves of the grid for that setting at once, and the
    button trains it live (:func:`collapse_run`, tens of seconds on a CPU), drawn dashed beside them.

    Args:
        grid: the loaded ``collapse-grid`` sweep (``st.load_sweep("collapse-grid")``), or None: then
            only live runs are drawn.
        seed: of the live runs (the grid's is 0).
        quick: live runs with the quick recipe (default :func:`sslteach.quick_mode`).
        device: of the live runs.

    Controls (ipywidgets, each named by its ``description``): ``stop_gradient`` ("stop-gradient"),
    ``predictor`` ("predictor"), ``momentum`` ("momentum (BYOL)"), ``lr`` ("learning rate", a
    SelectionSlider over :data:`LRS`), ``weight_decay`` ("weight decay", ToggleButtons over
    :data:`WEIGHT_DECAYS`), ``train`` (a Button, "train live"). With momentum on, stop-gradient is
    on and greyed out: an EMA target gets no gradient anyway.
    """

    def __init__(self, grid=None, *, seed: int = 0, quick: bool | None = None, device=None):
        import ipywidgets as W

        if grid is not None and not isinstance(getattr(grid, "record", None), dict):
            raise TypeError(f"grid must be a loaded sweep (st.load_sweep('{GRID}')) or None, got {type(grid).__name__}")
        self.grid, self.seed, self.device = grid, check_number(seed, "seed", low=0, integer=True), device
        self.quick = quick_mode() if quick is None else quick
        self.live: dict = {}                                          # condition name -> live result
        self.stop_gradient = W.Checkbox(value=True, description="stop-gradient", indent=False)
        self.predictor = W.Checkbox(value=True, description="predictor", indent=False)
        self.momentum = W.Checkbox(value=False, description="momentum (BYOL)", indent=False)
        self.lr = W.SelectionSlider(options=[(f"{v:g}", v) for v in LRS], value=DEFAULT_LR,
                                    description="learning rate", continuous_update=False)
        self.weight_decay = W.ToggleButtons(options=[(f"{v:g}", v) for v in WEIGHT_DECAYS], value=DEFAULT_WD,
                                            description="weight decay")
        self.train = W.Button(description="train live", tooltip="a short run here: tens of seconds on a CPU")
        self.picture, self.readout = W.Image(format="png"), W.HTML()
        for control in (self.stop_gradient, self.predictor, self.momentum, self.lr, self.weight_decay):
            control.observe(self._changed, names="value")
        self.train.on_click(lambda _: self.run_live())
        self.widget = W.VBox([W.HBox([self.stop_gradient, self.predictor, self.momentum, self.train]),
                              W.HBox([self.lr, self.weight_decay]), self.readout, self.picture])
        self.redraw()

    def setting(self) -> dict:
        """The switches and optimiser values the controls show now."""
        return dict(stop_gradient=self.stop_gradient.value, predictor=self.predictor.value,
                    momentum=self.momentum.value, lr=self.lr.value, weight_decay=self.weight_decay.value)

    def _changed(self, change) -> None:
        if change["owner"] is self.momentum:
            self.stop_gradient.disabled = self.momentum.value
            if self.momentum.value and not self.stop_gradient.value:
                self.stop_gradient.value = True                      # redraws through its own observer
                return
        self.redraw()

    def redraw(self) -> None:
        s = self.setting()
        name = condition_name(**s)
        self.stored, live = stored_run(self.grid, **s), self.live.get(name)
        self.picture.value = png_of_figure(switchboard_figure(self.stored, live, title=name))
        parts = []
        for label, r in (("stored", self.stored), ("live", live)):
            if r is not None:
                parts.append(f"<b>{label}</b>: {verdict(r)}; kNN on h {100 * r['knn']:.1f}% "
                             f"(random init {100 * r['knn random init']:.1f}%), final loss {r['loss'][-1]:.3f}")
        if self.stored is None:
            parts.insert(0, "no stored run of this setting" + (" (no grid loaded)" if self.grid is None else "")
                         + ": press <i>train live</i>")
        self.readout.value = "<br>".join(parts)

    def run_live(self) -> dict:
        """Train the current setting here (what the button does), keep it and redraw; returns the result."""
        s = self.setting()
        self.train.disabled, self.train.description = True, "training..."
        self.readout.value = f"training {condition_name(**s)} here: tens of seconds..."
        try:
            result = collapse_run(**s, seed=self.seed, quick=self.quick, device=self.device)
        finally:
            self.train.disabled, self.train.description = False, "train live"
        self.live[condition_name(**s)] = result
        self.redraw()
        return result

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
