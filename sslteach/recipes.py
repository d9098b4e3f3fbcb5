"""Recipes: the settings of every pre-training method, checked, and the model + step they build.

A recipe is a plain dict of the settings a notebook uses (:data:`RECIPES`); keyword overrides change
single values and are checked before anything is loaded (``recipe_for("simclr", temperature=0.5)``).
:func:`build_method` turns a method and its recipe into ``(model, step, encoder)`` for
:func:`sslteach.train.fit`; :mod:`sslteach.pretrained` trains, saves and loads them, after
:func:`check_pretraining_images` and :func:`check_distributed_run` have checked what a run is given.
"""
from __future__ import annotations

import copy

import torch

from .augment import TwoViews, simclr_augment
from .autoencoder import ConvAutoencoder, reconstruction_step
from .barlow import BarlowTwins, barlow_step
from .contrastive import SimCLR, simclr_step
from .corruption import Corruption
from .models import build_encoder
from .moco import MoCo, moco_step
from .rotation import RotNet, rotation_step
from .siamese import Siamese, siamese_step
from .utils import check_number


# Classroom settings, each the one its notebook uses. Shared keys: the encoder's config, images per
# class (None: all 10,000), epochs, batch size, AdamW learning rate and weight decay, and the
# linear warm-up (in epochs) before the cosine decay.
_VIEWS = dict(strength=1.0, colour=0.5, min_scale=0.2)  # notebook 03's two views, shared by the two-view methods
_TWO_VIEW = dict(encoder=dict(name="conv", downsample="pool"), n_per_class=None, epochs=12, batch_size=128,
                 lr=3e-3, weight_decay=1e-4, warmup_epochs=0.5, **_VIEWS)
RECIPES = {
    # notebook 03: SimCLR's CIFAR-10 augmentation (colour at 0.5), crops keeping >= 20% of the image
    "simclr": dict(_TWO_VIEW, temperature=0.2),
    # notebook 04: 4 rotations, MLP head with 256 hidden units
    "rotation": dict(encoder=dict(name="conv"), n_per_class=None, epochs=5, batch_size=128, lr=3e-3,
                     weight_decay=0.05, warmup_epochs=0.25, k=4, hidden_dim=256),
    # notebook 05: kind "masked" (also "plain", "denoising"); noise_std/drop_p: denoising's corruption
    "autoencoder": dict(encoder=dict(name="conv"), n_per_class=None, epochs=3, batch_size=128, lr=2e-3,
                        weight_decay=0.05, warmup_epochs=0.25, kind="masked", noise_std=0.2, drop_p=0.25,
                        mask_ratio=0.5, patch_size=4, bottleneck=None),
    # notebook 08: MoCo v2, negatives from a queue of earlier keys, an EMA key encoder
    "moco": dict(_TWO_VIEW, temperature=0.2, queue_size=4096, momentum=0.99, out_dim=128),
    # notebook 08: BYOL, predictor + stop-gradient + an EMA target, no negatives
    "byol": dict(_TWO_VIEW, momentum=0.99, predictor=True, stop_gradient=True, out_dim=256, hidden_dim=512,
                 pred_hidden=64),
    # notebook 08: SimSiam, predictor + stop-gradient, shared weights (momentum 0); switch them off to collapse
    "simsiam": dict(_TWO_VIEW, momentum=0.0, predictor=True, stop_gradient=True, out_dim=256, hidden_dim=512,
                    pred_hidden=64),
    # notebook 08: Barlow Twins, the cross-correlation of the two views' z pushed to the identity
    "barlow": dict(_TWO_VIEW, lambd=None, out_dim=256, hidden_dim=512),
}
METHODS = tuple(RECIPES)
QUICK_RECIPE = dict(epochs=1, n_per_class=50)  # quick mode: only checks that notebooks run
CHECKPOINTS = {"simclr": "simclr_encoder.pt", "rotation": "rotnet_encoder.pt", "autoencoder": "ae_{kind}_encoder.pt",
               "moco": "moco_encoder.pt", "byol": "byol_encoder.pt", "simsiam": "simsiam_encoder.pt",
               "barlow": "barlow_encoder.pt"}
KINDS = ("plain", "denoising", "masked")  # the autoencoder's variants

