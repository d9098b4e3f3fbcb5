"""Notebook 07's comparisons over label draws: every way of reading each pre-trained encoder against
training from scratch at 10, 100 and 1,000 labels per class; what more fine-tuning steps change at
1,000 per class; which blocks to freeze and how fast to move the backbone.

Each pre-trained encoder is the one its notebook saves (``pretrained_encoder``: the checkpoint in
``checkpoints/``, or trained with the notebook's recipe and saved). The runs differ by the **label
draw** ``seed``: which images are labelled (``per_class_indices(labels, k, seed)``) and the seed of
the fine-tuning (head, batch order, augmentations) or of the from-scratch network. Draw 0 is exactly
the notebook's own live run.
"""
from __future__ import annotations

import copy
from functools import lru_cache

from ..data import load_cifar10, per_class_indices
from ..finetune import classifier_accuracy, fine_tune, train_from_scratch
from ..pretrained import initial_encoder, pretrained_encoder
from ..recipes import recipe_for
from ..probe import extract_features, knn_accuracy, linear_probe
from . import experiment

# The pre-training methods notebook 07 compares, by their st.RECIPES names: the one list that the
# notebook and these experiments read (a method joins by adding its name here and in NAMES, then
# running these sweeps again; pretrained_encoder trains a missing encoder with its recipe first).
METHODS = ("simclr", "rotation", "autoencoder", "moco", "byol", "simsiam", "barlow")
# Notebook 05's three autoencoders are all measured here; notebook 07 shows the one that notebook
# 05's sweep "autoencoders" ranks first (the highest mean linear probe with all labels).
AE_KINDS = ("plain", "denoising", "masked")
NAMES = {"simclr": "SimCLR", "rotation": "RotNet", "moco": "MoCo", "byol": "BYOL", "simsiam": "SimSiam",
         "barlow": "Barlow Twins"}
FOCUS = "SimCLR"              # sections 3b-7 study notebook 03's encoder
BUDGETS = (10, 100, 1000)     # labelled images per class (1 %, 10 % and all of the 10,000 training images)
STEPS, LONG_STEPS = 200, 1000 # fine-tuning steps (batches of 64): the notebook's, and 5x more
CHOICE_BUDGET = 100           # freezing, backbone learning rate and the t-SNE maps: 100 labels per class
LRS = (3e-4, 3e-3, 3e-2)      # backbone learning rates besides fine_tune's default 1e-3 (the head's: 3e-3)
QUICK = dict(train=100, test=50, budgets=(10, 100), steps=10, long_steps=20)


def encoders() -> dict:
    """``{shown name: (method, overrides)}`` for every pre-trained encoder compared: each method of
    :data:`METHODS`, the autoencoder once per variant (``"plain AE"``, ...)."""
    out = {}
    for m in METHODS:
        if m == "autoencoder":
            out.update({f"{kind} AE": (m, {"kind": kind}) for kind in AE_KINDS})
        else:
            out[NAMES.get(m, m)] = (m, {})
    return out


def arch_of(name: str) -> str:
    """``"pool"`` or ``"stride"`` (the ConvEncoder's downsampling) of a compared encoder, or its encoder's name."""
    method, overrides = encoders()[name]
    config = initial_encoder(method, **overrides).config
    return config.get("downsample", config["name"])


def baseline_of(name: str) -> str:
    """The random-init encoder of the encoder's architecture, as named in the conditions."""
    return f"random init ({arch_of(name)})"


def encoder_of(name: str, quick: bool = False):
    """A compared encoder by its shown name, as notebook 07 loads it (``pretrained_encoder``)."""
    method, overrides = encoders()[name]
    return pretrained_encoder(method, quick=quick, **overrides)


def budgets(quick: bool) -> tuple:
    return QUICK["budgets"] if quick else BUDGETS


