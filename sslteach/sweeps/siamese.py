"""Notebook 08's experiments over seeds: MoCo's queue, SimSiam's four switches, the collapse grid, equal budgets.

- ``moco-queue`` (section 1): SimCLR at batch 128 and 32, MoCo at batch 32 with a queue of 4,096 keys,
  the same epochs; the random-init encoder of the same seed as the baseline.
- ``simsiam-collapse`` (section 2): notebook 08's four live SimSiam runs (full, no stop-gradient, no
  predictor, neither; the switchboard's short run, :data:`sslteach.widgets.collapse.SHORT`), read
  out on held-out images: spread and effective rank of the normalised z, linear probe and kNN on h.
  The notebook's own runs (seed 0) are one more draw of each condition.
- ``collapse-grid`` (section 3): the stored curves of the collapse switchboard, one seed, every
  setting of :func:`sslteach.widgets.collapse.grid_settings`.
- ``equal-budget`` (section 5): SimCLR, MoCo, BYOL, SimSiam and Barlow Twins with their recipes for
  the same epochs (:data:`BUDGET`; their steps cost about the same, benchmarks/bench_siamese.py), read
  the same way. Seed 0 also saves each encoder to ``data/models/<method>_equal_budget.pt`` (quick:
  the temporary sweep folder) for the notebook's t-SNE maps: :func:`equal_budget_encoder`.
"""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import torch

from ..collapse import effective_rank, output_std
from ..data import SHA256, DataError, data_file, load_cifar10, sha256sum
from ..pretrained import initial_encoder, load_encoder, pretrain
from ..probe import extract_features, probe_table
from ..recipes import build_method, recipe_for
from ..utils import data_dir, set_seed
from ..widgets.collapse import SHORT, collapse_run, condition_name, grid_settings, to_metrics
from . import experiment

BATCH_32 = dict(batch_size=32, epochs=3)        # moco-queue: 3 epochs at batch 32 (936 steps)
QUEUE = 4096                                    # MoCo's queue there: 128 batches of keys, under the 10,000 images
BUDGET = dict(epochs=4)                         # equal-budget: every method's recipe for 4 epochs (312 steps)
METHODS = {"SimCLR": "simclr", "MoCo": "moco", "BYOL": "byol", "SimSiam": "simsiam", "Barlow Twins": "barlow"}
SWITCHES = {"full": dict(stop_gradient=True, predictor=True), "no stop-gradient": dict(stop_gradient=False, predictor=True),
            "no predictor": dict(stop_gradient=True, predictor=False), "neither": dict(stop_gradient=False, predictor=False)}
HELD_OUT = 1000                                 # test images whose z measures the spread and the rank
PROBE_SHORT = 200                               # simsiam-collapse: probe on the 2,000 images trained on (200/class)


def data(quick: bool, n_per_class: int | None = None):
    """Train and test images: all (or ``n_per_class`` of the train set); small balanced subsets in quick mode."""
    return (load_cifar10("train", n_per_class=20 if quick else n_per_class),
            load_cifar10("test", n_per_class=10 if quick else None))


def projection_net(model: torch.nn.Module) -> torch.nn.Module:
    """x -> z of a pre-training model: its encoder and its head or projector (what the loss sees)."""
    head = getattr(model, "projector", None)
    head = getattr(model, "head", None) if head is None else head
    if head is None:
        raise ValueError(f"{type(model).__name__} has no projector or head")
    return torch.nn.Sequential(model.encoder, head)


def initial_model(method: str, seed: int = 0, **overrides) -> torch.nn.Module:
    """The whole network (encoder and heads) that ``pretrain(method, seed=seed, **overrides)`` starts
    from, untrained, in eval mode; the global random state is left alone."""
    with torch.random.fork_rng(devices=[]):
        set_seed(seed)
        return build_method(method, recipe_for(method, **overrides))[0].eval()


