"""Notebook 03's comparisons over seeds: the classroom SimCLR run, the temperature sweep, crop only."""
from __future__ import annotations

import torch

from ..augment import simclr_augment
from ..contrastive import contrastive_accuracy
from ..data import load_cifar10
from ..pretrained import initial_encoder, pretrain, recipe_for
from ..probe import extract_features, knn_accuracy, linear_probe
from . import experiment

SHORT = dict(epochs=3, n_per_class=400)   # notebook 03's short runs (section 6): 3 epochs on 4,000 images
TAUS = (0.05, 0.1, 0.2, 0.5)
PAIRS = 1000                              # held-out test images for the contrastive accuracy


def _data(quick: bool):
    return (load_cifar10("train", n_per_class=20 if quick else None),
            load_cifar10("test", n_per_class=10 if quick else None))


def _probe(encoder, train, test, device, labels_per_class=None, draws=(0,)) -> float:
    h_tr, h_te = extract_features(encoder, train.images, device=device), extract_features(encoder, test.images, device=device)
    accs = [linear_probe(h_tr, train.labels, h_te, test.labels, labels_per_class=labels_per_class, seed=d) for d in draws]
    return sum(accs) / len(accs)


def held_out_accuracy(model, test, colour: float, min_scale: float, device) -> float:
    """Contrastive accuracy on z of two fixed views (generators 6 and 7) of the first test images."""
    augment = simclr_augment(32, colour=colour, min_scale=min_scale)
    x = test.images[:PAIRS].float() / 255
    va, vb = (augment(x, generator=torch.Generator().manual_seed(s)) for s in (6, 7))
    z = torch.nn.Sequential(model.encoder, model.head)
    za, zb = extract_features(z, va, device=device), extract_features(z, vb, device=device)
    return contrastive_accuracy(za, zb).item()


@experiment("simclr", "03", "notebook 03's classroom SimCLR run (section 3-4): probe on h and z, kNN, and the "
            "random-init encoder of the same seed", ("classroom recipe",), settings=recipe_for("simclr"))
def simclr_run(condition, seed, quick, device):
    train, test = _data(quick)
    run = pretrain("simclr", seed=seed, quick=quick, device=device, progress=False)
    random = initial_encoder("simclr", seed=seed)
    z_net = torch.nn.Sequential(run.model.encoder, run.model.head)
    h_tr, h_te = (extract_features(run.encoder, x.images, device=device) for x in (train, test))
    return {"probe h": linear_probe(h_tr, train.labels, h_te, test.labels),
            "probe h, 10/class": sum(linear_probe(h_tr, train.labels, h_te, test.labels, labels_per_class=10 if not quick else 2,
                                                  seed=d) for d in range(3)) / 3,
            "kNN h": knn_accuracy(h_tr, train.labels, h_te, test.labels, k=min(20, len(h_tr))),
            "probe z": _probe(z_net, train, test, device),
            "probe random init": _probe(random, train, test, device),
            "seconds of training": run.info["seconds"]}


ABLATIONS = tuple(f"tau={t}" for t in TAUS) + ("crop only, tau=0.2",)


@experiment("simclr-ablations", "03", "notebook 03's section 6: short runs (3 epochs, 4,000 images) at four "
            "temperatures, and crop-only augmentation (colour strength 0) at tau 0.2; probe on h with all labels, "
            "contrastive accuracy on z of held-out test pairs", ABLATIONS, settings={**recipe_for("simclr"), **SHORT})
def simclr_ablation(condition, seed, quick, device):
    train, test = _data(quick)
    tau = float(condition.split("tau=")[1])
    colour = 0.0 if condition.startswith("crop only") else recipe_for("simclr")["colour"]
    short = dict(epochs=1, n_per_class=20) if quick else SHORT
    run = pretrain("simclr", seed=seed, device=device, progress=False, temperature=tau, colour=colour, **short)
    return {"probe": _probe(run.encoder, train, test, device),
            "held-out contrastive accuracy": held_out_accuracy(run.model, test, colour, recipe_for("simclr")["min_scale"], device)}