# what each numeric recipe setting accepts (check_number's keywords); those in _MAY_BE_NONE take None too
_RANGES = dict(epochs=dict(low=1, integer=True), batch_size=dict(low=1, integer=True),
               n_per_class=dict(low=1, integer=True), lr=dict(low=0, low_open=True), weight_decay=dict(low=0),
               warmup_epochs=dict(low=0), temperature=dict(low=0, low_open=True), strength=dict(low=0),
               colour=dict(low=0), min_scale=dict(low=0, low_open=True, high=1), k=dict(low=2, integer=True),
               hidden_dim=dict(low=0, integer=True), noise_std=dict(low=0), drop_p=dict(low=0, high=1),
               mask_ratio=dict(low=0, high=1, high_open=True), patch_size=dict(low=1, integer=True),
               bottleneck=dict(low=1, integer=True), queue_size=dict(low=1, integer=True),
               momentum=dict(low=0, high=1), out_dim=dict(low=1, integer=True), pred_hidden=dict(low=1, integer=True),
               lambd=dict(low=0, low_open=True))
_MAY_BE_NONE = {"n_per_class", "colour", "hidden_dim", "bottleneck", "lambd"}
_FLAGS = ("predictor", "stop_gradient")  # True or False


def recipe_for(method: str, quick: bool = False, **overrides) -> dict:
    """``RECIPES[method]``, with :data:`QUICK_RECIPE` on top when ``quick``, then ``overrides``.

    Raises:
        ValueError: unknown method, an override the method has no setting for, or a value out of
            range (``epochs=0``, ``lr=-1``, ...).
        TypeError: a value of the wrong type (``epochs="3"``, ``batch_size=True``).
    """
    _check_method(method)
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False, got {quick!r}")
    unknown = sorted(set(overrides) - set(RECIPES[method]))
    if unknown:
        raise ValueError(f"{method!r} has no setting {', '.join(unknown)}; its settings are "
                         f"{', '.join(RECIPES[method])}")
    recipe = copy.deepcopy({**RECIPES[method], **(QUICK_RECIPE if quick else {}), **overrides})
    _check_recipe(method, recipe)
    return recipe


def _check_method(method) -> None:
    if not isinstance(method, str) or method not in RECIPES:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _check_recipe(method: str, recipe: dict) -> None:
    """Every setting of ``recipe`` in range, so a bad override fails before any data is loaded."""
    for name, value in recipe.items():
        if name in _RANGES and not (value is None and name in _MAY_BE_NONE):
            none = " (or None)" if name in _MAY_BE_NONE else ""
            check_number(value, name, **_RANGES[name],
                         hint=f"e.g. {name}={RECIPES[method][name]!r}{none}, the {method} recipe's value")
    if recipe["warmup_epochs"] >= recipe["epochs"]:
        raise ValueError(f"warmup_epochs={recipe['warmup_epochs']} must be less than epochs={recipe['epochs']}: the "
                         f"warm-up ends before the training does; e.g. warmup_epochs={RECIPES[method]['warmup_epochs']}")
    for name in _FLAGS:
        if name in recipe and not isinstance(recipe[name], bool):
            raise TypeError(f"{name} must be True or False, got {recipe[name]!r}")
    if method == "simsiam" and recipe["momentum"] != 0:
        raise ValueError(f"simsiam shares its weights between the branches (momentum 0); with momentum="
                         f"{recipe['momentum']} it is BYOL: use pretrain('byol', ...) instead")
    if method == "byol" and recipe["momentum"] == 0:
        raise ValueError("byol's target is an EMA copy (momentum > 0, e.g. 0.99); with momentum 0 it is SimSiam: "
                         "use pretrain('simsiam', ...) instead")
    if method in ("simsiam", "byol") and not recipe["stop_gradient"] and recipe["momentum"] > 0:
        raise ValueError("stop_gradient=False needs shared weights (simsiam): an EMA target gets no gradient anyway")
    if method in ("moco", "byol", "simsiam", "barlow") and recipe["batch_size"] < 2:
        raise ValueError(f"{method} needs batch_size >= 2 (BatchNorm and the batch statistics need two images), got "
                         f"{recipe['batch_size']}; e.g. batch_size={RECIPES[method]['batch_size']}")
    if method == "simclr" and recipe["batch_size"] < 2:
        raise ValueError(f"simclr needs batch_size >= 2 (each image's negatives are the other images of its "
                         f"batch), got {recipe['batch_size']}; e.g. batch_size={RECIPES['simclr']['batch_size']}")
    if method == "autoencoder" and recipe["kind"] not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {recipe['kind']!r}")
    encoder = recipe["encoder"]
    if not isinstance(encoder, dict):
        raise TypeError(f"encoder must be an encoder config dict such as {{'name': 'conv'}} or "
                        f"{{'name': 'resnet18'}} (what encoder.config holds), got {encoder!r}")


