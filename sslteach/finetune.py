"""Fine-tuning a pre-trained encoder, and training from scratch as the baseline.

A linear probe (``sslteach.probe``) reads frozen features. Fine-tuning goes further: put a new
linear head on the encoder and train both on the labelled images, the pre-trained backbone with a
smaller learning rate than the fresh head, so that what it learned is adjusted rather than erased.
Freezing the first blocks keeps the most general features fixed; freezing all of them (or
``lr_backbone=0``) is a linear probe trained by gradient descent. Training the same architecture
from random weights with the same data and steps is the baseline every pre-training must beat::

    model, history = fine_tune(encoder, x[idx], y[idx], freeze_blocks=1)
    classifier_accuracy(model, x_test, y_test)                   # test accuracy in [0, 1]
    model, _ = train_from_scratch(x[idx], y[idx])                # same budget, random init

How these compare as the number of labels grows (label-fraction curves) is :mod:`sslteach.curves`.

- Yosinski et al., How transferable are features in deep neural networks?, 2014.
- Kornblith, Shlens, Le, Do Better ImageNet Models Transfer Better?, 2019.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .augment import Compose, RandomHorizontalFlip, RandomResizedCrop
from .batches import TensorLoader, as_float_images, infer_batches
from .models import build_encoder
from .train import History, cosine_schedule, fit
from .utils import check_finite, check_images, check_labels, check_number, get_device, set_seed


def light_augment(size: int = 32) -> Compose:
    """The usual supervised augmentation: a mild random crop (70-100 % of the area) and a flip."""
    size = check_number(size, "size", low=1, integer=True, hint="the side of the output images in pixels")
    return Compose([RandomResizedCrop(size, scale=(0.7, 1.0)), RandomHorizontalFlip(p=0.5)])


class Classifier(nn.Module):
    """Encoder + new head: ``logits = head(encoder(x))``, (N, C, H, W) -> (N, num_classes).

    The head is a BatchNorm without learnable scale and shift followed by a linear layer: still a
    linear map of ``h`` at test time, but it puts the features of every encoder on the same scale,
    so one learning rate suits all of them (MAE's linear probe does the same).

    Args:
        encoder: an :class:`sslteach.models.Encoder` (``stem`` and ``blocks`` are needed to freeze).
        num_classes: outputs of the head.
        freeze_blocks: freeze the stem and the first ``freeze_blocks`` blocks
            (0: nothing; ``len(encoder.blocks)``: the whole encoder).

    - He et al., Masked Autoencoders Are Scalable Vision Learners, 2022 (BatchNorm before the probe).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, freeze_blocks: int = 0):
        super().__init__()
        dim = getattr(encoder, "feature_dim", None)
        if dim is None:
            raise TypeError(f"Classifier needs an sslteach Encoder (with feature_dim), got {type(encoder).__name__}")
        num_classes = check_number(num_classes, "num_classes", low=2, integer=True,
                                   hint="one output per class, and a classifier needs at least 2 classes")
        self.encoder = encoder
        self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, num_classes))
        self.freeze_blocks = 0
        self.freeze(freeze_blocks)

    def frozen_modules(self) -> list[nn.Module]:
        """The stem and the first ``freeze_blocks`` blocks (empty when nothing is frozen)."""
        return [self.encoder.stem, *self.encoder.blocks[:self.freeze_blocks]] if self.freeze_blocks else []

    def freeze(self, blocks: int) -> None:
        """Freeze the stem and the first ``blocks`` blocks, unfreeze the rest."""
        n = len(getattr(self.encoder, "blocks", ()))
        self.freeze_blocks = check_number(blocks, "freeze_blocks", low=0, high=n, integer=True,
                                          hint=f"0 trains everything, {n} freezes the whole encoder")
        for p in self.encoder.parameters():
            p.requires_grad_(True)
        for module in self.frozen_modules():
            module.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> "Classifier":
        """As ``nn.Module.train``, but frozen modules stay in eval mode: their BatchNorm statistics
        do not move (``fit`` calls ``model.train()`` at every epoch)."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)     # (N, D)
        return self.head(h)     # (N, num_classes)


def make_optimizer(model: Classifier, lr_head: float, lr_backbone: float,
                   weight_decay: float = 1e-4) -> torch.optim.AdamW:
    """AdamW with two parameter groups: ``"head"`` at ``lr_head`` and ``"backbone"`` (the encoder's
    trainable parameters) at ``lr_backbone``; frozen parameters are in neither."""
    if not isinstance(model, Classifier):
        raise TypeError(f"model must be a Classifier(encoder, num_classes), got {type(model).__name__}")
    lr_head, lr_backbone, weight_decay = _check_rates(lr_head, lr_backbone, weight_decay)
    groups = [{"name": "head", "params": list(model.head.parameters()), "lr": lr_head}]
    backbone = [p for p in model.encoder.parameters() if p.requires_grad]
    if backbone:
        groups.append({"name": "backbone", "params": backbone, "lr": lr_backbone})
    return torch.optim.AdamW(groups, lr=lr_head, weight_decay=weight_decay)


def _check_rates(lr_head, lr_backbone, weight_decay) -> tuple[float, float, float]:
    return (check_number(lr_head, "lr_head", low=0, low_open=True, hint="the default is 3e-3"),
            check_number(lr_backbone, "lr_backbone", low=0, hint="0 freezes the encoder; the default is 1e-3"),
            check_number(weight_decay, "weight_decay", low=0, hint="the default is 1e-4"))


def _check_image_set(images, encoder: nn.Module | None = None) -> None:
    """Refuse what no batch of ``images`` could train on, before any work: not (N, C, H, W), a
    dtype other than uint8 or float, NaN, float values outside [0, 1], channels the encoder lacks."""
    first = images[:1] if torch.is_tensor(images) and images.ndim else images
    as_float_images(first, "images")            # type, shape and dtype, on one image
    if images.is_floating_point():
        for i in range(0, len(images), 4096):   # in chunks: no float copy of a whole data set
            check_images(images[i:i + 4096], "images")
    channels = getattr(encoder, "in_channels", images.shape[1])
    if images.shape[1] != channels:
        raise ValueError(f"the encoder takes {channels}-channel images, got {images.shape[1]}-channel images "
                         f"(shape {tuple(images.shape)}); build the encoder with in_channels={images.shape[1]}")


class _Steps:
    """Exactly ``steps`` batches per pass, cycling through (and reshuffling) a TensorLoader."""

    def __init__(self, loader: TensorLoader, steps: int):
        self.loader, self.steps, self._it = loader, steps, iter(())

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            batch = next(self._it, None)
            if batch is None:  # one pass over the labelled images is done: reshuffle
                self._it = iter(self.loader)
                batch = next(self._it)
            yield batch


def fine_tune(encoder: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
              num_classes: int | None = None, steps: int | None = None, epochs: int | None = None,
              lr_head: float = 3e-3, lr_backbone: float = 1e-3, freeze_blocks: int = 0,
              augment: Callable | str | None = "light", weight_decay: float = 1e-4, batch_size: int = 64,
              device: torch.device | str | None = None, seed: int = 0,
              progress: bool = False) -> tuple[Classifier, History]:
    """Train ``encoder`` + a new linear head on labelled images (the encoder is trained in place).

    The budget is a number of optimisation **steps**, not epochs, so that 10 labels per class and
    1,000 labels per class cost the same time (with batches of 64, an epoch of 100 images is one
    step, one of 10,000 images 156). Batches cycle through the labelled images (reshuffled after
    each pass, with fresh augmentations every time). Cross-entropy, AdamW with a head and a backbone learning rate, a
    linear warm-up over the first 10 % of the steps, then cosine decay to 0.

    Args:
        encoder: a pre-trained (or fresh) :class:`sslteach.models.Encoder`.
        images: (N, C, H, W) uint8 or float [0, 1], N >= 2; labels: (N,) int64 in
            ``0 .. num_classes - 1``.
        num_classes: default ``labels.max() + 1`` (at least 2).
        steps: optimisation steps (default 200); or give ``epochs`` (passes over the N images) instead.
        lr_head: learning rate of the head.
        lr_backbone: learning rate of the encoder's unfrozen part; 0 freezes the whole encoder (a
            linear probe trained by gradient descent). The default, a third of ``lr_head``, did
            better than a tenth for most of the encoders and label budgets tried on the shipped
            CIFAR-10; notebook 07 (section 6, the backbone learning-rate sweep) measures it.
        freeze_blocks: freeze the stem and the first ``freeze_blocks`` blocks (``requires_grad``
            off, BatchNorm in eval mode).
        augment: ``x -> x`` on float batches; ``"light"`` is :func:`light_augment` at the images' size,
            ``None`` trains on the plain images.
        weight_decay: AdamW's (decoupled) weight decay.
        batch_size: images per step, at least 2 (the head's BatchNorm needs two); at most N is used.
        device: default :func:`sslteach.utils.get_device`.
        seed: seeds the head, the batch order and the augmentations (``set_seed``).
        progress: show a progress bar.

    Returns:
        ``(model, history)``: the :class:`Classifier` (on ``device``, eval mode) and ``fit``'s
        history; ``history.step`` has every step's ``loss``, ``acc`` (training batch),
        ``lr_head`` and ``lr_backbone``.

    Raises:
        ValueError: images with NaN or outside [0, 1], fewer than 2 images, labels outside
            ``0 .. num_classes - 1`` or of a single class, a bad number (steps=0, batch_size=1, ...).
        TypeError: float labels, int64 images (uint8 or float only), a bool where a number goes.
    """
    _check_image_set(images, encoder)
    labels = check_labels(labels, len(images))
    if len(images) < 2:
        raise ValueError("fine_tune needs at least 2 labelled images: the head's BatchNorm computes its "
                         "statistics over a batch of at least two")
    if num_classes is None:
        num_classes = int(labels.max()) + 1
        if num_classes < 2:
            raise ValueError("the labels hold a single class (0): a classifier needs at least 2; give "
                             "images of more classes, or num_classes=... if the others are only absent here")
    num_classes = check_number(num_classes, "num_classes", low=2, integer=True, hint="one output per class")
    if int(labels.max()) >= num_classes:
        raise ValueError(f"labels go up to {int(labels.max())} but num_classes={num_classes}: use "
                         f"num_classes >= {int(labels.max()) + 1}, or leave it out (labels.max() + 1)")
    if steps is not None and epochs is not None:
        raise ValueError(f"give steps or epochs, not both (got steps={steps}, epochs={epochs})")
    if steps is not None:
        steps = check_number(steps, "steps", low=1, integer=True, hint="the number of optimisation steps")
    if epochs is not None:
        epochs = check_number(epochs, "epochs", low=1, integer=True, hint="passes over the labelled images")
    batch_size = check_number(batch_size, "batch_size", low=2, integer=True,
                              hint="the head's BatchNorm needs at least 2 images per batch")
    lr_head, lr_backbone, weight_decay = _check_rates(lr_head, lr_backbone, weight_decay)
    seed = check_number(seed, "seed", low=0, high=2**32 - 1, integer=True)
    if isinstance(augment, str) and augment != "light":
        raise ValueError(f'augment must be "light", None or a callable x -> x, got {augment!r}')
    if augment is not None and not isinstance(augment, str) and not callable(augment):
        raise TypeError(f'augment must be "light", None or a callable x -> x, got {type(augment).__name__}')
    device = get_device(device)
    set_seed(seed)
    freeze_blocks = len(getattr(encoder, "blocks", ())) if lr_backbone == 0 else freeze_blocks
    model = Classifier(encoder, num_classes, freeze_blocks)
    optimizer = make_optimizer(model, lr_head, lr_backbone, weight_decay)
    loader = TensorLoader(images, labels, batch_size=min(batch_size, len(images)), drop_last=True, seed=seed)
    steps = epochs * len(loader) if epochs is not None else (200 if steps is None else steps)
    scheduler = cosine_schedule(optimizer, steps, warmup_steps=steps // 10)
    augment = light_augment(images.shape[-1]) if isinstance(augment, str) else augment
    groups = optimizer.param_groups

    def step(model: Classifier, batch):
        x, y = as_float_images(batch), batch[1]   # (B, C, H, W) in [0, 1], (B,)
        if augment is not None:
            x = augment(x)
            if not torch.is_tensor(x):
                raise TypeError(f"augment must map a batch to one batch x -> x, got {type(x).__name__}; "
                                f"fine_tune takes a one-view augmentation such as light_augment(), not TwoViews")
        logits = model(x)                          # (B, num_classes)
        lrs = {"lr_head": groups[0]["lr"], "lr_backbone": groups[1]["lr"] if len(groups) > 1 else 0.0}
        return F.cross_entropy(logits, y), {"acc": (logits.argmax(1) == y).float().mean(), **lrs}

    history = fit(model, step, _Steps(loader, steps), optimizer, 1, scheduler=scheduler, device=device,
                  progress=progress, desc="fine-tune")
    return model, history


def train_from_scratch(images: torch.Tensor, labels: torch.Tensor, *, encoder_config: dict | None = None,
                       lr: float = 3e-3, seed: int = 0, **kwargs) -> tuple[Classifier, History]:
    """Supervised baseline: :func:`fine_tune` on a fresh ``build_encoder(**encoder_config)`` (default
    ``ConvEncoder()``), built right after ``set_seed(seed)`` (the random-init baseline of the
    notebooks), with one learning rate ``lr`` for head and encoder; other arguments as
    :func:`fine_tune` (same steps, batch size and augmentation by default)."""
    for name in ("lr_head", "lr_backbone"):
        if name in kwargs:
            raise TypeError(f"train_from_scratch trains head and encoder with one learning rate: pass "
                            f"lr=..., not {name}=...")
    if encoder_config is not None and not isinstance(encoder_config, dict):
        raise TypeError(f"encoder_config must be a dict such as encoder.config (e.g. {{'name': 'conv'}}), "
                        f"got {type(encoder_config).__name__}")
    check_number(lr, "lr", low=0, low_open=True, hint="the default is 3e-3")
    seed = check_number(seed, "seed", low=0, high=2**32 - 1, integer=True)
    set_seed(seed)
    encoder = build_encoder(**(encoder_config or {"name": "conv"}))
    return fine_tune(encoder, images, labels, lr_head=lr, lr_backbone=lr, seed=seed, **kwargs)


def classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500,
                        device: torch.device | str | None = None) -> float:
    """Accuracy of ``model``'s argmax on (N, C, H, W) images (uint8 or float [0, 1]) in eval mode.

    Raises:
        ValueError: no image, labels that do not match the images or the model's outputs, or
            outputs with NaN/inf (a diverged model).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. what fine_tune returns), "
                        f"got {type(model).__name__}")
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a tensor (N, C, H, W), got {type(images).__name__}; "
                        f"convert with torch.as_tensor(...)")
    if len(images) == 0:
        raise ValueError(f"the test set is empty (images of shape {tuple(images.shape)}): accuracy needs at "
                         f"least one image")
    labels = check_labels(labels, len(images)).cpu()
    logits = infer_batches(model, images, batch_size=batch_size, device=device)   # (N, num_classes)
    if logits.ndim != 2:
        raise ValueError(f"model must return logits (N, num_classes), got shape {tuple(logits.shape)}")
    check_finite(logits, "the model's outputs", "its weights hold NaN/inf: its training diverged (lower "
                                                "the learning rate and train again)")
    if int(labels.max()) >= logits.shape[1]:
        raise ValueError(f"labels go up to {int(labels.max())} but the model has {logits.shape[1]} outputs "
                         f"(classes 0 .. {logits.shape[1] - 1}): it cannot predict them; train it with "
                         f"num_classes={int(labels.max()) + 1}")
    return (logits.argmax(1) == labels).float().mean().item()
