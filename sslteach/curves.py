"""Label-fraction curves: test accuracy against the number of labels, for several protocols.

How much does pre-training help when labels are scarce? :class:`Protocol` reads one encoder one way
(linear probe, kNN, fine-tuning, or training from scratch, from :mod:`sslteach.probe` and
:mod:`sslteach.finetune`) as a function ``train_idx -> test accuracy``; :func:`label_fraction_curve`
gives every protocol the same k labelled images per class, for each budget k and seed::

    curve = label_fraction_curve({"RotNet / fine-tune": Protocol("fine-tune", encoder, train, test)},
                                 train.labels, labels_per_class=(10, 100))
    print(format_table(curve))

- Kornblith, Shlens, Le, Do Better ImageNet Models Transfer Better?, 2019.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from .data import per_class_indices
from .finetune import classifier_accuracy, fine_tune, train_from_scratch
from .probe import _budgets, extract_features, knn_accuracy, linear_probe
from .utils import check_labels, check_number


class Protocol:
    """One encoder read one way, as a function ``train_idx -> test accuracy`` for
    :func:`label_fraction_curve`.

    Kinds: ``"linear probe"`` (logistic regression on frozen features, extracted once),
    ``"kNN"`` (k = min(20, labelled images)), ``"fine-tune"`` (:func:`fine_tune` on a copy of
    the encoder) and ``"from scratch"`` (:func:`train_from_scratch` with the encoder's config).

    Args:
        kind: one of the above.
        encoder: the encoder (for ``"from scratch"`` only its config is used; ``None``: ConvEncoder).
        train, test: ``(images, labels)`` pairs or :class:`sslteach.data.ImageSet`.
        device: where features and training run.
        **kwargs: passed to :func:`linear_probe`, :func:`knn_accuracy`, :func:`fine_tune` or
            :func:`train_from_scratch` (e.g. ``lr_backbone=0`` or ``freeze_blocks=2``).
    """
    KINDS = ("linear probe", "kNN", "fine-tune", "from scratch")

    def __init__(self, kind: str, encoder: nn.Module | None, train, test,
                 device: torch.device | str | None = None, **kwargs):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        if encoder is None and kind != "from scratch":
            raise ValueError(f"the {kind!r} protocol needs an encoder")
        if encoder is not None and not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module (e.g. st.ConvEncoder()), "
                            f"got {type(encoder).__name__}")
        self.kind, self.encoder, self.device, self.kwargs = kind, encoder, device, kwargs
        (self.x, self.y), (self.x_test, self.y_test) = _image_pair(train, "train"), _image_pair(test, "test")
        self._features = None

    def __call__(self, train_idx: torch.Tensor) -> float:
        train_idx = torch.as_tensor(train_idx)
        integer = not (train_idx.is_floating_point() or train_idx.is_complex() or train_idx.dtype == torch.bool)
        if train_idx.ndim != 1 or len(train_idx) == 0 or not integer:
            raise ValueError(f"train_idx must be a non-empty 1-D tensor of integer indices into the training "
                             f"images, got dtype {train_idx.dtype}, shape {tuple(train_idx.shape)}; "
                             f"st.per_class_indices(labels, k) draws k per class")
        if not 0 <= int(train_idx.min()) <= int(train_idx.max()) < len(self.y):
            raise ValueError(f"train_idx must index the {len(self.y)} training images (0 .. {len(self.y) - 1}), "
                             f"got values from {int(train_idx.min())} to {int(train_idx.max())}")
        if self.kind in ("linear probe", "kNN"):
            if self._features is None:  # (N, D) and (M, D), once for every budget and seed
                self._features = (extract_features(self.encoder, self.x, device=self.device),
                                  extract_features(self.encoder, self.x_test, device=self.device))
            h, h_test = self._features
            if self.kind == "kNN":
                k = self.kwargs.get("k", min(20, len(train_idx)))
                return knn_accuracy(h[train_idx], self.y[train_idx], h_test, self.y_test,
                                    **{**self.kwargs, "k": k})
            return linear_probe(h[train_idx], self.y[train_idx], h_test, self.y_test, **self.kwargs)
        num_classes = int(self.y.max()) + 1
        if self.kind == "fine-tune":
            model, _ = fine_tune(copy.deepcopy(self.encoder), self.x[train_idx], self.y[train_idx],
                                 num_classes=num_classes, device=self.device, **self.kwargs)
        else:
            config = self.encoder.config if self.encoder is not None else None
            model, _ = train_from_scratch(self.x[train_idx], self.y[train_idx], encoder_config=config,
                                          num_classes=num_classes, device=self.device, **self.kwargs)
        return classifier_accuracy(model, self.x_test, self.y_test, device=self.device)


def _image_pair(data, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of an ``(images, labels)`` pair or an ImageSet, checked."""
    if not (isinstance(data, (tuple, list)) and len(data) >= 2 and torch.is_tensor(data[0])):
        raise TypeError(f"{name} must be an (images, labels) pair or an ImageSet, got {type(data).__name__}")
    return data[0], check_labels(data[1], len(data[0]), f"{name} labels")


class LabelCurve(dict):
    """``{name: {"10/class": mean accuracy, ...}}`` (prints with ``format_table``), plus ``runs``
    ``{name: {column: [accuracy of each seed]}}`` and ``seconds`` ``{name: total seconds}``."""

    def __init__(self):
        super().__init__()
        self.runs, self.seconds = {}, {}


def label_fraction_curve(protocols: dict, labels: torch.Tensor, labels_per_class=(10, 100, 1000),
                         seeds=(0,), verbose: bool = True) -> LabelCurve:
    """Test accuracy against labels per class for several (method, protocol) pairs.

    For each budget ``k`` and seed, exactly ``k`` labelled training images per class are drawn
    (:func:`sslteach.data.per_class_indices`) and **every** protocol gets the same ones, so the
    protocols differ only in how they use them; accuracies are averaged over the seeds.

    Args:
        protocols: ``{name: callable(train_idx) -> accuracy}`` (e.g. :class:`Protocol`); a name may
            be a ``(method, protocol)`` tuple, shown as ``"method / protocol"``.
        labels: (N,) labels of the training images the indices point into.
        labels_per_class: budgets; ``None`` means every label (run once, not per seed); a single int
            or None is one budget.
        seeds: seeds of the label draws (an int n means ``range(n)``).
        verbose: print one line per run (time and accuracy).

    Returns:
        A :class:`LabelCurve`: ``{name: {"10/class": acc, ..., "all": acc}}``.
    """
    if not isinstance(protocols, dict) or not protocols:
        raise TypeError(f"protocols must be a non-empty dict {{name: callable(train_idx) -> accuracy}}, got "
                        f"{protocols!r:.60}")
    for key, protocol in protocols.items():
        if not callable(protocol):
            raise TypeError(f"protocols[{key!r}] must be a callable train_idx -> accuracy (e.g. a Protocol), "
                            f"got {type(protocol).__name__}")
    labels = check_labels(labels, None)
    budgets = _budgets(labels_per_class)
    if isinstance(seeds, (tuple, list, range)):
        seeds = [check_number(s, "each seed", low=0, high=2**32 - 1, integer=True) for s in seeds]
    else:
        seeds = list(range(check_number(seeds, "seeds", low=1, integer=True,
                                        hint="an int n means seeds 0 .. n-1; or give a tuple such as (0, 1)")))
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=(0,)")
    curve = LabelCurve()
    names = {key: " / ".join(key) if isinstance(key, tuple) else str(key) for key in protocols}
    for k in budgets:
        column = "all" if k is None else f"{k}/class"
        for seed in ([seeds[0]] if k is None else seeds):
            idx = torch.arange(len(labels)) if k is None else per_class_indices(labels, k, seed)
            for key, protocol in protocols.items():
                start = time.perf_counter()
                name = names[key]
                acc = float(check_number(protocol(idx), f"the accuracy that {name!r} returned", low=0, high=1,
                                         hint="a protocol returns the test accuracy, a number in [0, 1]"))
                seconds = time.perf_counter() - start
                curve.runs.setdefault(name, {}).setdefault(column, []).append(acc)
                curve.seconds[name] = curve.seconds.get(name, 0.0) + seconds
                if verbose:
                    print(f"{name:<32} {column:>10} seed {seed}: {100 * acc:5.1f}% ({seconds:5.1f} s)", flush=True)
    for name, row in curve.runs.items():
        curve[name] = {column: float(np.mean(accs)) for column, accs in row.items()}
    return curve
