"""Measuring a representation: feature extraction, linear probe and kNN accuracy.

Every notebook judges an encoder the same way: freeze it, extract features ``h`` for the train
and test images, then ask how well a *linear* classifier (the linear probe) or a nearest-neighbour
vote (kNN) separates the classes. Better features -> higher accuracy with the same simple reader.

Examples:
    >>> h_train = extract_features(encoder, x_train)         # (N, D)
    >>> linear_probe(h_train, y_train, h_test, y_test, labels_per_class=10)
    0.31
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .batches import infer_batches
from .data import per_class_indices
from .utils import check_finite, check_number, unit_rows


def extract_features(encoder: torch.nn.Module, images: torch.Tensor, batch_size: int = 500,
                     device: torch.device | str | None = None, block: int | None = None,
                     grid: int = 1) -> torch.Tensor:
    """Frozen features of ``images`` (uint8 0-255 or float 0-1), computed in batches without grad.

    Args:
        encoder: maps float images (B, C, H, W) to (B, D); an :class:`sslteach.models.Encoder`
            also accepts ``block`` to return the pooled features after that block.
        images: (N, C, H, W).
        batch_size: images per forward pass.
        device: where to run (default :func:`sslteach.utils.get_device`).
        block: 0-based block index (``None``: the encoder's output).
        grid: pool an :class:`sslteach.models.Encoder`'s feature map to grid x grid cells
            (features C * grid**2) instead of one global average.

    Returns:
        float32 CPU tensor (N, D).

    Raises:
        ValueError: the encoder's output holds NaN or inf (its weights diverged).
    """
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(f"encoder must be a torch.nn.Module (e.g. st.ConvEncoder()), got {type(encoder).__name__}")
    kwargs = {} if block is None else {"block": check_number(block, "block", integer=True)}
    if check_number(grid, "grid", low=1, integer=True, hint="1 is one global average") != 1:
        kwargs["grid"] = grid
    h = infer_batches(encoder, images, lambda enc, x: enc(x, **kwargs), batch_size=batch_size, device=device)
    return check_finite(h, "the features", _NAN_FEATURES)


_NAN_FEATURES = ("the encoder produced them from finite images, so its weights hold NaN/inf: its training "
                 "diverged (lower the learning rate and train again, or load a good checkpoint)")


def _check_features(x, y, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` as tensors after checking: x (N, D) real and finite, y (N,) integer labels >= 0."""
    try:
        x, y = torch.as_tensor(x), torch.as_tensor(y)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} features and labels must be tensors or arrays, got {type(x).__name__} and "
                        f"{type(y).__name__}; convert with torch.as_tensor(...)") from e
    if x.ndim != 2:
        hint = "; flatten them first with x.flatten(1)" if x.ndim > 2 else ""
        raise ValueError(f"{name} features must be 2-D (N, D), got shape {tuple(x.shape)}{hint}")
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} features must be real numbers, got dtype {x.dtype}; use x.float()")
    if len(x) == 0 or x.shape[1] == 0:
        raise ValueError(f"the {name} set is empty (features of shape {tuple(x.shape)}): need at least one "
                         f"example with at least one feature")
    check_finite(x, f"the {name} features", _NAN_FEATURES)
    if y.ndim != 1:
        raise ValueError(f"{name} labels must be 1-D (N,), got shape {tuple(y.shape)}; use y.flatten()")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} labels must be integer class indices 0, 1, 2, ..., got dtype {y.dtype}; "
                        f"use y.long() (round float labels first if they are not whole numbers)")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} feature rows but {len(y)} labels; give one label per row")
    if int(y.min()) < 0:
        raise ValueError(f"{name} labels must be class indices 0, 1, 2, ..., got {int(y.min())}; "
                         f"renumber the classes from 0")
    return x.cpu(), y.long().cpu()