def held_out_z(model, test, device) -> torch.Tensor:
    """z of the first :data:`HELD_OUT` test images as the loss sees z in training: one batch, BatchNorm
    with that batch's statistics (on a copy, so the model's running statistics stay as they are)."""
    net = copy.deepcopy(projection_net(model)).to(device).train()
    x = test.images[:HELD_OUT].to(device).float() / 255                       # (HELD_OUT, C, H, W)
    with torch.no_grad():
        return net(x).float().cpu()                                           # (HELD_OUT, D)


def z_spread(model, test, device) -> dict:
    """``std · √D`` (:func:`~sslteach.collapse.output_std`) and effective rank of :func:`held_out_z`."""
    z = held_out_z(model, test, device)
    return {"std·√D of z": output_std(z).item() * math.sqrt(z.shape[1]), "effective rank of z": effective_rank(z).item()}


def read_h(encoder, train, test, device, labels_per_class=(10, None)) -> dict:
    """Linear probe on h (10 labels per class over 3 draws, and all), and kNN."""
    feats = {"h": (extract_features(encoder, train.images, device=device), extract_features(encoder, test.images, device=device))}
    row = probe_table(feats, train.labels, test.labels, labels_per_class=labels_per_class)["h"]
    return {("probe h" if k == "all" else f"probe h, {k}" if k != "kNN" else "kNN h"): v for k, v in row.items()}


# ---- section 1: negatives from a queue ----------------------------------------------------------------

MOCO_QUEUE = ("random init", "SimCLR, batch 128", "SimCLR, batch 32", f"MoCo, batch 32, queue {QUEUE}")


@experiment("moco-queue", "08", f"notebook 08's section 1: SimCLR (tau 0.2) at batch 128 and at batch 32, and MoCo v2 "
            f"(tau 0.2, key momentum 0.99) at batch 32 with a queue of {QUEUE} keys, each for {BATCH_32['epochs']} epochs "
            f"on the 10,000 training images (their recipes otherwise); linear probe on h (all labels, and 10 per "
            f"class over 3 label draws) and kNN, against the random-init encoder of the same seed", MOCO_QUEUE,
            settings=dict(epochs=BATCH_32["epochs"], queue_size=QUEUE))
def moco_queue(condition, seed, quick, device):
    train, test = data(quick)
    size = {} if quick else BATCH_32
    if condition == "random init":
        return read_h(initial_encoder("simclr", seed=seed), train, test, device)
    if condition.startswith("SimCLR"):
        batch = 128 if "128" in condition else 32
        run = pretrain("simclr", seed=seed, quick=quick, device=device, progress=False, **dict(size, batch_size=batch))
    else:
        run = pretrain("moco", seed=seed, quick=quick, device=device, progress=False,
                       **dict(size, queue_size=QUEUE if not quick else 128, batch_size=32))
    return {**read_h(run.encoder, train, test, device), "seconds of training": run.info["seconds"]}


# ---- section 2: what stops the collapse -------------------------------------------------------------

@experiment("simsiam-collapse", "08", "notebook 08's section 2: SimSiam (the simsiam recipe, AdamW) for 45 steps of "
            "128 images on 2,000 training images (200 per class), four ways: full, without stop-gradient, without "
            "predictor, neither; and the untrained network of the same seed. Spread (std of the L2-normalised z "
            "times sqrt(D)) and effective rank of z on 1,000 test images; linear probe on h with the 2,000 training "
            "images' labels and kNN, tested on the 2,000 test images", ("random init", *SWITCHES),
            settings=dict(SHORT, held_out=HELD_OUT, probe_per_class=PROBE_SHORT))
def simsiam_collapse(condition, seed, quick, device):
    train, test = data(quick, PROBE_SHORT)
    if condition == "random init":
        model, out = initial_model("simsiam", seed), {}                       # what pretrain starts from
    else:
        run = pretrain("simsiam", seed=seed, quick=quick, device=device, progress=False,
                       **({} if quick else SHORT), **SWITCHES[condition])
        model, steps = run.model, run.history.step["loss"]
        out = {"final loss": sum(steps[-5:]) / len(steps[-5:]), "seconds of training": run.info["seconds"]}
    return {**z_spread(model, test, device), **read_h(model.encoder, train, test, device, labels_per_class=(None,)), **out}


