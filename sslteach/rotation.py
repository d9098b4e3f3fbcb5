"""RotNet: learn features by predicting how an image was rotated.

The pretext task needs no labels: rotate every image by each of ``k`` angles
(``360° * r / k`` for ``r = 0 .. k-1``) and train ``encoder + head`` to say which ``r`` was used.
To recognise that a bird stands upside down, the network has to find the bird, its head and its
feet, so the encoder learns object-level features.

Examples:
    >>> x_rot, y = rotate_batch(x, k=4)          # (4N, C, H, W), (4N,)
    >>> model = RotNet(ConvEncoder(), k=4)
    >>> fit(model, rotation_step(), TensorLoader(images), torch.optim.Adam(model.parameters()))
    >>> rotation_accuracy(model, test_images)    # 0.25 is chance for k=4
    >>> rotation_predictions(model, test_images).argmax(-1)   # (N, 4) predicted rotation of each copy

- Gidaris et al., Unsupervised Representation Learning by Predicting Image Rotations, 2018.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .utils import check_images, check_number
from .data import per_class_indices
from .probe import extract_features, knn_accuracy, linear_probe
from .models import ConvEncoder, Encoder, ProjectionHead
from .batches import as_float_images, infer_batches
from .distributed import unwrap


def circular_mask(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Centred disc of diameter ``min(height, width)``: 1 inside, 0 in the corners.

    The disc is defined on pixel centres, so it is unchanged by ``torch.rot90`` on square images.

    Args:
        height, width: size of the images to mask, in pixels (integers >= 1).

    Returns:
        (1, 1, height, width) tensor.
    """
    height = check_number(height, "height", low=1, integer=True, hint="pass the image size, e.g. x.shape[-2]")
    width = check_number(width, "width", low=1, integer=True, hint="pass the image size, e.g. x.shape[-1]")
    ys = torch.arange(height, device=device, dtype=torch.float64) + 0.5 - height / 2
    xs = torch.arange(width, device=device, dtype=torch.float64) + 0.5 - width / 2
    r2 = ys[:, None] ** 2 + xs[None, :] ** 2                   # (H, W) squared distance to the centre
    return (r2 <= (min(height, width) / 2) ** 2).to(dtype)[None, None]