def checkpoint_name(method: str, recipe: dict | None = None, quick: bool = False) -> str:
    """File name in ``checkpoints/``: ``rotnet_encoder.pt``, ``ae_masked_encoder.pt``, ...;
    quick-mode encoders get ``_quick`` (``rotnet_encoder_quick.pt``)."""
    name = CHECKPOINTS[method].format(**(recipe or recipe_for(method)))
    return name.replace(".pt", "_quick.pt") if quick else name


def build_method(method: str, recipe: dict, size: int = 32):
    """``(model, step, encoder)`` for a pre-training method; the encoder is what we keep. ``size``:
    the side of the training images (the two-view methods crop their views to it)."""
    encoder = build_encoder(**recipe["encoder"])
    if method in ("simclr", "moco", "byol", "simsiam", "barlow"):
        views = TwoViews(simclr_augment(size, recipe["strength"], colour=recipe["colour"], min_scale=recipe["min_scale"]))
    if method == "simclr":
        model, step = SimCLR(encoder), simclr_step(views, recipe["temperature"])
    elif method == "rotation":
        model, step = RotNet(encoder, k=recipe["k"], hidden_dim=recipe["hidden_dim"]), rotation_step()
    elif method == "autoencoder":
        model = ConvAutoencoder(encoder, bottleneck=recipe["bottleneck"])
        corrupt = (Corruption(noise_std=recipe["noise_std"], drop_p=recipe["drop_p"])
                   if recipe["kind"] == "denoising" else None)
        step = reconstruction_step(recipe["kind"], mask_ratio=recipe["mask_ratio"],
                                   patch_size=recipe["patch_size"], corrupt=corrupt)
    elif method == "moco":
        model = MoCo(encoder, out_dim=recipe["out_dim"], queue_size=recipe["queue_size"], momentum=recipe["momentum"],
                     temperature=recipe["temperature"])
        step = moco_step(views)
    elif method in ("byol", "simsiam"):
        model = Siamese(encoder, out_dim=recipe["out_dim"], hidden_dim=recipe["hidden_dim"],
                        pred_hidden=recipe["pred_hidden"], predictor=recipe["predictor"],
                        stop_gradient=recipe["stop_gradient"], momentum=recipe["momentum"])
        step = siamese_step(views)
    elif method == "barlow":
        model, step = BarlowTwins(encoder, out_dim=recipe["out_dim"], hidden_dim=recipe["hidden_dim"]), \
            barlow_step(views, recipe["lambd"])
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return model, step, encoder


def check_pretraining_images(images, recipe: dict) -> None:
    """Images given to ``pretrain(images=...)`` instead of the shipped set: uint8 (N, C, H, W), square,
    and a recipe that does not pick images per class."""
    if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        what = f"a {images.dtype} tensor of shape {tuple(images.shape)}" if torch.is_tensor(images) else type(images).__name__
        raise TypeError(f"images must be uint8 images (N, C, H, W) with C = 1 or 3, as the loaders give them "
                        f"(st.load_torchvision('stl10', 'unlabeled').images), got {what}")
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square (the views are square crops), got {tuple(images.shape[-2:])}")
    if recipe["n_per_class"] is not None:
        raise ValueError(f"n_per_class={recipe['n_per_class']} picks images per class from the shipped set, but "
                         f"images= has no classes: pass n_per_class=None, or select the images yourself")


def check_distributed_run(recipe: dict, world: int, device, group) -> None:
    """What a run on several processes needs, checked on every process before any data is loaded."""
    batch = recipe["batch_size"]
    if batch % world:
        raise ValueError(f"batch_size={batch} is the global batch, shared by the {world} processes, so it must be a "
                         f"multiple of {world}: e.g. batch_size={max(world, batch - batch % world)}")
    if device is not None and torch.device(device).type != group.device.type:
        raise ValueError(f"device={device!r}, but this process of the torchrun group trains on {group.device} "
                         f"(backend {group.backend}): leave device out under torchrun")
