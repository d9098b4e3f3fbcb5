"""The one place that provides pre-trained encoders: recipes, training, checked checkpoints.

Notebooks 03-05 train an encoder each and save it in ``checkpoints/``; notebook 07 and the command
line need the same encoders again. :func:`pretrained_encoder` loads the saved file when its sha256
and its settings match the method's recipe, and otherwise trains one with the classroom recipe
and saves it, so every caller gets the same encoder::

    encoder = pretrained_encoder("rotation")           # checkpoints/rotnet_encoder.pt, or trains it
    encoder, info = pretrain("simclr", epochs=1)       # just train (what the CLI calls)
    encoder = shipped_encoder()                        # data/models/simclr_encoder.pt

A recipe is a plain dict of the settings a notebook uses; keyword overrides change single values
(``pretrained_encoder("autoencoder", kind="plain")`` is notebook 05's plain variant).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from .augment import TwoViews, simclr_augment
from .autoencoder import ConvAutoencoder, Corruption, reconstruction_step
from .contrastive import SimCLR, simclr_step
from .data import SHA256, DataError, data_file, load_cifar10
from .models import Encoder, build_encoder
from .rotation import RotNet, rotation_step
from .train import CheckpointError, TensorLoader, cosine_schedule, fit, load_checkpoint, save_checkpoint
from .utils import checkpoint_dir, get_device, quick_mode, set_seed

METHODS = ("simclr", "rotation", "autoencoder")

# Classroom settings, each the one its notebook uses. Shared keys: the encoder's config, images per
# class (None: all 10,000), epochs, batch size, AdamW learning rate and weight decay, and the
# linear warm-up (in epochs) before the cosine decay.
RECIPES = {
    # notebook 03: SimCLR's CIFAR-10 augmentation (colour at 0.5), crops keeping >= 20% of the image
    "simclr": dict(encoder=dict(name="conv", downsample="pool"), n_per_class=None, epochs=12, batch_size=128,
                   lr=3e-3, weight_decay=1e-4, warmup_epochs=0.5, temperature=0.2, strength=1.0, colour=0.5,
                   min_scale=0.2),
    # notebook 04: 4 rotations, MLP head with 256 hidden units
    "rotation": dict(encoder=dict(name="conv"), n_per_class=None, epochs=5, batch_size=128, lr=3e-3,
                     weight_decay=0.05, warmup_epochs=0.25, k=4, hidden_dim=256),
    # notebook 05: kind "masked" (also "plain", "denoising"); noise_std/drop_p: denoising's corruption
    "autoencoder": dict(encoder=dict(name="conv"), n_per_class=None, epochs=3, batch_size=128, lr=2e-3,
                        weight_decay=0.05, warmup_epochs=0.25, kind="masked", noise_std=0.2, drop_p=0.25,
                        mask_ratio=0.5, patch_size=4, bottleneck=None),
}
QUICK_RECIPE = dict(epochs=1, n_per_class=50)  # quick mode: only checks that notebooks run
CHECKPOINTS = {"simclr": "simclr_encoder.pt", "rotation": "rotnet_encoder.pt",
               "autoencoder": "ae_{kind}_encoder.pt"}
SHIPPED = "models/simclr_encoder.pt"  # in data/, registered in sslteach.data.SHA256 once shipped


def recipe_for(method: str, quick: bool = False, **overrides) -> dict:
    """``RECIPES[method]``, with :data:`QUICK_RECIPE` on top when ``quick``, then ``overrides``.

    Raises:
        ValueError: unknown method, or an override the method has no setting for.
    """
    if method not in RECIPES:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    unknown = sorted(set(overrides) - set(RECIPES[method]))
    if unknown:
        raise ValueError(f"{method!r} has no setting {', '.join(unknown)}; its settings are "
                         f"{', '.join(RECIPES[method])}")
    return copy.deepcopy({**RECIPES[method], **(QUICK_RECIPE if quick else {}), **overrides})


def checkpoint_name(method: str, recipe: dict | None = None, quick: bool = False) -> str:
    """File name in ``checkpoints/``: ``rotnet_encoder.pt``, ``ae_masked_encoder.pt``, ...;
    quick-mode encoders get ``_quick`` (``rotnet_encoder_quick.pt``)."""
    name = CHECKPOINTS[method].format(**(recipe or recipe_for(method)))
    return name.replace(".pt", "_quick.pt") if quick else name


def build_method(method: str, recipe: dict):
    """``(model, step, encoder)`` for a pre-training method; the encoder is what we keep."""
    encoder = build_encoder(**recipe["encoder"])
    if method == "simclr":
        model = SimCLR(encoder)
        step = simclr_step(TwoViews(simclr_augment(32, recipe["strength"], colour=recipe["colour"],
                                                    min_scale=recipe["min_scale"])),
                           recipe["temperature"])
    elif method == "rotation":
        model, step = RotNet(encoder, k=recipe["k"], hidden_dim=recipe["hidden_dim"]), rotation_step()
    elif method == "autoencoder":
        model = ConvAutoencoder(encoder, bottleneck=recipe["bottleneck"])
        corrupt = (Corruption(noise_std=recipe["noise_std"], drop_p=recipe["drop_p"])
                   if recipe["kind"] == "denoising" else None)
        step = reconstruction_step(recipe["kind"], mask_ratio=recipe["mask_ratio"],
                                   patch_size=recipe["patch_size"], corrupt=corrupt)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return model, step, encoder


def pretrain(method: str, epochs: int | None = None, seed: int = 0, device: torch.device | str | None = None,
             progress: bool = True, **overrides) -> tuple[Encoder, dict]:
    """Pre-train an encoder on the shipped CIFAR-10 training images (no labels) with a recipe.

    AdamW, linear warm-up then cosine decay, ``drop_last`` batches. With the default recipes and
    ``seed=0`` this is the run of the method's notebook (same initial weights, same batches).

    Args:
        method: ``"simclr"``, ``"rotation"`` or ``"autoencoder"``.
        epochs: default the recipe's.
        seed: seeds the initial weights, the batch order and the augmentations.
        device: default :func:`sslteach.utils.get_device`.
        progress: show a progress bar.
        **overrides: recipe settings to change (see :data:`RECIPES`).

    Returns:
        ``(encoder, info)``: the trained encoder (on ``device``, eval mode) and a dict with the
        method, the full recipe, the seed, the seconds of training, the device, the per-epoch
        history and the torch version, ready for :func:`save_pretrained`.
    """
    if epochs is not None:
        overrides["epochs"] = epochs
    recipe = recipe_for(method, **overrides)
    set_seed(seed)
    device = get_device(device)
    train = load_cifar10("train", n_per_class=recipe["n_per_class"])
    model, step, encoder = build_method(method, recipe)
    loader = TensorLoader(train.images, batch_size=recipe["batch_size"], drop_last=True, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = cosine_schedule(opt, recipe["epochs"] * len(loader),
                            warmup_steps=int(recipe["warmup_epochs"] * len(loader)))
    start = time.perf_counter()
    history = fit(model, step, loader, opt, recipe["epochs"], scheduler=sched, device=device,
                  progress=progress, desc=f"{method} pre-training")
    info = dict(method=method, recipe=recipe, seed=seed, seconds=time.perf_counter() - start,
                device=str(device), history=history.epoch, torch_version=str(torch.__version__))
    return encoder, info


def save_pretrained(path: str | Path, encoder: Encoder, info: dict, **extra) -> Path:
    """Save an encoder with its ``config`` and ``info`` (from :func:`pretrain`) atomically, with
    its ``.sha256`` (:func:`sslteach.train.save_checkpoint`)."""
    return save_checkpoint(path, encoder, config=encoder.config, **info, **extra)


def _fresh_encoder(config: dict) -> Encoder:
    """``build_encoder(**config)`` without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        return build_encoder(**config)


