"""Tests for sslteach.barlow: the cross-correlation and the loss against a loop written from Algorithm 1
of the paper, the diagonal of identical views, and 2 steps of ``fit``. CPU only, fast."""
import math

import pytest
import torch

from sslteach.barlow import BarlowTwins, barlow_step, barlow_twins_loss, cross_correlation
from sslteach.batches import TensorLoader
from sslteach.models import ConvEncoder
from sslteach.train import fit


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


def flip_views(x):  # a deterministic two-view "augmentation"
    return x, x.flip(3)


# ---- Barlow Twins ------------------------------------------------------------------------------------

def barlow_loop(z1, z2, lambd, eps=1e-8):
    """Algorithm 1 of Zbontar et al. (2021) with the code's biased std, one entry at a time."""
    n, d = z1.shape

    def standardise(z):
        cols = []
        for j in range(d):
            mean = sum(z[i, j] for i in range(n)) / n
            var = sum((z[i, j] - mean) ** 2 for i in range(n)) / n
            cols.append([(z[i, j] - mean) / math.sqrt(var + eps) for i in range(n)])
        return cols  # cols[j][i]

    a, b = standardise(z1), standardise(z2)
    c = [[sum(a[i][k] * b[j][k] for k in range(n)) / n for j in range(d)] for i in range(d)]
    loss = sum((1 - c[i][i]) ** 2 for i in range(d)) + lambd * sum(c[i][j] ** 2 for i in range(d)
                                                                   for j in range(d) if i != j)
    return torch.tensor(c, dtype=torch.float64), loss


@pytest.mark.parametrize("n, d, lambd", [(2, 3, 0.5), (8, 4, 5e-3), (16, 6, None)])
def test_barlow_twins_equals_the_loop_from_algorithm_1(n, d, lambd):
    # columns scaled to max |z| = 1, where the relative eps of cross_correlation is the loop's eps
    z1, z2 = randn(n, d, seed=1), randn(n, d, seed=2)
    z2 = z2 + z1
    z1, z2 = z1 / z1.abs().amax(0), z2 / z2.abs().amax(0)
    c_loop, loss_loop = barlow_loop(z1, z2, 1 / d if lambd is None else lambd)
    assert torch.allclose(cross_correlation(z1, z2), c_loop, atol=1e-12)
    assert barlow_twins_loss(z1, z2, lambd).item() == pytest.approx(loss_loop.item(), abs=1e-10)


def test_cross_correlation_of_identical_views_has_ones_on_the_diagonal():
    z = randn(4096, 5, seed=3)
    c = cross_correlation(z, z * 100 + 7)  # per-dimension scale and shift do not matter
    assert c.dtype == torch.float64 and torch.allclose(c.diagonal(), torch.ones(5, dtype=torch.float64), atol=1e-6)
    assert c.abs().max() <= 1 + 1e-6 and (c - torch.eye(5)).abs().max() < 0.06  # independent dims


# ---- the step function through fit ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: (BarlowTwins(tiny_encoder(), out_dim=16, hidden_dim=32), barlow_step(flip_views, lambd=0.1), "diag"),
], ids=['barlow'])
def test_two_steps_of_fit_give_finite_losses(make):
    torch.manual_seed(0)
    model, step, extra = make()
    images = (torch.rand(16, 3, 16, 16) * 255).to(torch.uint8)
    params = [p for p in model.parameters() if p.requires_grad]
    history = fit(model, step, TensorLoader(images, batch_size=8, drop_last=True), torch.optim.AdamW(params, 1e-3),
                  epochs=1, device="cpu", progress=False)
    assert len(history.step["loss"]) == 2 and all(math.isfinite(v) for v in history.step["loss"])
    assert math.isfinite(history[extra][0])


def test_steps_return_float32_losses_under_bfloat16_autocast():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 16, 16)
    for model, step in ((BarlowTwins(tiny_encoder(), out_dim=8), barlow_step(flip_views)),):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, extra = step(model.train(), images)
            loss, extra = step(model, images)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
