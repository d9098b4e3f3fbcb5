"""Notebook 03's comparisons over seeds: the live SimCLR run, the temperature sweep, crop only.

Every run here has the settings of notebook 03's live run (the classroom recipe, :data:`LIVE`), with
seeds 1, 2, 3 (:data:`SEEDS`): the notebook's own run, seed 0, is a fourth, independent draw of the
``simclr`` experiment, and ``st.within`` checks that it is an ordinary one. The recipe itself is also
the tau = 0.2 point of the temperature sweep and the crop + colour point of the colour ablation, so
``simclr-ablations`` trains only what differs: the three other temperatures and crop only.
"""
from __future__ import annotations

import torch

from ..augment import simclr_augment
from ..contrastive import contrastive_accuracy
from ..data import load_cifar10, per_class_indices
from ..pretrained import build_method, pretrain, recipe_for
from ..probe import extract_features, linear_probe, probe_table
from ..sphere import alignment, uniformity
from ..utils import set_seed
from . import experiment

LIVE = dict(epochs=4)          # notebook 03's live run: the classroom recipe for 4 epochs (5-minute budget)
TAUS = (0.05, 0.1, 0.5)        # the temperature sweep's other points; 0.2, the recipe's, is the simclr experiment
PAIRS = 100                    # held-out test images per class whose two views measure the contrastive task
PAIR_SEEDS = (6, 7)            # the generators of those two views (notebook 03 uses the same)
SEEDS = (1, 2, 3)              # notebook 03's live run is seed 0: an independent fourth draw


def _data(quick: bool):
    return (load_cifar10("train", n_per_class=20 if quick else None),
            load_cifar10("test", n_per_class=10 if quick else None))


def _train(seed: int, quick: bool, device, **overrides):
    """pretrain with notebook 03's live settings (quick: the quick recipe), plus ``overrides``."""
    return pretrain("simclr", seed=seed, quick=quick, device=device, progress=False,
                    **({} if quick else LIVE), **overrides)


def initial_model(seed: int):
    """The SimCLR network (encoder and head) that ``pretrain`` starts from for ``seed``, untrained."""
    with torch.random.fork_rng(devices=[]):
        set_seed(seed)
        return build_method("simclr", recipe_for("simclr"))[0].eval()


def held_out_images(test):
    """:data:`PAIRS` test images of every class (fewer when the set is smaller), as floats in [0, 1].

    The shipped test set is sorted by class, so its first 1,000 images would hold only five classes.
    """
    k = min(PAIRS, int(test.labels.bincount().min()))
    return test.images[per_class_indices(test.labels, k)].float() / 255          # (10 k, 3, 32, 32)


def pair_metrics(model, test, colour: float, device) -> dict:
    """Contrastive accuracy, alignment and uniformity of z on two fixed views of held-out test images.

    The views come from the recipe's augmentation with colour strength ``colour`` (the run's own
    task), drawn by generators :data:`PAIR_SEEDS` from :func:`held_out_images`.
    """
    augment = simclr_augment(32, recipe_for("simclr")["strength"], colour=colour,
                             min_scale=recipe_for("simclr")["min_scale"])
    x = held_out_images(test)
    va, vb = (augment(x, generator=torch.Generator().manual_seed(s)) for s in PAIR_SEEDS)
    z_net = torch.nn.Sequential(model.encoder, model.head)                         # x -> z, what the loss sees
    za, zb = extract_features(z_net, va, device=device), extract_features(z_net, vb, device=device)  # (10 PAIRS, 128)
    return {"held-out contrastive accuracy": contrastive_accuracy(za, zb).item(),
            "alignment": alignment(za, zb).item(), "uniformity": uniformity(torch.cat([za, zb])).item()}


@experiment("simclr", "03", "notebook 03's live SimCLR run (sections 2-5): the classroom recipe for 4 epochs on "
            "the 10,000 training images; linear probe on h (all labels, and 10 per class over 3 label draws), kNN "
            "on h, probe on z, the random-init network of the same seed, and the contrastive accuracy, alignment "
            "and uniformity of z on two views of 1,000 held-out test images (100 per class)", ("classroom recipe",),
            seeds=SEEDS, settings={**recipe_for("simclr"), **LIVE})
def simclr_run(condition, seed, quick, device):
    train, test = _data(quick)
    run = _train(seed, quick, device)
    random = initial_model(seed)
    nets = {"h": run.model.encoder, "random init": random.encoder}
    feats = {n: (extract_features(net, train.images, device=device), extract_features(net, test.images, device=device))
             for n, net in nets.items()}
    table = probe_table(feats, train.labels, test.labels, labels_per_class=(2 if quick else 10, None))
    per_class = "2/class" if quick else "10/class"
    z_net = torch.nn.Sequential(run.model.encoder, run.model.head)
    z_tr, z_te = extract_features(z_net, train.images, device=device), extract_features(z_net, test.images, device=device)
    colour = recipe_for("simclr")["colour"]
    trained, untrained = pair_metrics(run.model, test, colour, device), pair_metrics(random, test, colour, device)
    return {"probe h": table["h"]["all"], "probe h, 10/class": table["h"][per_class], "kNN h": table["h"]["kNN"],
            "probe z": linear_probe(z_tr, train.labels, z_te, test.labels),
            "probe random init": table["random init"]["all"],
            "probe random init, 10/class": table["random init"][per_class],
            **trained, **{f"{k}, random init": v for k, v in untrained.items()},
            "seconds of training": run.info["seconds"]}


ABLATIONS = tuple(f"tau={t}" for t in TAUS) + ("crop only",)


@experiment("simclr-ablations", "03", "notebook 03's section 6: the live run's settings (classroom recipe, 4 epochs, "
            "10,000 images) at temperatures 0.05, 0.1 and 0.5, and with crop-only augmentation (colour strength 0) at "
            "the recipe's tau 0.2; the recipe itself (tau 0.2, crop + colour) is the simclr experiment. Linear probe "
            "on h with all labels; contrastive accuracy of z on two views of 1,000 held-out test images, 100 per class (each run's "
            "own augmentation)", ABLATIONS, seeds=SEEDS, settings={**recipe_for("simclr"), **LIVE})
def simclr_ablation(condition, seed, quick, device):
    train, test = _data(quick)
    crop_only = condition == "crop only"
    colour = 0.0 if crop_only else recipe_for("simclr")["colour"]
    tau = recipe_for("simclr")["temperature"] if crop_only else float(condition.split("tau=")[1])
    run = _train(seed, quick, device, temperature=tau, colour=colour)
    h_tr, h_te = (extract_features(run.encoder, x.images, device=device) for x in (train, test))
    pairs = pair_metrics(run.model, test, colour, device)
    return {"probe h": linear_probe(h_tr, train.labels, h_te, test.labels),
            "held-out contrastive accuracy": pairs["held-out contrastive accuracy"]}