def _archs() -> dict:
    """``{"random init (pool)": "SimCLR", ...}``: one random-init baseline per architecture, with
    the first encoder of that architecture (its initial weights are the baseline's)."""
    out = {}
    for name in encoders():
        out.setdefault(baseline_of(name), name)
    return out


@lru_cache(maxsize=2)
def _data(quick: bool):
    return (load_cifar10("train", n_per_class=QUICK["train"] if quick else None),
            load_cifar10("test", n_per_class=QUICK["test"] if quick else None))


@lru_cache(maxsize=16)
def _encoder(name: str, quick: bool):
    """A pre-trained encoder by method, or a random-init one by its baseline name."""
    baselines = _archs()
    if name in baselines:
        method, overrides = encoders()[baselines[name]]
        return initial_encoder(method, **overrides)
    return encoder_of(name, quick)


@lru_cache(maxsize=16)
def _features(name: str, quick: bool, device: str):
    train, test = _data(quick)
    encoder = _encoder(name, quick)
    return extract_features(encoder, train.images, device=device), extract_features(encoder, test.images, device=device)


def _knn_all(encoder, train, test, device) -> float:
    """kNN accuracy (k = 20) of the test images among all 10,000 training images, on ``encoder``'s h."""
    h, h_test = (extract_features(encoder, x.images, device=device) for x in (train, test))   # (N, D), (M, D)
    return knn_accuracy(h, train.labels, h_test, test.labels, k=min(20, len(h)))


def _conditions() -> tuple:
    rows = []
    for name in encoders():
        rows += [f"{name} / linear probe", f"{name} / kNN", f"{name} / fine-tune"]
    for baseline in _archs():
        rows += [f"{baseline} / linear probe", f"{baseline} / from scratch"]
    return tuple(rows)


def read(condition: str, seed: int, quick: bool, device) -> dict:
    """One condition ("<encoder> / <protocol>") for one label draw at every budget: ``{"10/class": acc, ...}``.

    Fine-tuning :data:`FOCUS` also returns ``"kNN on fine-tuned h, 100/class"`` (kNN among all
    training images on the encoder fine-tuned with 100 labels per class), kNN also ``"kNN, all
    labels"`` (the frozen encoder's): the numbers under notebook 07's t-SNE maps.
    """
    train, test = _data(quick)
    key, protocol = condition.split(" / ")            # an encoder's shown name, or "random init (pool)"
    steps = QUICK["steps"] if quick else STEPS
    out = {}
    for k in budgets(quick):
        idx = per_class_indices(train.labels, k, seed)
        x, y = train.images[idx], train.labels[idx]
        if protocol in ("linear probe", "kNN"):
            h, h_test = _features(key, quick, str(device))
            if protocol == "kNN":
                out[f"{k}/class"] = knn_accuracy(h[idx], y, h_test, test.labels, k=min(20, len(idx)))
            else:
                out[f"{k}/class"] = linear_probe(h[idx], y, h_test, test.labels)
        elif protocol == "fine-tune":
            model, _ = fine_tune(copy.deepcopy(_encoder(key, quick)), x, y, num_classes=10, steps=steps,
                                 device=device, seed=seed)
            out[f"{k}/class"] = classifier_accuracy(model, test.images, test.labels, device=device)
            if k == CHOICE_BUDGET and key == FOCUS:
                out[f"kNN on fine-tuned h, {k}/class"] = _knn_all(model.encoder, train, test, device)
        elif protocol == "from scratch":
            model, _ = train_from_scratch(x, y, encoder_config=_encoder(key, quick).config, num_classes=10,
                                          steps=steps, device=device, seed=seed)
            out[f"{k}/class"] = classifier_accuracy(model, test.images, test.labels, device=device)
        else:
            raise ValueError(f"unknown protocol {protocol!r} in {condition!r}")
    if protocol == "kNN":
        h, h_test = _features(key, quick, str(device))
        out["kNN, all labels"] = knn_accuracy(h, train.labels, h_test, test.labels, k=min(20, len(h)))
    return out