def _check_train_test(train_x, train_y, test_x, test_y) -> tuple:
    train_x, train_y = _check_features(train_x, train_y, "train")
    test_x, test_y = _check_features(test_x, test_y, "test")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train features have {train_x.shape[1]} dims but test features {test_x.shape[1]}; "
                         f"extract both with the same encoder, block and grid")
    unseen = sorted(set(test_y.unique().tolist()) - set(train_y.unique().tolist()))
    if unseen:
        raise ValueError(f"test labels hold class(es) {unseen[:5]} that never occur in the training labels, "
                         f"so no classifier can predict them; give training examples of every class (and "
                         f"check that train and test labels number the classes alike)")
    return train_x, train_y, test_x, test_y


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, labels_per_class: int | None = None, seed: int = 0,
                 C: float = 0.01, max_iter: int = 1000) -> float:
    """Test accuracy of a logistic regression trained on frozen, standardised features.

    Args:
        train_x, train_y: (N, D) features and (N,) integer labels (0, 1, ...) to fit on, at least
            two classes.
        test_x, test_y: (M, D) features and (M,) labels to score, M >= 1.
        labels_per_class: use only this many random labelled examples per class (``seed``).
        seed: seeds that draw and the solver.
        C: inverse L2 strength of the logistic regression (scikit-learn's ``C``). One fixed
            value for every representation keeps the numbers comparable; 0.01 sits near the
            best value for both raw pixels and 256-d CNN features of the shipped CIFAR-10.
        max_iter: L-BFGS iterations.

    Returns:
        Accuracy on the test set, in [0, 1].

    Raises:
        ValueError: features with NaN/inf, mismatched lengths or widths, an empty set, a single
            training class, or test classes absent from the training labels.
        TypeError: float labels (use ``y.long()``), a bool ``C`` or ``seed``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    train_x, train_y, test_x, test_y = _check_train_test(train_x, train_y, test_x, test_y)
    seed = check_number(seed, "seed", low=0, high=2**32 - 1, integer=True)
    C = check_number(C, "C", low=0, low_open=True, hint="smaller C regularises more; 0.01 is the default")
    max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    if labels_per_class is not None:
        k = check_number(labels_per_class, "labels_per_class", low=1, integer=True,
                         hint="None uses every training label")
        idx = per_class_indices(train_y, k, seed)
        train_x, train_y = train_x[idx], train_y[idx]
    if len(train_y.unique()) < 2:
        raise ValueError(f"the training labels hold a single class ({int(train_y[0])}): a classifier needs "
                         f"examples of at least two classes to learn anything; give labels of more classes")
    scaler = StandardScaler().fit(train_x.double().numpy())
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    # One BLAS thread: next to PyTorch's busy OpenMP threads, multi-threaded BLAS in L-BFGS's
    # small matrix products can run many times slower on a 2-core machine, never faster.
    with threadpool_limits(1, user_api="blas"):
        clf.fit(scaler.transform(train_x.double().numpy()), train_y.numpy())
    pred = clf.predict(scaler.transform(test_x.double().numpy()))
    return float(np.mean(pred == test_y.numpy()))


@torch.no_grad()
def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, k: int = 20, temperature: float = 0.07,
                 batch_size: int = 1024) -> float:
    """Weighted k-nearest-neighbour accuracy with cosine similarity.

    Each test point takes its ``k`` most similar training points; neighbour ``j`` votes for its
    class with weight ``exp(s_j / temperature)``; the class with the largest total wins. Rows of
    any length are normalised safely (:func:`sslteach.utils.unit_rows`); an all-zero row has
    similarity 0 with every row.

    Args:
        train_x, train_y: (N, D) features and (N,) integer labels (0, 1, ...).
        test_x, test_y: (M, D) features and (M,) labels, M >= 1.
        k: neighbours that vote, 1 <= k <= N.
        temperature: τ > 0 of the vote weights.
        batch_size: test points per similarity matrix (memory only).

    Returns:
        Accuracy on the test set, in [0, 1].

    - Wu et al., Unsupervised Feature Learning via Non-Parametric Instance Discrimination, 2018.
    """
    train_x, train_y, test_x, test_y = _check_train_test(train_x, train_y, test_x, test_y)
    k = check_number(k, "k", low=1, high=len(train_x), integer=True,
                     hint="the number of neighbours that vote, at most the number of training points")
    temperature = check_number(temperature, "temperature", low=0, low_open=True, hint="the usual value is 0.07")
    batch_size = check_number(batch_size, "batch_size", low=1, integer=True)
    num_classes = int(train_y.max()) + 1
    train_n = unit_rows(train_x.float())                                 # (N, D)
    correct = 0
    for i in range(0, len(test_x), batch_size):
        sim = unit_rows(test_x[i:i + batch_size].float()) @ train_n.T    # (B, N)
        top_sim, top_idx = sim.topk(k, dim=1)                             # (B, k)
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()      # (B, k), max-shifted: no overflow
        votes = torch.zeros(len(sim), num_classes).scatter_add_(1, train_y[top_idx], weights)
        correct += (votes.argmax(1) == test_y[i:i + batch_size]).sum().item()
    return correct / len(test_x)


def _budgets(labels_per_class) -> tuple:
    """``labels_per_class`` as a tuple of budgets (an int or None alone is one budget)."""
    if labels_per_class is None or isinstance(labels_per_class, numbers.Integral):
        budgets = (labels_per_class,)
    elif isinstance(labels_per_class, (tuple, list, range)):
        budgets = tuple(labels_per_class)
    else:
        raise TypeError(f"labels_per_class must be a tuple of budgets such as (10, 100, None), got "
                        f"{labels_per_class!r}")
    if not budgets:
        raise ValueError("labels_per_class is empty: give budgets such as (10, 100, None)")
    for k in budgets:
        if k is not None:
            check_number(k, "each of labels_per_class", low=1, integer=True,
                         hint="budgets are labelled examples per class, None for every label")
    return budgets


def probe_table(features: dict, train_y: torch.Tensor, test_y: torch.Tensor,
                labels_per_class=(10, 100, None), seeds: int = 3, knn: bool = True) -> dict:
    """Linear-probe (and kNN) accuracy of several representations at several label budgets.

    Args:
        features: ``{"name": (train_features, test_features)}``.
        train_y, test_y: labels of the train and test rows.
        labels_per_class: label budgets; ``None`` means every training label (a single int or
            None is one budget). Sampled budgets are averaged over ``seeds`` random draws of the
            labelled examples.
        seeds: number of draws (seeds 0 .. seeds - 1).
        knn: add the kNN accuracy with every training label (k = 20, or N when fewer).

    Returns:
        ``{"name": {"10/class": acc, "100/class": acc, "all": acc, "kNN": acc}}``.
    """
    if not isinstance(features, dict) or not features:
        raise TypeError(f"features must be a non-empty dict {{'name': (train_features, test_features)}}, "
                        f"got {features!r:.60}")
    for name, pair in features.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            length = f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else ""
            raise TypeError(f"features[{name!r}] must be a pair (train_features, test_features), got "
                            f"{type(pair).__name__}{length}")
    budgets = _budgets(labels_per_class)
    seeds = check_number(seeds, "seeds", low=1, integer=True, hint="the number of random draws per budget")
    table = {}
    for name, (train_x, test_x) in features.items():
        row = {}
        for k in budgets:
            if k is None:
                row["all"] = linear_probe(train_x, train_y, test_x, test_y)
            else:
                accs = [linear_probe(train_x, train_y, test_x, test_y, labels_per_class=k, seed=s)
                        for s in range(seeds)]
                row[f"{k}/class"] = float(np.mean(accs))
        if knn:
            row["kNN"] = knn_accuracy(train_x, train_y, test_x, test_y, k=min(20, len(train_x)))
        table[name] = row
    return table


def format_table(table: dict, digits: int = 1) -> str:
    """A ``probe_table`` result as aligned text, accuracies in percent."""
    if not isinstance(table, dict) or not table:
        raise ValueError(f"table must be a non-empty dict {{'name': {{'column': accuracy}}}} such as "
                         f"probe_table returns, got {table!r:.60}")
    digits = check_number(digits, "digits", low=0, high=10, integer=True)
    columns = list(next(iter(table.values())))
    for name, row in table.items():
        if set(row) != set(columns):  # any order: columns are printed in the first row's order
            raise ValueError(f"every row needs the same columns: {name!r} has {list(row)}, the first {columns}; "
                             f"fill the missing ones or drop the extra ones before printing")
    width = max(len(str(n)) for n in table) + 2
    lines = [" " * width + "".join(f"{c:>11}" for c in columns)]
    for name, row in table.items():
        lines.append(f"{str(name):<{width}}" + "".join(f"{100 * row[c]:>10.{digits}f}%" for c in columns))
    return "\n".join(lines)