def load_encoder(path: str | Path) -> Encoder:
    """An encoder rebuilt from a checkpoint's ``config`` and weights (sha256 checked), CPU, eval mode."""
    ckpt = load_checkpoint(path)
    if "config" not in ckpt:
        raise CheckpointError(f"{path} has no encoder config, so the encoder cannot be rebuilt: save "
                              f"encoders with save_checkpoint(path, encoder, config=encoder.config)")
    encoder = _fresh_encoder(ckpt["config"])
    encoder.load_state_dict(ckpt["model"])
    return encoder.eval()


def _plain(value):
    """Tuples to lists, recursively, so settings compare equal however they were stored."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def check_checkpoint(path: str | Path, method: str, recipe: dict) -> dict:
    """Load a checkpoint (sha256 checked) and make sure it was trained for ``method`` with ``recipe``.

    Checks what the file records: the encoder ``config`` always; the ``method`` and the whole
    ``recipe`` when saved by :func:`save_pretrained`; else the ``epochs`` in its metrics (the
    files notebooks 04 and 05 write).

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: corrupt file, or settings that differ (each one named, expected vs found).
    """
    ckpt = load_checkpoint(path)
    expected = {"config": _fresh_encoder(recipe["encoder"]).config, "method": method}
    found = {"config": ckpt.get("config", "(none)")}
    if "method" in ckpt:
        found["method"] = ckpt["method"]
    if "recipe" in ckpt:
        expected.update({f"recipe {k}": v for k, v in recipe.items()})
        found.update({f"recipe {k}": ckpt["recipe"].get(k, "(none)") for k in recipe})
    elif "epochs" in ckpt.get("metrics", {}):
        expected["epochs"], found["epochs"] = recipe["epochs"], ckpt["metrics"]["epochs"]
    diffs = [f"{k}: expected {expected[k]!r}, found {found[k]!r}"
             for k in found if _plain(found[k]) != _plain(expected[k])]
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} was not trained with the {method!r} recipe asked for: " + "; ".join(diffs)
            + f". Delete the file (and its .sha256) to train it again with the current recipe "
              f"(pretrained_encoder({method!r}) does that), pass the matching settings as overrides, "
              f"or pass path= to another checkpoint.")
    return ckpt


def pretrained_encoder(method: str, path: str | Path | None = None, train_if_missing: bool = True, *,
                       quick: bool | None = None, device: torch.device | str | None = None,
                       **overrides) -> Encoder:
    """The pre-trained encoder of ``method``: loaded from its checkpoint, or trained and saved.

    The file is ``checkpoints/<name>`` (:func:`checkpoint_name`; ``$SSLTEACH_CHECKPOINTS`` moves
    the folder) unless ``path`` is given. It is used when its sha256 matches its ``.sha256`` and
    its settings match the recipe (:func:`check_checkpoint`); a file that does not match raises
    instead of being overwritten. A missing file is trained with the recipe (minutes on a CPU in
    classroom mode) and saved. In quick mode the classroom file is used when it is there and fits,
    else ``<name>_quick.pt``, trained with :data:`QUICK_RECIPE` in seconds.

    Args:
        method: ``"simclr"``, ``"rotation"`` or ``"autoencoder"``.
        path: checkpoint file (default: the method's file in ``checkpoints/``).
        train_if_missing: train when the file is missing; ``False`` raises ``FileNotFoundError``.
        quick: default :func:`sslteach.utils.quick_mode`.
        device: where to train when training is needed.
        **overrides: recipe settings (e.g. ``kind="plain"`` for notebook 05's plain autoencoder).

    Returns:
        The encoder, on the CPU, in eval mode.
    """
    quick = quick_mode() if quick is None else quick
    recipe = recipe_for(method, **overrides)
    if path is not None:
        candidates = [(Path(path), recipe)]
    else:
        candidates = [(checkpoint_dir() / checkpoint_name(method, recipe), recipe)]
        if quick:
            quick_recipe = recipe_for(method, quick=True, **overrides)
            candidates.append((checkpoint_dir() / checkpoint_name(method, quick_recipe, quick=True), quick_recipe))
    for i, (file, wanted) in enumerate(candidates):
        if file.is_file():
            try:
                ckpt = check_checkpoint(file, method, wanted)
            except CheckpointError:
                if i + 1 < len(candidates):  # quick mode: a classroom file that does not fit is skipped
                    continue
                raise
            encoder = _fresh_encoder(ckpt["config"])
            encoder.load_state_dict(ckpt["model"])
            return encoder.eval()
    file, wanted = candidates[-1]
    if not train_if_missing:
        raise FileNotFoundError(f"no pre-trained {method} encoder at {file}: run the notebook that trains "
                                f"it, or call pretrained_encoder({method!r}) with train_if_missing=True")
    print(f"{file.name} not found: training the {method} encoder with the "
          f"{'quick' if quick else 'classroom'} recipe, then saving it to {file}")
    encoder, info = pretrain(method, device=device, **wanted)
    save_pretrained(file, encoder, info)
    return encoder.cpu().eval()


def shipped_encoder() -> Encoder:
    """The SimCLR encoder shipped in ``data/`` (:data:`SHIPPED`), verified by its sha256 in
    :data:`sslteach.data.SHA256`, for those who cannot train one themselves.

    Raises:
        DataError: the file is not shipped with this version, missing, or changed.
    """
    if SHIPPED not in SHA256:
        raise DataError(f"data/{SHIPPED} is not shipped with this version of sslteach (it has no entry in "
                        f"sslteach.data.SHA256). Train the encoder instead: pretrained_encoder('simclr').")
    return load_encoder(data_file(SHIPPED))
