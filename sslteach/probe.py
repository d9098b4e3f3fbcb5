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

import numpy as np
import torch
import torch.nn.functional as F

from .data import per_class_indices
from .train import infer_batches


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
    """
    kwargs = {} if block is None else {"block": block}
    if grid != 1:
        kwargs["grid"] = grid
    return infer_batches(encoder, images, lambda enc, x: enc(x, **kwargs), batch_size=batch_size, device=device)


def _check_pair(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name} features must be 2-D (N, D), got shape {tuple(x.shape)}")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} feature rows but {len(y)} labels")


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, labels_per_class: int | None = None, seed: int = 0,
                 C: float = 0.01, max_iter: int = 1000) -> float:
    """Test accuracy of a logistic regression trained on frozen, standardised features.

    Args:
        train_x, train_y: (N, D) features and (N,) labels to fit on.
        test_x, test_y: (M, D) features and (M,) labels to score.
        labels_per_class: use only this many random labelled examples per class (``seed``).
        C: inverse L2 strength of the logistic regression (scikit-learn's ``C``). One fixed
            value for every representation keeps the numbers comparable; 0.01 sits near the
            best value for both raw pixels and 256-d CNN features of the shipped CIFAR-10.
        max_iter: L-BFGS iterations.

    Returns:
        Accuracy on the test set, in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    train_x, train_y, test_x, test_y = (torch.as_tensor(t) for t in (train_x, train_y, test_x, test_y))
    _check_pair(train_x, train_y, "train")
    _check_pair(test_x, test_y, "test")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train features have {train_x.shape[1]} dims, test features {test_x.shape[1]}")
    if labels_per_class is not None:
        idx = per_class_indices(train_y, labels_per_class, seed)
        train_x, train_y = train_x[idx], train_y[idx]
    scaler = StandardScaler().fit(train_x.double().numpy())
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    # One BLAS thread: next to PyTorch's busy OpenMP threads, multi-threaded BLAS in L-BFGS's
    # small matrix products can run 20x slower on a 2-core machine (measured), never faster.
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
    class with weight ``exp(s_j / temperature)``; the class with the largest total wins.

    - Wu et al., Unsupervised Feature Learning via Non-Parametric Instance Discrimination, 2018.
    """
    train_x, test_x = torch.as_tensor(train_x).float(), torch.as_tensor(test_x).float()
    train_y, test_y = torch.as_tensor(train_y).long(), torch.as_tensor(test_y).long()
    _check_pair(train_x, train_y, "train")
    _check_pair(test_x, test_y, "test")
    if not 1 <= k <= len(train_x):
        raise ValueError(f"k must be between 1 and the number of training points ({len(train_x)}), got {k}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    num_classes = int(train_y.max()) + 1
    train_n = F.normalize(train_x, dim=1)
    correct = 0
    for i in range(0, len(test_x), batch_size):
        sim = F.normalize(test_x[i:i + batch_size], dim=1) @ train_n.T   # (B, N)
        top_sim, top_idx = sim.topk(k, dim=1)                             # (B, k)
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()      # (B, k), max-shifted: no overflow
        votes = torch.zeros(len(sim), num_classes).scatter_add_(1, train_y[top_idx], weights)
        correct += (votes.argmax(1) == test_y[i:i + batch_size]).sum().item()
    return correct / len(test_x)


def probe_table(features: dict, train_y: torch.Tensor, test_y: torch.Tensor,
                labels_per_class=(10, 100, None), seeds: int = 3, knn: bool = True) -> dict:
    """Linear-probe (and kNN) accuracy of several representations at several label budgets.

    Args:
        features: ``{"name": (train_features, test_features)}``.
        train_y, test_y: labels of the train and test rows.
        labels_per_class: label budgets; ``None`` means every training label. Sampled budgets
            are averaged over ``seeds`` random draws of the labelled examples.
        knn: add the kNN accuracy with every training label.

    Returns:
        ``{"name": {"10/class": acc, "100/class": acc, "all": acc, "kNN": acc}}``.
    """
    table = {}
    for name, (train_x, test_x) in features.items():
        row = {}
        for k in labels_per_class:
            if k is None:
                row["all"] = linear_probe(train_x, train_y, test_x, test_y)
            else:
                accs = [linear_probe(train_x, train_y, test_x, test_y, labels_per_class=k, seed=s)
                        for s in range(seeds)]
                row[f"{k}/class"] = float(np.mean(accs))
        if knn:
            row["kNN"] = knn_accuracy(train_x, train_y, test_x, test_y)
        table[name] = row
    return table


def format_table(table: dict, digits: int = 1) -> str:
    """A ``probe_table`` result as aligned text, accuracies in percent."""
    columns = list(next(iter(table.values())))
    width = max(len(n) for n in table) + 2
    lines = [" " * width + "".join(f"{c:>11}" for c in columns)]
    for name, row in table.items():
        lines.append(f"{name:<{width}}" + "".join(f"{100 * row[c]:>10.{digits}f}%" for c in columns))
    return "\n".join(lines)
