"""Exercises with feedback: run a student's function against the package, answer in plain words.

The coding exercises at the end of each notebook follow one pattern::

    def my_info_nce(z1, z2, tau):                  # cell tagged "exercise": the student's stub
        raise NotImplementedError  # your code here
    st.exercises.check_info_nce(my_info_nce)       # ✓ right on all 7 inputs / ✗ what differed, where

Each ``check_<name>(fn)`` calls ``fn`` on a few seeded random inputs and on edge cases, compares
every answer with the package's own function (type, shape, dtype, NaN, values; inputs must not
be changed in place) and returns a :class:`~sslteach.checking.CheckResult` that prints one plain
sentence. A check never raises on a wrong or crashing answer and is pure (the global random state
is left alone). This module holds the checks, one per exercise: their inputs, reference and
hints; the engine that runs them, compares and keeps the time budget (``timeout=10`` seconds for
all the inputs of a check together) is :mod:`sslteach.checking`.

Solutions live in one place: the code cells tagged ``solution`` in the instructor notebooks
(``notebooks/``, where they run and nbval sees the ✓); ``python -m sslteach.student`` (``make
student``) writes copies of the notebooks without them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .autoencoder import masked_mse
from .checking import TIMEOUT, CheckResult, run_check, seeded
from .colour import adjust_brightness
from .contrastive import info_nce
from .corruption import mask_patches
from .models import ConvEncoder
from .moco import ema_update
from .photometric import RandomGrayscale
from .probe import extract_features, knn_accuracy
from .rotation import rotate_batch
from .siamese import siamese_loss
from .sphere import alignment, uniformity
from .word2vec import sgns_loss

__all__ = ["check_alignment", "check_brightness", "check_ema_update", "check_extract_features", "check_grayscale",
           "check_info_nce", "check_knn_accuracy", "check_masked_mse", "check_rotate_batch", "check_sgns_loss",
           "check_siamese_loss", "check_uniformity"]


# ---- 01 · kNN ------------------------------------------------------------------------------------
def check_knn_accuracy(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(train_x, train_y, test_x, test_y, k) -> float``: weighted cosine kNN accuracy, as
    :func:`sslteach.knn_accuracy` (weights ``exp(s / 0.07)``; notebook 01)."""
    g, randn, _ = seeded()

    def blobs(n_train, n_test, d, labels, scale=None):      # clustered features: accuracy is not chance
        c = torch.arange(n_train + n_test) % len(labels)     # (n,) class index of each point
        x, y = randn(len(labels), d)[c] + 0.8 * randn(len(c), d), torch.tensor(labels)[c]
        x = x if scale is None else x * scale(len(y))       # rows of very different lengths
        return x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    cases = [("30 train, 20 test points, D=8, 3 classes, k=5", (*blobs(30, 20, 8, [0, 1, 2]), 5)),
             ("k=1: the nearest neighbour alone", (*blobs(30, 20, 8, [0, 1, 2]), 1)),
             ("k=30: every training point votes", (*blobs(30, 20, 8, [0, 1, 2]), 30)),
             ("a single test point", (*blobs(20, 1, 4, [0, 1]), 3)),
             ("labels 0 and 3 only (classes 1, 2 absent)", (*blobs(24, 12, 6, [0, 3]), 5)),
             ("rows of lengths 0.01 to 100: cosine ignores length",
              (*blobs(30, 20, 8, [0, 1, 2], lambda n: 10 ** (4 * torch.rand(n, 1, generator=g) - 2)), 5))]
    return run_check(fn, lambda *a: knn_accuracy(*a[:4], k=a[4]), cases, "knn_accuracy",
                "cosine = dot product of L2-normalised rows; each of the k nearest votes for its label "
                "with weight exp(cosine / 0.07); return the fraction of test points voted right",
                timeout=timeout, slow_hint="look for a Python loop over test or training points: one "
                "matrix product of the normalised rows gives every similarity, and topk the k nearest")


