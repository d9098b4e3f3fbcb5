"""The one path to pre-trained encoders: recipes, training, checked checkpoints, shipped models.

Every notebook trains its encoder here, saves it here and loads it from here, so notebook 07 and the
command line get exactly the encoder a notebook trained::

    run = pretrain("simclr")                     # notebook 03's run: fit() with the classroom recipe
    run.encoder, run.model, run.history          # the encoder we keep, the whole pre-training model
    run.save()                                   # checkpoints/simclr_encoder.pt (+ .sha256)
    encoder = pretrained_encoder("rotation")     # checkpoints/rotnet_encoder.pt, or trains and saves it
    encoder = load_encoder("my_run.pt")          # any checkpoint written by run.save() or the CLI
    encoder = shipped_encoder()                  # data/models/simclr_encoder.pt
    random = initial_encoder("simclr")           # the weights pretrain starts from: the random-init baseline

The recipes (settings) and the model + step of each method live in :mod:`sslteach.recipes`; keyword
overrides change single values (``pretrain("autoencoder", kind="plain")`` is notebook 05's plain
variant, ``pretrain("simclr", temperature=0.05, epochs=3)`` one point of notebook 03's sweep).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import distributed
from .batches import ShardedLoader, TensorLoader, rank_seed
from .checkpoint import CheckpointError, check_checkpoint_path, load_checkpoint, save_checkpoint
from .data import SHA256, DataError, data_file, load_cifar10
from .models import Encoder, build_encoder
from .recipes import (_check_method, build_method, check_distributed_run, check_pretraining_images, checkpoint_name,
                      recipe_for)
from .train import History, cosine_schedule, fit
from .utils import check_number, checkpoint_dir, get_device, quick_mode, set_seed

SHIPPED = "models/simclr_encoder.pt"  # in data/, registered in sslteach.registry.SHA256

@dataclass
class PretrainRun:
    """What :func:`pretrain` returns: the trained encoder, the whole pre-training model, the history
    and a plain-dict record of the run (what :meth:`save` writes next to the weights)."""
    encoder: Encoder          # the part we keep: f, mapping images to h
    model: torch.nn.Module    # the whole pre-training model (SimCLR with its head, RotNet, autoencoder)
    history: History          # fit's per-epoch and per-step values
    info: dict                # method, recipe, seed, seconds, device, history.epoch, torch_version, quick

    @property
    def recipe(self) -> dict:
        return self.info["recipe"]

    def default_path(self) -> Path:
        """``checkpoints/<name>``: where :func:`pretrained_encoder` looks for this method's encoder.

        Raises:
            ValueError: the run's recipe is not the method's classroom (or quick) recipe: such an
                encoder has no default file, pass ``path=`` to :meth:`save`.
        """
        method, quick = self.info["method"], self.info["quick"]
        kind = {"kind": self.recipe["kind"]} if method == "autoencoder" else {}
        if _plain(self.recipe) != _plain(recipe_for(method, quick=quick, **kind)):
            raise ValueError(f"this {method} run changed the recipe ({_changed(method, self.recipe, quick)}), so "
                             f"it has no default checkpoint file (that file holds the {'quick' if quick else 'classroom'} "
                             f"recipe's encoder): pass a path, run.save('checkpoints/my_{method}.pt')")
        return checkpoint_dir() / checkpoint_name(method, self.recipe, quick=quick)

    def save(self, path: str | Path | None = None, **extra) -> Path:
        """Write the encoder with its ``config`` and ``info`` (and ``extra`` plain values, e.g.
        ``metrics=``) atomically with its ``.sha256``; default path :meth:`default_path`."""
        path = self.default_path() if path is None else path  # save_checkpoint checks it
        return save_pretrained(path, self.encoder, self.info, **extra)


def _changed(method: str, recipe: dict, quick: bool) -> str:
    base = recipe_for(method, quick=quick)
    return ", ".join(f"{k}={recipe[k]!r}" for k in recipe if _plain(recipe[k]) != _plain(base.get(k))) or "nothing"


def initial_encoder(method: str, seed: int = 0, **overrides) -> Encoder:
    """The encoder :func:`pretrain` starts from, untrained: the random-init baseline of a notebook
    (same architecture, same initial weights for the same ``seed``), on the CPU, in eval mode."""
    recipe = recipe_for(method, **overrides)
    with torch.random.fork_rng(devices=[]):
        set_seed(seed)
        return build_method(method, recipe)[2].eval()


def pretrain(method: str, epochs: int | None = None, seed: int = 0, device: torch.device | str | None = None,
             progress: bool = True, quick: bool = False, *, checkpoint: str | Path | None = None,
             resume: bool = False, sync_batchnorm: bool | None = None, accumulate: int = 1,
             images: torch.Tensor | None = None, **overrides) -> PretrainRun:
    """Pre-train an encoder on the shipped CIFAR-10 training images (no labels) with a recipe.

    The loop is :func:`sslteach.train.fit` with the method's step function, AdamW, a linear warm-up
    then cosine decay, and ``drop_last`` batches shuffled by ``seed``. Each notebook trains through
    this function, so ``pretrain(method, **its_overrides)`` and ``python -m sslteach pretrain`` with
    the same settings give the notebook's run, bit for bit on the same machine.

    Args:
        method: ``"simclr"``, ``"rotation"`` or ``"autoencoder"``.
        epochs: default the recipe's.
        seed: seeds the initial weights (:func:`initial_encoder` gives the same ones), the batch
            order and the augmentations.
        device: default :func:`sslteach.utils.get_device`.
        progress: show a progress bar.
        quick: apply :data:`QUICK_RECIPE` (1 epoch on 50 images per class): only to check that
            code runs.
        checkpoint: a training-state file written after every epoch (:func:`sslteach.train.fit`),
            to continue an interrupted run with ``resume=True``.
        resume: continue from ``checkpoint``: the same final weights as an uninterrupted run (on
            the CPU, bit for bit).
        sync_batchnorm: under torchrun, BatchNorm statistics over all processes (SimCLR's choice);
            default on for several GPUs, off on the CPU (PyTorch's SyncBatchNorm is GPU-only).
        accumulate: split each batch of the recipe into this many smaller ones whose gradients
            add up before one optimiser step (:func:`sslteach.train.fit`): the recipe's batch in
            less memory. SimCLR's negatives then come from the smaller batches only.
        images: unlabelled uint8 images (N, C, H, W) to train on instead of the shipped CIFAR-10
            subset, e.g. ``st.load_torchvision("stl10", "unlabeled").images`` (the recipe's
            ``n_per_class`` must then be None: there are no classes to pick from).
        **overrides: recipe settings to change (see :data:`RECIPES`).

    Under ``torchrun --nproc_per_node=W`` (:mod:`sslteach.distributed`: call ``setup()`` first, as
    the command line does) the recipe's ``batch_size`` is the global batch: each process trains on
    its own shard with ``batch_size / W`` images, draws its own augmentations (seed
    ``rank_seed(seed, rank)``), SimCLR's negatives come from every process, and DDP averages the
    gradients, so a step equals one process's step on the whole batch (up to BatchNorm, whose
    statistics stay per process unless synchronised). MoCo's processes enqueue every process's
    keys and Barlow Twins correlates the global batch, so they too match one process on it.

    Returns:
        A :class:`PretrainRun`: ``.encoder`` (on ``device``, eval mode), ``.model``, ``.history``
        and ``.info`` (method, full recipe, seed, seconds of training, device, per-epoch history,
        torch version, quick), ready for ``.save()``.
    """
    if epochs is not None:
        overrides["epochs"] = epochs
    recipe = recipe_for(method, quick=quick, **overrides)
    check_number(seed, "seed", low=0, high=2**32 - 1, integer=True, hint="e.g. seed=0")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if sync_batchnorm is not None and not isinstance(sync_batchnorm, bool):
        raise TypeError(f"sync_batchnorm must be True, False or None (None: on for several GPUs), got {sync_batchnorm!r}")
    group = distributed.setup() if distributed.world_size() > 1 else None   # the group torchrun's processes joined
    world = distributed.world_size()
    if world > 1:
        check_distributed_run(recipe, world, device, group)
        device = group.device
    device = get_device(device)
    if images is None:
        images = load_cifar10("train", n_per_class=recipe["n_per_class"]).images
    else:
        check_pretraining_images(images, recipe)
    if len(images) // recipe["batch_size"] < 1:
        raise ValueError(f"batch_size={recipe['batch_size']} is larger than the {len(images)} training images "
                         f"(n_per_class={recipe['n_per_class']}): use a batch_size <= {len(images)}")
    accumulate = check_number(accumulate, "accumulate", low=1, integer=True, hint="e.g. accumulate=4")
    per_step = recipe["batch_size"] // world                  # one process's share of an optimiser step
    if per_step % accumulate:
        raise ValueError(f"accumulate={accumulate} must divide the batch of {per_step} images that each of the {world} "
                         f"process(es) gets (batch_size={recipe['batch_size']}): e.g. accumulate="
                         f"{max(d for d in range(1, accumulate + 1) if per_step % d == 0)}")
    set_seed(seed)
    model, step, encoder = build_method(method, recipe, size=images.shape[-1])
    if world > 1:   # the same initial weights everywhere (DDP also broadcasts rank 0's), then each its own views
        set_seed(rank_seed(seed, distributed.rank()))
        loader = ShardedLoader(images, batch_size=per_step // accumulate, seed=seed)
        sync = device.type == "cuda" if sync_batchnorm is None else sync_batchnorm
        model = distributed.wrap_ddp(distributed.convert_sync_batchnorm(model, group, enabled=sync), group)
    else:
        loader = TensorLoader(images, batch_size=per_step // accumulate, drop_last=True, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    steps = -(-len(loader) // accumulate)                     # optimiser steps an epoch
    sched = cosine_schedule(opt, recipe["epochs"] * steps, warmup_steps=int(recipe["warmup_epochs"] * steps))
    start = time.perf_counter()
    history = fit(model, step, loader, opt, recipe["epochs"], scheduler=sched, device=device, checkpoint=checkpoint,
                  resume=resume, accumulate=accumulate, progress=progress, desc=f"{method} pre-training")
    info = dict(method=method, recipe=recipe, seed=seed, seconds=time.perf_counter() - start,
                device=str(device), history=history.epoch, torch_version=str(torch.__version__), quick=quick,
                processes=world, accumulate=accumulate)
    return PretrainRun(encoder.eval(), distributed.unwrap(model).eval(), history, info)


def save_pretrained(path: str | Path, encoder: Encoder, info: dict, **extra) -> Path:
    """Save an encoder with its ``config`` and ``info`` (from :func:`pretrain`) atomically, with
    its ``.sha256`` (:func:`sslteach.train.save_checkpoint`)."""
    return save_checkpoint(path, encoder, config=encoder.config, **info, **extra)


def _fresh_encoder(config: dict) -> Encoder:
    """``build_encoder(**config)`` without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        return build_encoder(**config)


def load_encoder(path: str | Path) -> Encoder:
    """An encoder rebuilt from a checkpoint's ``config`` and weights (sha256 checked), CPU, eval mode.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a checkpoint (:func:`sslteach.train.load_checkpoint`), no ``config``, or
            a ``config`` that does not build an encoder that fits the weights.
    """
    return _encoder_from(load_checkpoint(path), path)


def _encoder_from(ckpt: dict, path: str | Path) -> Encoder:
    """The encoder of a loaded checkpoint: built from its ``config``, with its weights, in eval mode."""
    if "config" not in ckpt:
        raise CheckpointError(f"{path} has no encoder config, so the encoder cannot be rebuilt: save "
                              f"encoders with save_checkpoint(path, encoder, config=encoder.config)")
    if not isinstance(ckpt["config"], dict):
        raise CheckpointError(f"{path} has an encoder config that is not a dict ({ckpt['config']!r}): save "
                              f"encoders with save_checkpoint(path, encoder, config=encoder.config)")
    try:
        encoder = _fresh_encoder(ckpt["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path} has an encoder config that does not build an encoder ({e}); the file was "
                              f"written by another version of sslteach, or edited: train it again") from None
    try:
        encoder.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: the weights do not fit the encoder its config describes "
                              f"({' '.join(str(e).split())[:300]}); the file was edited or mixed up: train it "
                              f"again") from None
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

    Checks the encoder ``config``, the ``method`` and every setting of the ``recipe`` that the file
    records (:meth:`PretrainRun.save` and the command line write them).

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: corrupt file, a file without a recorded method and recipe, or settings that
            differ (each one named, expected vs found).
    """
    _check_method(method)
    if not isinstance(recipe, dict) or "encoder" not in recipe:
        raise TypeError(f"recipe must be a recipe dict, e.g. recipe_for({method!r}), got {type(recipe).__name__}")
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("recipe"), dict) or "method" not in ckpt:
        raise CheckpointError(f"checkpoint {path} records no method and recipe, so it cannot be checked against "
                              f"the {method!r} recipe: write encoders with pretrain(...).save() or "
                              f"`python -m sslteach pretrain`, or load this file with load_encoder({str(path)!r})")
    expected = {"config": _fresh_encoder(recipe["encoder"]).config, "method": method}
    found = {"config": ckpt.get("config", "(none)"), "method": ckpt["method"]}
    expected.update({f"recipe {k}": v for k, v in recipe.items()})
    found.update({f"recipe {k}": ckpt["recipe"].get(k, "(none)") for k in recipe})
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
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True, False or None (None: $SSLTEACH_QUICK decides), got {quick!r}")
    recipe = recipe_for(method, **overrides)
    if not isinstance(train_if_missing, bool):
        raise TypeError(f"train_if_missing must be True or False, got {train_if_missing!r}")
    if path is not None:
        candidates = [(check_checkpoint_path(path), recipe)]  # a folder fails now, not after training
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
            return _encoder_from(ckpt, file)
    file, wanted = candidates[-1]
    if not train_if_missing:
        raise FileNotFoundError(f"no pre-trained {method} encoder at {file}: run the notebook that trains "
                                f"it, or call pretrained_encoder({method!r}) with train_if_missing=True")
    print(f"{file.name} not found: training the {method} encoder with the "
          f"{'quick' if quick else 'classroom'} recipe, then saving it to {file}")
    run = pretrain(method, device=device, quick=False, **wanted)
    run.info["quick"] = quick  # a quick-recipe file is marked as such
    run.save(file)
    return run.encoder.cpu().eval()


def shipped_encoder() -> Encoder:
    """The SimCLR encoder shipped in ``data/`` (:data:`SHIPPED`), verified by its sha256 in
    :data:`sslteach.registry.SHA256`, for those who cannot train one themselves.

    Raises:
        DataError: the file is not shipped with this version, missing, or changed.
    """
    if SHIPPED not in SHA256:
        raise DataError(f"data/{SHIPPED} is not shipped with this version of sslteach (it has no entry in "
                        f"sslteach.registry.SHA256). Train the encoder instead: pretrained_encoder('simclr').")
    return load_encoder(data_file(SHIPPED))