# ---- section 3: the switchboard's stored curves -------------------------------------------------------

GRID_CONDITIONS = tuple(condition_name(**s) for s in grid_settings())


@experiment("collapse-grid", "08", "the collapse switchboard's stored curves (notebook 08, section 3): every switch "
            "setting (SimSiam with and without stop-gradient and predictor; BYOL with and without predictor) at each "
            "learning rate and weight decay of the switchboard, the short run of "
            "sslteach.widgets.collapse.collapse_run (45 steps of 128 on 2,000 images); per step the loss, std*sqrt(D) "
            "and effective rank of the batch's z; kNN on h (2,000 train / 1,000 test images) against random init",
            GRID_CONDITIONS, seeds=(0,), settings=dict(SHORT))
def collapse_grid(condition, seed, quick, device):
    setting = grid_settings()[GRID_CONDITIONS.index(condition)]
    return to_metrics(collapse_run(**setting, seed=seed, quick=quick, device=device))


# ---- section 5: every method at one budget -------------------------------------------------------------

def _models_dir(quick: bool) -> Path:
    return (Path(os.environ.get("TMPDIR", "/tmp")) / "sslteach-sweeps") if quick else data_dir() / "models"


def model_file(method: str) -> str:
    """``models/<method>_equal_budget.pt``: where the equal-budget sweep saves its seed-0 encoder (in data/)."""
    return f"models/{METHODS.get(method, method)}_equal_budget.pt"


def equal_budget_encoder(method: str):
    """The seed-0 encoder of the equal-budget sweep for ``method`` ("BYOL" or "byol"), sha256 checked.

    Read from ``data/`` (registered in :data:`sslteach.registry.SHA256`), or, when ``$SSLTEACH_RESULTS`` is
    set, unchecked from that folder (where a quick sweep writes them).
    """
    name = model_file(method)
    if os.environ.get("SSLTEACH_RESULTS"):
        path = Path(os.environ["SSLTEACH_RESULTS"]) / Path(name).name
        if not path.is_file():
            raise FileNotFoundError(f"no {path}: run `python -m sslteach sweep equal-budget --quick` (or with "
                                    f"$SSLTEACH_RESULTS unset, read data/{name})")
        return load_encoder(path)
    if name not in SHA256:
        raise DataError(f"data/{name} is not shipped (not registered in sslteach.registry.SHA256): run `python -m sslteach "
                        f"sweep equal-budget` and register the printed lines")
    return load_encoder(data_file(name))


@experiment("equal-budget", "08", f"notebook 08's section 5: SimCLR, MoCo, BYOL, SimSiam and Barlow Twins, each with "
            f"its recipe for {BUDGET['epochs']} epochs on the 10,000 training images (batch 128), and the random-init "
            f"encoder of the same seed; linear probe on h (all labels, and 10 per class over 3 label draws), kNN, the "
            f"training time, and the spread and effective rank of z on 1,000 test images. Seed 0 saves each encoder "
            f"to data/models/<method>_equal_budget.pt", ("random init", *METHODS), settings=dict(BUDGET))
def equal_budget(condition, seed, quick, device):
    train, test = data(quick)
    if condition == "random init":
        return read_h(initial_encoder("simclr", seed=seed), train, test, device)
    run = pretrain(METHODS[condition], seed=seed, quick=quick, device=device, progress=False,
                   **({} if quick else BUDGET))
    if seed == 0:
        path = _models_dir(quick) / Path(model_file(condition)).name
        run.save(path)
        Path(f"{path}.sha256").unlink(missing_ok=True)          # data/ files are checked through sslteach.registry.SHA256
        print(f'    "{model_file(condition)}": "{sha256sum(path)}",   # {path}')
    return {**read_h(run.encoder, train, test, device), **z_spread(run.model, test, device),
            "seconds of training": run.info["seconds"]}
