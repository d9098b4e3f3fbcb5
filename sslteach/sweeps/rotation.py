"""Notebook 04's comparisons over seeds: RotNet's blocks against the random-init encoder's, and 2, 4 or 8 rotations.

Every RotNet here has the settings of notebook 04's live run (the rotation recipe with :data:`LIVE` on
top), so the notebook's own run (seed 0) is one more draw of the ``4 rotations`` condition. The
``random init`` condition reads the encoder that ``pretrain`` starts from for the same seed (the
same weights for every ``k``: the encoder is built before the head). Every encoder is read the
same way: a linear probe (all training labels) on each block's map pooled to a grid of at most
:data:`MAX_FEATURES` features, and on one global average per block; on ``h`` with 10 labels per
class (mean of 3 label draws) and by kNN.
"""
from __future__ import annotations

import torch

from ..data import load_cifar10
from ..pretrained import initial_encoder, pretrain, recipe_for
from ..probe import extract_features, probe_table
from ..rotation import probe_blocks, rotation_predictions
from . import experiment

LIVE = dict(epochs=2)          # notebook 04's live run: the rotation recipe for 2 epochs (5-minute budget)
MAX_FEATURES = 1024            # grid protocol: each block's map pooled to the finest grid with <= 1024 features
CONDITIONS = ("random init", "4 rotations", "2 rotations", "8 rotations")
QUICK_DATA = dict(train=60, test=20)   # images per class in quick mode (notebook 04 uses the same)


def data(quick: bool):
    """The shipped CIFAR-10 train and test sets (a small balanced subset in quick mode)."""
    return (load_cifar10("train", n_per_class=QUICK_DATA["train"] if quick else None),
            load_cifar10("test", n_per_class=QUICK_DATA["test"] if quick else None))


def read_encoder(encoder, train, test, device) -> dict:
    """Linear probe on every block (grid and global average), and on ``h`` with 10 labels per class and kNN."""
    grid = probe_blocks(encoder, train.images, train.labels, test.images, test.labels, knn=False,
                        device=device, max_features=MAX_FEATURES)
    avg = probe_blocks(encoder, train.images, train.labels, test.images, test.labels, knn=False, device=device)
    h = (extract_features(encoder, train.images, device=device), extract_features(encoder, test.images, device=device))
    table = probe_table({"h": h}, train.labels, test.labels, labels_per_class=(10,))["h"]   # 3 label draws
    return {**{f"probe block {r['block']}, grid": r["probe"] for r in grid},
            **{f"probe block {r['block']}, global average": r["probe"] for r in avg},
            "probe h": avg[-1]["probe"],                 # h is the last block's global average
            "probe h, 10/class": table["10/class"], "kNN h": table["kNN"]}


def symmetry_quarters(test) -> tuple:
    """Indices of the most and the least rotation-symmetric quarter of the test images: the mean
    absolute pixel change under a 90° turn, lowest quarter and highest quarter."""
    x = test.images.float() / 255
    change = (x - torch.rot90(x, 1, dims=(2, 3))).abs().mean(dim=(1, 2, 3))   # (M,) 0 = unchanged by the turn
    quarters = change.argsort().chunk(4)
    return quarters[0], quarters[-1]


def rotation_metrics(model, test, device) -> dict:
    """Test rotation accuracy, overall and on the most / least symmetric quarter of the test images."""
    probs = rotation_predictions(model, test.images, device=device)            # (M, k, k)
    hit = (probs.argmax(-1) == torch.arange(model.k)).float()                  # (M, k)
    most, least = symmetry_quarters(test)
    return {"rotation accuracy": hit.mean().item(),
            "rotation accuracy, most symmetric quarter": hit[most].mean().item(),
            "rotation accuracy, least symmetric quarter": hit[least].mean().item()}


@experiment("rotnet", "04", "notebook 04's live RotNet run (the rotation recipe for 2 epochs on the 10,000 training "
            "images, 4 rotations) and the same run with 2 and 8 rotations, against the random-init encoder of the same "
            "seed. Each encoder is read by a linear probe (all labels) after every block, on the block's map pooled to a "
            "grid of at most 1,024 features and on one global average; on h also with 10 labels per class (3 label "
            "draws) and by kNN. RotNets also give their test rotation accuracy, overall and on the most and least "
            "rotation-symmetric quarter of the test images", CONDITIONS, settings={**recipe_for("rotation"), **LIVE})
def rotnet_run(condition, seed, quick, device):
    train, test = data(quick)
    if condition == "random init":
        return read_encoder(initial_encoder("rotation", seed=seed), train, test, device)
    k = int(condition.split()[0])
    run = pretrain("rotation", seed=seed, quick=quick, device=device, progress=False, k=k, **({} if quick else LIVE))
    return {**rotation_metrics(run.model, test, device), **read_encoder(run.encoder, train, test, device),
            "seconds of training": run.info["seconds"]}