@experiment("finetune-curves", "07", "notebook 07's section 3 (and 4-7): each pre-trained encoder read by a linear "
            "probe, kNN and full fine-tuning (200 steps, batches of 64), and the random-init encoder of each "
            "architecture probed and trained from scratch (same steps), at 10, 100 and 1,000 labels per class, the "
            "same labelled images for every row of a draw", _conditions(), what="label draws",
            settings=dict(encoders={n: recipe_for(m, **o) for n, (m, o) in encoders().items()},
                          budgets=BUDGETS, steps=STEPS, batch_size=64, lr_head=3e-3, lr_backbone=1e-3,
                          from_scratch_lr=3e-3, probe_C=0.01, knn_k=20))
def curves(condition, seed, quick, device):
    return read(condition, seed, quick, device)


STEPS_CONDITIONS = (f"{FOCUS} / fine-tune, {LONG_STEPS} steps",
                    f"{baseline_of(FOCUS)} / from scratch, {LONG_STEPS} steps")


@experiment("finetune-steps", "07", f"notebook 07's section 3b: with every label (1,000 per class), fine-tuning "
            f"{FOCUS} and training from scratch for {LONG_STEPS} steps instead of {STEPS} (batches of 64)",
            STEPS_CONDITIONS, what="label draws", settings=dict(budget=BUDGETS[-1], steps=LONG_STEPS, batch_size=64))
def more_steps(condition, seed, quick, device):
    train, test = _data(quick)
    k = budgets(quick)[-1]
    idx = per_class_indices(train.labels, k, seed)
    steps = QUICK["long_steps"] if quick else LONG_STEPS
    x, y = train.images[idx], train.labels[idx]
    if "from scratch" in condition:
        config = _encoder(baseline_of(FOCUS), quick).config
        model, _ = train_from_scratch(x, y, encoder_config=config, num_classes=10, steps=steps, device=device,
                                      seed=seed)
    else:
        model, _ = fine_tune(copy.deepcopy(_encoder(FOCUS, quick)), x, y, num_classes=10, steps=steps, device=device,
                             seed=seed)
    return {f"{k}/class": classifier_accuracy(model, test.images, test.labels, device=device)}


CHOICES = ("freeze 1", "freeze 2", "freeze 3", "freeze 4") + tuple(f"backbone lr {lr:g}" for lr in LRS)


@experiment("finetune-choices", "07", f"notebook 07's sections 4-6: fine-tuning {FOCUS} with the stem and the "
            f"first k blocks frozen (k = 1-4; k = 2 also at 10 labels per class), and with backbone learning rates "
            f"{', '.join(f'{lr:g}' for lr in LRS)} (head 3e-3), at {CHOICE_BUDGET} labels per class; k = 0 and the "
            f"default rate 1e-3 are finetune-curves' fine-tune row", CHOICES, what="label draws",
            settings=dict(budget=CHOICE_BUDGET, steps=STEPS, batch_size=64, lr_head=3e-3, lr_backbone=1e-3))
def choices(condition, seed, quick, device):
    train, test = _data(quick)
    steps = QUICK["steps"] if quick else STEPS
    kw = (dict(freeze_blocks=int(condition.split()[-1])) if condition.startswith("freeze")
          else dict(lr_backbone=float(condition.split()[-1])))
    out = {}
    for k in ((10, CHOICE_BUDGET) if condition == "freeze 2" else (CHOICE_BUDGET,)):
        idx = per_class_indices(train.labels, k, seed)
        model, _ = fine_tune(copy.deepcopy(_encoder(FOCUS, quick)), train.images[idx], train.labels[idx],
                             num_classes=10, steps=steps, lr_head=3e-3, device=device, seed=seed, **kw)
        out[f"{k}/class"] = classifier_accuracy(model, test.images, test.labels, device=device)
    return out