# ---- 02 · augmentation ops -------------------------------------------------------------------------
def check_grayscale(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(x) -> (N, C, H, W)``: luma ``0.2989 R + 0.587 G + 0.114 B`` in every channel, as
    ``st.RandomGrayscale(p=1).apply`` (gray images come back unchanged; notebook 02)."""
    _, _, rand = seeded()
    cases = [("N=4 RGB images, 8×8", (rand(4, 3, 8, 8),)), ("a single image", (rand(1, 3, 5, 5),)),
             ("non-square 6×10", (rand(2, 3, 6, 10),)),
             ("pure red, green, blue images", (torch.eye(3).view(3, 3, 1, 1).expand(3, 3, 4, 4).clone(),)),
             ("a gray image (C=1) stays unchanged", (rand(2, 1, 4, 4),)),
             ("float64 images", (rand(2, 3, 4, 4).double(),))]
    return run_check(fn, RandomGrayscale(p=1.0).apply, cases, "grayscale",
                "luma = 0.2989 R + 0.587 G + 0.114 B, one (N, H, W) map, copied into all 3 channels",
                timeout=timeout, slow_hint="look for a Python loop over images or pixels: one weighted sum of "
                "x[:, 0], x[:, 1] and x[:, 2] does the whole batch")


def check_brightness(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(x, factor) -> (N, C, H, W)``: image i times ``factor[i]`` (an (N,) tensor), clipped to
    [0, 1], as ``sslteach.colour.adjust_brightness`` (notebook 02)."""
    _, _, rand = seeded()
    cases = [("N=4, factors in [0.2, 1.8]", (rand(4, 3, 8, 8), 0.2 + 1.6 * rand(4))),
             ("a single image", (rand(1, 3, 4, 4), torch.tensor([0.5]))),
             ("factor 0: black", (rand(2, 3, 4, 4), torch.tensor([0.0, 1.0]))),
             ("factors 2 and 3: values must be clipped to 1", (rand(2, 3, 4, 4), torch.tensor([2.0, 3.0]))),
             ("gray images (C=1), non-square 3×7", (rand(3, 1, 3, 7), 0.2 + 1.6 * rand(3)))]
    return run_check(fn, adjust_brightness, cases, "brightness",
                "reshape factor (N,) to (N, 1, 1, 1) so it broadcasts per image, then clamp(0, 1)",
                timeout=timeout, slow_hint="look for a Python loop over images or pixels: "
                "x * factor.view(-1, 1, 1, 1) scales the whole batch at once")


# ---- 03 · contrastive ------------------------------------------------------------------------------
def check_info_nce(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(z1, z2, tau) -> scalar tensor``: SimCLR's NT-Xent loss, as :func:`sslteach.info_nce`
    (notebook 03)."""
    _, randn, _ = seeded()

    def views(n, d, noise=0.5):                             # positives near their anchors
        z1 = randn(n, d)
        return z1, z1 + noise * randn(n, d)

    z = randn(4, 8)
    cases = [("N=8, D=16, tau=0.5", (*views(8, 16), 0.5)), ("N=5, D=3, tau=0.2", (*views(5, 3), 0.2)),
             ("N=2, the smallest batch, D=4, tau=0.5", (*views(2, 4), 0.5)),
             ("N=6, D=8, small tau=0.05", (*views(6, 8), 0.05)), ("N=6, D=8, large tau=10", (*views(6, 8), 10.0)),
             ("z1 == z2: identical views, tau=0.5", (z, z.clone(), 0.5)),
             ("N=4, D=8, vectors of length ~100 (normalise them)", (*(100 * v for v in views(4, 8)), 0.5))]
    return run_check(fn, info_nce, cases, "info_nce",
                "normalise the 2N rows of cat([z1, z2]); logits = z @ z.T / tau with the diagonal left "
                "out (-inf); the positive of view i is view (i + N) % 2N; mean cross-entropy over 2N",
                timeout=timeout, slow_hint="look for a Python loop over views or pairs: "
                "one matrix product z @ z.T gives all (2N)² similarities")


def check_alignment(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(z1, z2) -> scalar tensor``: mean squared distance of the normalised pairs, as
    :func:`sslteach.alignment` with α=2 (notebook 03)."""
    _, randn, _ = seeded()
    z = randn(5, 4)
    cases = [("N=8, D=16", (randn(8, 16), randn(8, 16))), ("a single pair, N=1", (randn(1, 4), randn(1, 4))),
             ("z2 == z1: perfect alignment", (z, z.clone())), ("z2 == -z1: opposite points", (z, -z)),
             ("vectors of length ~100 (normalise them)", (100 * randn(6, 8), 100 * randn(6, 8)))]
    return run_check(fn, alignment, cases, "alignment",
                "normalise each row (F.normalize(z, dim=1)), then the mean over i of ‖ẑ1_i - ẑ2_i‖²",
                timeout=timeout, slow_hint="look for a Python loop over the pairs: "
                "subtract the two normalised (N, D) tensors at once")


def check_uniformity(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(z) -> scalar tensor``: log of the mean of ``exp(-2 ‖ẑ_i - ẑ_j‖²)`` over the pairs
    i < j, as :func:`sslteach.uniformity` with t=2 (notebook 03)."""
    _, randn, _ = seeded()
    angles = torch.arange(6) * 2 * math.pi / 6
    cases = [("N=16, D=8", (randn(16, 8),)), ("N=2, a single pair", (randn(2, 4),)),
             ("collapse: 6 identical vectors", (randn(1, 4).expand(6, 4).clone(),)),
             ("6 points evenly around a circle, D=2", (torch.stack([angles.cos(), angles.sin()], 1),)),
             ("vectors of length ~100 (normalise them)", (100 * randn(8, 8),))]
    return run_check(fn, uniformity, cases, "uniformity",
                "only the N(N-1)/2 pairs i < j count (not i with itself): torch.pdist gives their distances",
                timeout=timeout, slow_hint="look for a Python loop over pairs: "
                "torch.pdist gives all N(N-1)/2 distances at once")


# ---- 04 · rotation ---------------------------------------------------------------------------------
def check_rotate_batch(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(x, k) -> (x_rot, labels)`` for k = 2 or 4: every image in all k rotations, grouped by
    rotation, as :func:`sslteach.rotate_batch` (notebook 04)."""
    _, _, rand = seeded()
    cases = [("N=3 RGB images, 8×8, k=4", (rand(3, 3, 8, 8), 4)), ("a single image, k=4", (rand(1, 3, 4, 4), 4)),
             ("gray (C=1), odd size 5×5, k=4", (rand(2, 1, 5, 5), 4)), ("N=3, 6×6, k=2", (rand(3, 3, 6, 6), 2)),
             ("non-square 4×6, k=2 (0° and 180°)", (rand(2, 3, 4, 6), 2)),
             ("float64 images, k=4", (rand(2, 3, 4, 4).double(), 4))]
    return run_check(fn, rotate_batch, cases, "rotate_batch",
                "x_rot[r * N + i] is image i turned r quarter turns (k=4) counter-clockwise: "
                "torch.rot90(x, r, dims=(2, 3)); labels = [0]*N + [1]*N + ... as int64",
                timeout=timeout, slow_hint="look for a Python loop over images or pixels: "
                "torch.rot90(x, r, dims=(2, 3)) turns the whole batch")


# ---- 05 · autoencoders -----------------------------------------------------------------------------
def check_masked_mse(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(x_hat, x, mask) -> scalar tensor``: squared error over the hidden pixels only, as
    :func:`sslteach.masked_mse` (mask (N, 1, H, W), 1 = hidden; notebook 05)."""
    g, _, rand = seeded()

    def case(n, c, h, w, ratio=0.5, patch=4, dtype=torch.float32):
        x = rand(n, c, h, w).to(dtype)
        return rand(n, c, h, w).to(dtype), x, mask_patches(x, ratio, patch, generator=g)[1]

    x_hat, x, mask = case(2, 3, 8, 8)                       # for the all-hidden and none-hidden masks
    cases = [("N=4 RGB, 8×8, half of the 4×4 patches hidden", case(4, 3, 8, 8)),
             ("gray (C=1), 8×8", case(3, 1, 8, 8)),
             ("a single image, non-square 6×10, 3×3 patches", case(1, 3, 6, 10, 0.4, 3)),
             ("nothing hidden (mask all 0): the loss is 0", (x_hat, x, torch.zeros_like(mask))),
             ("everything hidden (mask all 1): plain MSE", (x_hat, x, torch.ones_like(mask))),
             ("float64 images", case(2, 3, 8, 8, dtype=torch.float64))]
    return run_check(fn, masked_mse, cases, "masked_mse",
                "divide by the number of hidden pixel VALUES: a hidden pixel hides its C channels; "
                "with nothing hidden the answer is 0 (clamp the count to at least 1)",
                timeout=timeout, slow_hint="look for a Python loop over pixels: "
                "multiply by the mask and sum, over the whole batch at once")


# ---- 06 · word2vec ---------------------------------------------------------------------------------
def check_sgns_loss(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(x, y) -> scalar tensor``: mean over N pairs of ``-log σ(x·y_0) - Σ_k log σ(-x·y_k)``,
    x (N, D) input vectors, y (N, 1+K, D) centre word then K negatives, as
    ``sslteach.word2vec.sgns_loss`` (notebook 06)."""
    _, randn, _ = seeded()
    cases = [("N=8 pairs, K=5 negatives, D=16", (randn(8, 16), randn(8, 6, 16))),
             ("K=1 negative", (randn(6, 8), randn(6, 2, 8))), ("a single pair, N=1", (randn(1, 8), randn(1, 6, 8))),
             ("D=1", (randn(5, 1), randn(5, 4, 1))),
             ("large scores (|x·y| up to ~200)", (8 * randn(4, 16), 8 * randn(4, 6, 16)))]
    return run_check(fn, lambda x, y: sgns_loss(x[:, None, :], y), cases, "sgns_loss",
                "scores s = (x[:, None, :] * y).sum(-1), shape (N, 1+K); use F.logsigmoid, which stays "
                "finite where torch.log(torch.sigmoid(s)) gives -inf",
                timeout=timeout, slow_hint="look for a Python loop over pairs or negatives: "
                "(x[:, None, :] * y).sum(-1) scores them all at once")


# ---- 07 · evaluation -------------------------------------------------------------------------------
def check_extract_features(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(encoder, images) -> (N, D) float32``: frozen features of uint8 or float images, as
    :func:`sslteach.extract_features` on the CPU (eval mode, no gradients; notebook 07)."""
    _, _, rand = seeded()
    with torch.random.fork_rng(devices=[]):                 # seeded encoders, global RNG untouched
        torch.manual_seed(0)
        encoders = [ConvEncoder(widths=(8, 16), stem_width=8) for _ in range(5)]
    encoders[3].train()
    for enc in encoders[:3] + encoders[4:]:
        enc.eval()
    uint8 = (255 * rand(4, 3, 8, 8)).to(torch.uint8)
    cases = [("4 uint8 images (0-255), 8×8", (encoders[0], uint8)),
             ("4 float images in [0, 1]", (encoders[1], rand(4, 3, 8, 8))),
             ("a single image", (encoders[2], rand(1, 3, 8, 8))),
             ("an encoder left in training mode", (encoders[3], rand(6, 3, 8, 8))),
             ("non-square 8×12 uint8 images", (encoders[4], (255 * rand(3, 3, 8, 12)).to(torch.uint8)))]
    return run_check(fn, lambda enc, x: extract_features(enc, x, device="cpu"), cases, "extract_features",
                "encoder.eval() (BatchNorm then uses its running statistics), uint8 -> x.float() / 255, "
                "and run it under torch.no_grad()",
                timeout=timeout, slow_hint="look for a Python loop over single images or pixels: "
                "give the encoder whole batches")


# ---- 08 · beyond negatives -------------------------------------------------------------------------
def _after_update(update: Callable) -> Callable:
    """``(target, online, m) -> target's tensors after update(target, online, m)`` on copies of the
    networks: what an in-place EMA update changed, as a tuple of plain tensors to compare."""
    import copy

    def run(target, online, m):
        target, online = copy.deepcopy(target), copy.deepcopy(online)
        update(target, online, m)
        return tuple(t.detach().clone() for t in (*target.parameters(), *target.buffers()))

    run.__name__ = getattr(update, "__name__", "your function")
    return run


def check_ema_update(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(target, online, m) -> None``: move every parameter of ``target`` in place to
    ``m θ_target + (1 − m) θ_online`` and copy its buffers (BatchNorm's running statistics) from
    ``online``, as :func:`sslteach.moco.ema_update` (MoCo's key encoder, BYOL's target; notebook 08).
    The check compares the target's parameters and buffers after the update (outputs 1, 2, ...)."""
    import copy

    def nets(*layers, seed):                                # online net, and a target that has drifted from it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            online = torch.nn.Sequential(*layers)
            target = copy.deepcopy(online)
            for p in target.parameters():
                p.data.add_(torch.randn_like(p))
            for b in target.buffers():
                if b.is_floating_point():
                    b.add_(1.0)
        return target, online

    linear = lambda seed: nets(torch.nn.Linear(4, 3), seed=seed)
    cases = [("a Linear(4, 3) layer, m=0.9", (*linear(1), 0.9)),
             ("two layers, m=0.99", (*nets(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2), seed=2), 0.99)),
             ("m=0: the target becomes a copy of online", (*linear(3), 0.0)),
             ("m=1: the target does not move", (*linear(4), 1.0)),
             ("a target that requires grad (update under torch.no_grad())",
              (*(lambda t, o: (t.requires_grad_(True), o))(*linear(5)), 0.5)),
             ("Linear + BatchNorm1d: buffers (running mean, var) are copied from online",
              (*nets(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), seed=6), 0.9))]
    return run_check(_after_update(fn), _after_update(ema_update), cases, "ema_update",
                "(outputs: the target's parameters, then its buffers, after your update) for each pair of "
                "parameters: t.mul_(m).add_(o, alpha=1 - m) (or t.copy_(m * t + (1 - m) * o)), "
                "inside `with torch.no_grad():`; then copy each buffer: tb.copy_(ob). Change target in place and "
                "return nothing",
                timeout=timeout, slow_hint="look for a Python loop over the elements of a parameter: "
                "one tensor operation updates a whole parameter")


def _loss_and_gradients(loss_fn: Callable) -> Callable:
    """``(p1, p2, z1, z2) -> (loss, ∂loss/∂p1, ∂loss/∂z1)`` on copies that require grad: the value and
    where the gradient goes (a stop-gradient sends none to z, so its gradient is zeros)."""
    def run(p1, p2, z1, z2):
        p1, p2, z1, z2 = (t.detach().clone().requires_grad_(True) for t in (p1, p2, z1, z2))
        loss = loss_fn(p1, p2, z1, z2)
        if loss is None or not torch.is_tensor(loss):
            return loss, None, None                         # the comparison of output 1 says what is wrong
        if not loss.requires_grad:
            raise ValueError("the loss has no gradient: return the tensor itself (not .item()), computed "
                             "without torch.no_grad() and without detaching p")
        g_p1, g_z1 = torch.autograd.grad(loss, [p1, z1], allow_unused=True)
        zeros = torch.zeros_like(p1)
        return (loss.detach(), zeros if g_p1 is None else g_p1, zeros if g_z1 is None else g_z1)

    run.__name__ = getattr(loss_fn, "__name__", "your function")
    return run


def check_siamese_loss(fn: Callable, *, timeout: float | None = TIMEOUT) -> CheckResult:
    """``fn(p1, p2, z1, z2) -> scalar tensor``: SimSiam's symmetric negative cosine with stop-gradient,
    ``D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2``, as :func:`sslteach.siamese.siamese_loss`; the check
    compares the value and the gradients reaching p1 and z1 (none may reach z; notebook 08)."""
    _, randn, _ = seeded()
    z = randn(4, 8)
    cases = [("N=8, D=16", tuple(randn(8, 16) for _ in range(4))),
             ("a single pair, N=1, D=4", tuple(randn(1, 4) for _ in range(4))),
             ("N=5, D=3, p close to the other view's z", (lambda z1, z2: (z2 + 0.1 * randn(5, 3), z1 + 0.1 * randn(5, 3),
                                                                       z1, z2))(randn(5, 3), randn(5, 3))),
             ("p == z of the other view: the loss is -1", (z, z, z.clone(), z.clone())),
             ("vectors of length ~100 (normalise them)", tuple(100 * randn(6, 8) for _ in range(4)))]
    return run_check(_loss_and_gradients(fn), _loss_and_gradients(siamese_loss), cases, "siamese_loss",
                "D(p, z) = -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(1).mean(); the loss is "
                "D(p1, z2.detach()) / 2 + D(p2, z1.detach()) / 2: the detach is the stop-gradient, so no gradient "
                "reaches z (output 3 is the gradient on z1, which must be zeros)",
                timeout=timeout, slow_hint="look for a Python loop over the pairs: "
                "normalise the (N, D) tensors and multiply them at once")