def rotate(x: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate images counter-clockwise by ``angle`` degrees.

    Multiples of 90° are exact (``torch.rot90``: transposes and flips, no interpolation). Any other
    angle resamples bilinearly (``affine_grid`` / ``grid_sample``) and needs square images; pixels
    that come from outside the image copy the nearest border pixel, so the corners of the result
    carry no real content (see :func:`rotate_batch` for how RotNet hides them).

    Args:
        x: (N, C, H, W) float images in [0, 1].
        angle: degrees, counter-clockwise as displayed (a finite number).

    Returns:
        (N, C, H, W) (or (N, C, W, H) for an odd multiple of 90° on non-square images).
    """
    check_images(x, "rotate")
    angle = check_number(angle, "angle", hint="give the angle in degrees, e.g. 90 or 45.0")
    return _rotate(x, angle)


def _rotate(x: torch.Tensor, angle: float) -> torch.Tensor:
    """:func:`rotate` without the checks (``rotate_batch`` checks once for all ``k`` angles)."""
    quarter = angle / 90
    if quarter == round(quarter):
        return torch.rot90(x, int(round(quarter)) % 4, dims=(2, 3))
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"rotating by {angle}° needs square images, got H×W = "
                         f"{x.shape[2]}×{x.shape[3]}; crop or resize them first")
    a = math.radians(angle)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0],
                          [math.sin(a), math.cos(a), 0.0]], device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rotate_batch(x: torch.Tensor, k: int = 4, mask: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image in all ``k`` rotations ``r * 360° / k``, with the rotation index as label.

    The output is grouped by rotation: ``x_rot[r * N + i]`` is image ``i`` rotated by
    ``r * 360° / k`` (counter-clockwise) and ``labels[r * N + i] == r``. Gidaris et al. feed all
    rotations of an image in the same batch, which they found trains better than one random
    rotation per image.

    ``k=2`` (0°, 180°) and ``k=4`` (0°, 90°, 180°, 270°) are exact (:func:`torch.rot90`). ``k=8``
    adds the 45° angles, which need interpolation and leave empty corners: a network would read
    the rotation from the corners alone (a shortcut that teaches nothing about objects). Filling
    them with a colour still leaves a visible triangle on the 45° copies only, so instead the same
    centred circular mask (:func:`circular_mask`) blacks out the corners of *all* ``k`` copies,
    the 0° one included. The disc is invariant under rotation, so the corners carry no cue. A
    subtler cue remains: bilinear resampling slightly blurs the 45° copies, one reason why 8
    rotations do not beat 4 in the paper's experiments.

    Args:
        x: (N, C, H, W) float images in [0, 1], any float dtype and device; square unless ``k=2``.
        k: number of rotations, >= 2.
        mask: apply the circular mask; default (``None``): only when some angle is not a
            multiple of 90°.

    Returns:
        x_rot: (k * N, C, H, W), same dtype and device as ``x``.
        labels: (k * N,) int64 rotation indices in ``0 .. k-1``.

    - Gidaris et al., Unsupervised Representation Learning by Predicting Image Rotations, 2018.
    """
    check_images(x, "rotate_batch")
    k = _check_k(k)
    if mask is not None and not isinstance(mask, bool):
        raise TypeError(f"mask must be True, False or None (mask only when needed), got {mask!r}")
    N, C, H, W = x.shape
    angles = [360 * r / k for r in range(k)]
    exact = all(a % 90 == 0 for a in angles)
    if H != W and not all(a % 180 == 0 for a in angles):
        raise ValueError(f"k={k} rotates by 90° or other angles, which needs square images; got "
                         f"H×W = {H}×{W}: crop them square or use k=2 (0° and 180°)")
    if mask is None:
        mask = not exact
    x_rot = torch.cat([_rotate(x, a) for a in angles])           # (kN, C, H, W), grouped by rotation
    if mask:
        x_rot = x_rot * circular_mask(H, W, device=x.device, dtype=x.dtype)
    labels = torch.arange(k, device=x.device).repeat_interleave(N)  # (kN,) = [0]*N + [1]*N + ...
    return x_rot, labels


def _check_k(k) -> int:
    return check_number(k, "k (number of rotations)", low=2, integer=True,
                        hint="use k=4 (0°, 90°, 180°, 270°), as Gidaris et al. do, or k=2 or 8")


def _model_k(model, k) -> int:
    """The model's ``k`` after checking that ``k`` (None: the model's) matches its head."""
    if not isinstance(getattr(model, "k", None), int):
        raise TypeError(f"expected a RotNet (a model with a k-way rotation head), got {type(model).__name__}; "
                        f"wrap your encoder: RotNet(encoder, k=4)")
    k = model.k if k is None else _check_k(k)
    if k != model.k:
        raise ValueError(f"k={k} does not match the model's head, which predicts {model.k} rotations; "
                         f"leave k out, or train a RotNet(k={k})")
    return k


class RotNet(nn.Module):
    """Encoder + rotation classifier: ``logits = head(encoder(x))``, shape (N, k).

    Args:
        encoder: any :class:`sslteach.models.Encoder` (default :class:`ConvEncoder` ()); it is
            the part we keep and probe afterwards.
        k: number of rotations the head tells apart.
        hidden_dim: width of the head's hidden layer (Linear-BN-ReLU-Linear); ``None`` or 0 for
            a single linear layer. A small MLP head keeps the last block of the encoder a little
            less specialised to the pretext task.

    Raises:
        TypeError: ``encoder`` has no ``feature_dim`` (it is not an sslteach encoder).
        ValueError: ``k`` < 2 or ``hidden_dim`` < 0.
    """

    def __init__(self, encoder: Encoder | None = None, k: int = 4, hidden_dim: int | None = 256):
        super().__init__()
        k = _check_k(k)
        if hidden_dim is not None:
            hidden_dim = check_number(hidden_dim, "hidden_dim", low=0, integer=True,
                                      hint="use None (or 0) for a single linear layer")
        if encoder is not None and not isinstance(getattr(encoder, "feature_dim", None), int):
            raise TypeError(f"encoder must be an sslteach Encoder (with a feature_dim), got "
                            f"{type(encoder).__name__}; use e.g. ConvEncoder() or ResNet18Encoder()")
        self.encoder = encoder if encoder is not None else ConvEncoder()
        self.k = k
        self.head = ProjectionHead(self.encoder.feature_dim, hidden_dim or None, out_dim=k,
                                   num_layers=2 if hidden_dim else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)     # (N, D)
        return self.head(h)     # (N, k)


def rotation_step(k: int | None = None):
    """Step function for :func:`sslteach.train.fit`: k-way cross-entropy on rotated copies.

    The batch is a uint8 or float image batch, or an ``(images, labels)`` tuple whose labels are
    ignored: the only targets are the rotation indices made by :func:`rotate_batch`. A batch of
    N images becomes ``k * N`` images in the forward pass.

    Args:
        k: rotations; default the model's ``k`` (it must match the head).

    Returns:
        ``step(model, batch) -> (loss, {"acc": rotation accuracy of the batch})``.
    """
    if k is not None:
        k = _check_k(k)  # fail now, not at the first batch

    def step(model: RotNet, batch):
        kk = _model_k(unwrap(model), k)                         # unwrap: a DDP wrapper under torchrun
        x_rot, y = rotate_batch(as_float_images(batch), kk)   # (kN, C, H, W), (kN,)
        logits = model(x_rot)                                   # (kN, k)
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean()
        return loss, {"acc": acc.detach()}
    return step


def rotation_predictions(model: RotNet, images: torch.Tensor, k: int | None = None, batch_size: int = 500,
                         device: torch.device | str | None = None) -> torch.Tensor:
    """The model's belief about every rotated copy of every image, to find the ones it gets wrong.

    Args:
        model: a trained :class:`RotNet`.
        images: (N, C, H, W) uint8 or float [0, 1] images (each is rotated ``k`` times).
        k: rotations (default the model's ``k``).
        batch_size: images per forward pass (before rotating).
        device: where to run (default :func:`sslteach.utils.get_device`).

    Returns:
        probs: (N, k, k) float32 CPU tensor; ``probs[i, r]`` is the softmax over rotations for image
        ``i`` rotated by ``r * 360° / k``. ``probs.argmax(-1)`` (N, k) is the predicted rotation of
        each copy; it is right where it equals ``r``, and ``probs.diagonal(dim1=1, dim2=2)`` (N, k)
        is the probability given to the true rotation.

    Examples:
        >>> probs = rotation_predictions(model, test_images)        # (N, 4, 4)
        >>> wrong = probs.argmax(-1) != torch.arange(4)              # (N, 4): which copies fail
    """
    k = _model_k(model, k)
    _check_images_arg(images, batch_size)

    def predict(model, x):
        x_rot, _ = rotate_batch(x, k)                              # (kB, C, H, W), grouped by rotation
        probs = model(x_rot).float().softmax(1)                    # (kB, k)
        return probs.view(k, len(x), k).transpose(0, 1)            # (B, k, k): [image, true r, predicted]

    return infer_batches(model, images, predict, batch_size=batch_size, device=device)


def _check_images_arg(images, batch_size) -> None:
    """Fail before the model moves: a tensor of at least one image, a batch_size >= 1."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor (N, C, H, W), got {type(images).__name__}; "
                        f"for a list of images use torch.stack(images)")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}; "
                         f"for one image add a batch dimension: x.unsqueeze(0)")
    check_number(batch_size, "batch_size", low=1, integer=True, hint="images per forward pass, e.g. 500")


def rotation_accuracy(model: RotNet, images: torch.Tensor, k: int | None = None, batch_size: int = 500,
                      device: torch.device | str | None = None, per_rotation: bool = False):
    """How often the model names the right rotation of held-out images (chance: ``1 / k``).

    Args:
        model: a trained :class:`RotNet`.
        images: (N, C, H, W) uint8 or float [0, 1] images (each is rotated ``k`` times).
        k: rotations (default the model's ``k``).
        batch_size: images per forward pass (before rotating).
        device: where to run (default :func:`sslteach.utils.get_device`).
        per_rotation: also return the accuracy of each rotation (list of ``k`` floats).

    Returns:
        Accuracy in [0, 1], or ``(accuracy, per_rotation_accuracies)``.
    """
    probs = rotation_predictions(model, images, k, batch_size, device)     # (N, k, k)
    k = probs.shape[1]
    hit = (probs.argmax(-1) == torch.arange(k)).float()                      # (N, k)
    per_rot = hit.mean(0).tolist()
    acc = float(hit.mean())
    return (acc, per_rot) if per_rotation else acc


def probe_blocks(encoder: Encoder, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, labels_per_class: int | None = None, knn: bool = True,
                 knn_k: int = 20, seed: int = 0, batch_size: int = 500,
                 device: torch.device | str | None = None, max_features: int | None = None) -> list[dict]:
    """Linear-probe (and kNN) accuracy of the pooled features after every block of ``encoder``.

    RotNet's early and middle blocks often make better general features than its last one, which
    specialises in the pretext task (Gidaris et al., Table 1); this measures it for any encoder.

    By default each block's map is averaged to one vector of its C_i channels, which favours the
    wide last block and throws away where things are. ``max_features`` compares blocks on a more
    equal footing, as layer-wise probes in the papers do (Zhang et al. 2016; Gidaris et al. 2018):
    each map is average-pooled to the finest g x g grid with C_i * g**2 <= ``max_features``.

    Args:
        encoder: an :class:`sslteach.models.Encoder` (a :class:`RotNet` is unwrapped to its encoder).
        train_x, train_y: (N, C, H, W) images and (N,) labels for the probe / kNN memory.
        test_x, test_y: (M, C, H, W) images and (M,) labels to score.
        labels_per_class: use only this many random labelled training images per class (``seed``)
            for both the probe and kNN.
        knn: also compute kNN accuracy (``knn_k`` neighbours, capped at the training size).
        batch_size, device: passed to :func:`sslteach.probe.extract_features`.
        max_features: features per block on a spatial grid (``None``: global average pool).

    Returns:
        One dict per block: ``{"block": i, "grid": g, "dim": C_i * g**2, "probe": accuracy,
        "knn": accuracy or None}``.
    """
    encoder = encoder.encoder if isinstance(encoder, RotNet) else encoder
    if not hasattr(encoder, "block_dims"):
        raise TypeError(f"probe_blocks needs an sslteach Encoder (with blocks), got {type(encoder).__name__}")
    if max_features is not None:
        check_number(max_features, "max_features", low=max(encoder.block_dims), integer=True,
                     hint=f"at least the widest block ({max(encoder.block_dims)} channels); use None for "
                          f"one globally pooled vector per block")
    check_number(knn_k, "knn_k", low=1, integer=True, hint="the number of neighbours that vote, e.g. 20")
    check_number(seed, "seed", integer=True)
    train_y, test_y = torch.as_tensor(train_y), torch.as_tensor(test_y)
    for name, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        _check_images_arg(x, batch_size)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name}_y must hold one label per {name} image: expected shape ({len(x)},), "
                             f"got {tuple(y.shape)}")
    if labels_per_class is not None:
        labels_per_class = check_number(labels_per_class, "labels_per_class", low=1, integer=True,
                                        hint="use None for every training label")
        classes, counts = torch.unique(train_y, return_counts=True)
        if labels_per_class > counts.min():
            c = classes[counts.argmin()].item()
            raise ValueError(f"labels_per_class={labels_per_class}, but class {c} has only "
                             f"{counts.min().item()} training images; use labels_per_class <= "
                             f"{counts.min().item()} or None for every label")
        idx = per_class_indices(train_y, labels_per_class, seed)
        train_x, train_y = train_x[idx], train_y[idx]
    was_training, param = encoder.training, next(encoder.parameters())
    with torch.no_grad():   # the spatial size of each block's map, from one blank image
        blank = torch.zeros(1, *train_x.shape[1:], device=param.device, dtype=param.dtype)
        sizes = [tuple(m.shape[-2:]) for m in encoder.eval().forward_blocks(blank)]
    encoder.train(was_training)
    rows = []
    for block, (dim, size) in enumerate(zip(encoder.block_dims, sizes)):
        grid = 1
        while max_features is not None and 2 * grid <= min(size) and dim * (2 * grid) ** 2 <= max_features:
            grid *= 2
        h_train = extract_features(encoder, train_x, batch_size, device, block=block, grid=grid)  # (N, D_i)
        h_test = extract_features(encoder, test_x, batch_size, device, block=block, grid=grid)    # (M, D_i)
        probe = linear_probe(h_train, train_y, h_test, test_y, seed=seed)
        knn_acc = knn_accuracy(h_train, train_y, h_test, test_y, k=min(knn_k, len(h_train))) if knn else None
        rows.append({"block": block, "grid": grid, "dim": dim * grid * grid, "probe": probe, "knn": knn_acc})
    return rows
