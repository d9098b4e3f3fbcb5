"""Notebook 05's comparisons over seeds: the three autoencoders (plain, denoising, masked) and the
random-init encoder, each probed and (for the autoencoders) scored on reconstruction."""
from __future__ import annotations

import copy

import torch

from ..autoencoder import reconstruction_error
from ..batches import TensorLoader, as_float_images
from ..corruption import Corruption
from ..data import load_cifar10
from ..pretrained import initial_encoder, pretrain
from ..recipes import recipe_for
from ..probe import extract_features, knn_accuracy, linear_probe
from . import experiment

LIVE = dict(epochs=2)          # notebook 05's live runs: the recipe with 2 epochs (see its section 4)
KINDS = ("plain", "denoising", "masked")
TEST_SEED = 2                  # the corruptions of the test images (notebook 05, section 5)


def _data(quick: bool):
    return (load_cifar10("train", n_per_class=20 if quick else None),
            load_cifar10("test", n_per_class=10 if quick else None))


def test_inputs(recipe: dict) -> dict:
    """The three kinds of test input of notebook 05's section 5, with fixed corruptions."""
    return {"clean": None,
            "noise + dropout": Corruption(noise_std=recipe["noise_std"], drop_p=recipe["drop_p"],
                                          generator=torch.Generator().manual_seed(TEST_SEED)),
            "masked patches": Corruption(mask_ratio=recipe["mask_ratio"], patch_size=recipe["patch_size"],
                                         generator=torch.Generator().manual_seed(TEST_SEED))}


def _probes(encoder, train, test, device, quick: bool) -> dict:
    """Linear probe with all labels and at 10 labels per class (mean of 3 draws), kNN (k = 20)."""
    h_tr, h_te = (extract_features(encoder, x.images, device=device) for x in (train, test))
    k = 2 if quick else 10
    return {"probe all": linear_probe(h_tr, train.labels, h_te, test.labels),
            "probe 10/class": sum(linear_probe(h_tr, train.labels, h_te, test.labels, labels_per_class=k, seed=d)
                                  for d in range(3)) / 3,
            "kNN": knn_accuracy(h_tr, train.labels, h_te, test.labels, k=min(20, len(h_tr)))}


@torch.no_grad()
def batchnorm_on_clean(encoder: torch.nn.Module, images: torch.Tensor, device, batch_size: int = 500) -> torch.nn.Module:
    """A copy of ``encoder`` whose BatchNorm statistics are re-estimated on clean ``images``.

    A denoising or masked encoder gathered its running means and variances on *corrupted* inputs;
    the probe feeds it clean ones. Re-estimating them (a cumulative average over one pass, no
    weight changes) measures how much of the probe gap is that mismatch (notebook 05, exercise 5).
    """
    enc = copy.deepcopy(encoder).to(device)
    for m in enc.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None                      # cumulative average over the whole pass
    enc.train()
    for batch in TensorLoader(images, batch_size=batch_size, shuffle=False):
        enc(as_float_images(batch).to(device))
    return enc.eval()


@experiment("autoencoders", "05", "notebook 05's live runs (sections 4-7): plain, denoising and masked autoencoders "
            "(the autoencoder recipe, 2 epochs; seeds 1-3, the notebook's own run is seed 0), each probed (all labels, 10 labels/class, kNN) and scored on "
            "reconstruction of clean and corrupted test images; the probe again after re-estimating BatchNorm on "
            "clean training images; and the random-init encoder of the same seed",
            KINDS + ("random init",), seeds=(1, 2, 3), settings={**recipe_for("autoencoder"), **LIVE, "kind": list(KINDS)})
def autoencoder_run(condition, seed, quick, device):
    train, test = _data(quick)
    if condition == "random init":
        return _probes(initial_encoder("autoencoder", seed=seed), train, test, device, quick)
    run = pretrain("autoencoder", kind=condition, seed=seed, quick=quick, device=device, progress=False,
                   **({} if quick else LIVE))
    out = _probes(run.encoder, train, test, device, quick)
    recipe = run.recipe
    for name, corrupt in test_inputs(recipe).items():
        out[f"MSE {name}"] = reconstruction_error(run.model, test.images, corrupt=corrupt, device=device).mean().item()
    clean_bn = batchnorm_on_clean(run.encoder, train.images, device)
    h_tr, h_te = (extract_features(clean_bn, x.images, device=device) for x in (train, test))
    out["probe all, BatchNorm on clean"] = linear_probe(h_tr, train.labels, h_te, test.labels)
    out["seconds of training"] = run.info["seconds"]
    return out
