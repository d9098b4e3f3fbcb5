"""Tests for sslteach.contrastive: InfoNCE against the paper's formula and closed forms, its accuracy,
the widget helper, and one SimCLR training run."""
import math

import pytest
import torch

from sslteach.batches import TensorLoader
from sslteach.contrastive import (SimCLR, anchor_distribution, contrastive_accuracy, info_nce, info_nce_loop,
                                  simclr_step)
from sslteach.models import ConvEncoder
from sslteach.train import fit


def views(n, d, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


@pytest.mark.parametrize("n, d, tau", [(2, 3, 0.5), (3, 8, 0.1), (5, 2, 1.0), (8, 16, 0.07),
                                       (16, 4, 2.0), (6, 32, 0.02)])
def test_vectorised_equals_loop_float64(n, d, tau):
    z1, z2 = views(n, d, seed=n * d)
    z2 = z2 + 2 * z1  # correlated views, so the positive matters
    assert torch.allclose(info_nce(z1, z2, tau), info_nce_loop(z1, z2, tau), atol=1e-5, rtol=0)


def test_vectorised_equals_loop_float32_and_gradients():
    z1, z2 = views(6, 8, seed=1, dtype=torch.float32)
    a1, a2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    b1, b2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    la, lb = info_nce(a1, a2, 0.3), info_nce_loop(b1, b2, 0.3)
    assert torch.allclose(la, lb, atol=1e-5, rtol=0)
    la.backward(), lb.backward()
    assert torch.allclose(a1.grad, b1.grad, atol=1e-5) and torch.allclose(a2.grad, b2.grad, atol=1e-5)


@pytest.mark.parametrize("n, tau", [(2, 0.5), (4, 0.1), (10, 1.0), (7, 3.0)])
def test_closed_form_identical_views_orthogonal_pairs(n, tau):
    # z1 = z2 = one-hot rows: sim(positive) = 1, sim(any of the 2N-2 negatives) = 0, so every anchor has
    # ℓ = -log e^{1/τ} / (e^{1/τ} + (2N-2) e^0) = log(1 + (2N-2) e^{-1/τ})
    z = torch.eye(n, 2 * n, dtype=torch.float64) * 3.0  # norm 3: the loss must not care
    expected = math.log1p((2 * n - 2) * math.exp(-1 / tau))
    assert info_nce(z, z.clone(), tau).item() == pytest.approx(expected, abs=1e-10)


def test_closed_form_collapse():
    # all 2N views equal: the positive is one of 2N-1 equally likely candidates, ℓ = log(2N-1)
    z = torch.ones(5, 4, dtype=torch.float64)
    for tau in (0.01, 0.5, 10.0):
        assert info_nce(z, z, tau).item() == pytest.approx(math.log(9), abs=1e-10)


def test_symmetric_in_the_two_views():
    z1, z2 = views(7, 5, seed=3)
    assert torch.allclose(info_nce(z1, z2, 0.2), info_nce(z2, z1, 0.2), atol=1e-12)


def test_invariant_to_rescaling():
    z1, z2 = views(6, 5, seed=4)
    scale1 = torch.rand(6, 1, dtype=torch.float64) * 10 + 0.1  # a positive scale per row
    assert torch.allclose(info_nce(z1, z2, 0.3), info_nce(scale1 * z1, 0.01 * z2, 0.3), atol=1e-12)


def test_depends_on_the_pairing():
    z1, z2 = views(6, 5, seed=5)
    z2 = z1 + 0.1 * z2
    assert info_nce(z1, z2, 0.2) < info_nce(z1, z2.roll(1, dims=0), 0.2) - 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("tau", [0.01, 10.0])
def test_finite_values_and_gradients_at_extreme_temperatures(dtype, tau):
    z1, z2 = views(16, 8, seed=6, dtype=torch.float32)
    for a, b in [(z1, z2), (z1, z1 + 1e-3 * z2), (z1, -z1)]:  # random, near-identical, opposite views
        a = a.to(dtype).requires_grad_()
        b = b.to(dtype).requires_grad_()
        loss = info_nce(a, b, tau)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
        assert 0 <= loss.item() <= 2 / tau + math.log(2 * 16 - 1) + 1e-3  # bound: gap ≤ 2/τ


def test_bfloat16_close_to_float32():
    z1, z2 = views(16, 8, seed=7, dtype=torch.float32)
    ref = info_nce(z1, z2, 0.1)
    assert abs(info_nce(z1.bfloat16(), z2.bfloat16(), 0.1).item() - ref.item()) < 0.05


@pytest.mark.parametrize("z1, z2, tau, match", [
    (torch.randn(4, 3), torch.randn(5, 3), 0.5, "same shape"),
    (torch.randn(4, 3, 2), torch.randn(4, 3, 2), 0.5, "2-D"),
    (torch.randn(4), torch.randn(4), 0.5, "2-D"),
    (torch.randn(1, 3), torch.randn(1, 3), 0.5, "N >= 2"),
    (torch.randn(4, 3), torch.randn(4, 3), 0.0, "temperature"),
    (torch.randn(4, 3), torch.randn(4, 3), -0.1, "temperature"),
    (torch.randn(4, 3), torch.randn(4, 3), float("nan"), "temperature"),
])
def test_errors_for_bad_inputs(z1, z2, tau, match):
    for fn in (info_nce, info_nce_loop):
        with pytest.raises(ValueError, match=match):
            fn(z1, z2, tau)


def test_error_for_integer_input():
    with pytest.raises(TypeError, match="float"):
        info_nce(torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long))


def test_contrastive_accuracy():
    z = torch.eye(6, 8)
    assert contrastive_accuracy(z, z.clone() + 0.01).item() == 1.0
    # second views shifted by one image: no view finds its positive (its own copy ranks first)
    assert contrastive_accuracy(z, z.roll(1, dims=0)).item() == 0.0
    z1, z2 = views(200, 16, seed=9)
    assert contrastive_accuracy(z1, z2).item() < 0.05  # independent views: about chance, 1/399


def test_anchor_distribution_properties():
    z1, z2 = views(5, 6, seed=10)
    z2 = z1 + 0.5 * z2
    losses = []
    for anchor in range(10):
        d = anchor_distribution(z1, z2, anchor, temperature=0.4)
        assert d.probs.shape == d.sims.shape == d.candidates.shape == (9,)
        assert d.probs.sum().item() == pytest.approx(1, abs=1e-12)
        assert anchor not in d.candidates.tolist()
        assert d.candidates[d.positive].item() == (anchor + 5) % 10  # the positive is the other view
        assert d.p_positive == pytest.approx(d.probs[d.positive].item())
        assert d.loss == pytest.approx(-math.log(d.p_positive))
        losses.append(d.loss)
    assert sum(losses) / 10 == pytest.approx(info_nce(z1, z2, 0.4).item(), abs=1e-10)


def test_anchor_distribution_temperature_limits():
    z1, z2 = views(6, 4, seed=11)
    d = anchor_distribution(z1, z2, anchor=2, temperature=1.0)
    top2 = d.sims.topk(2).values
    gap = (top2[0] - top2[1]).item()
    cold = anchor_distribution(z1, z2, 2, temperature=gap / 25)  # odds of the runner-up ≤ e^-25
    assert cold.probs[d.sims.argmax()].item() > 0.999
    hot = anchor_distribution(z1, z2, 2, temperature=1e4)        # nearly uniform over 11 candidates
    assert torch.allclose(hot.probs, torch.full((11,), 1 / 11, dtype=torch.float64), atol=1e-4)
    with pytest.raises(ValueError, match="anchor"):
        anchor_distribution(z1, z2, anchor=12)


def test_simclr_forward_shapes():
    model = SimCLR(ConvEncoder(widths=(8, 16), depth=1, stem_width=8), out_dim=12, hidden_dim=20)
    h, z = model(torch.rand(3, 3, 16, 16))
    assert h.shape == (3, 16) and z.shape == (3, 12)
    with pytest.raises(TypeError, match="callable"):
        simclr_step(augment="crop")


@pytest.fixture
def one_thread():
    # tiny tensors: one thread avoids OpenMP waits when other processes share the two cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_simclr_step_with_fit_lowers_the_loss(one_thread):
    torch.manual_seed(0)
    images = (torch.rand(64, 3, 8, 8) * 255).to(torch.uint8)       # a toy set, uint8 like the real ones
    two_noisy_copies = lambda x: (x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x))
    model = SimCLR(ConvEncoder(widths=(16, 32), depth=1, stem_width=8), out_dim=16)
    step = simclr_step(two_noisy_copies, temperature=0.2)
    loader = TensorLoader(images, batch_size=32, drop_last=True, seed=0)
    history = fit(model, step, loader, torch.optim.Adam(model.parameters(), lr=3e-3), epochs=6,
                  device="cpu", progress=False)
    loss, acc = history["loss"], history["acc"]
    assert loss[-1] < 0.6 * loss[0], loss
    assert acc[-1] > max(0.8, acc[0] + 0.2), acc


def test_simclr_step_accepts_float_and_labelled_batches():
    model = SimCLR(ConvEncoder(widths=(8,), depth=1, stem_width=4), out_dim=8)
    seen = []
    def augment(x):
        seen.append((x.dtype, x.max().item()))
        return x, x.flip(3)
    step = simclr_step(augment, temperature=0.5)
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    for batch in (images, images.float() / 255, (images, torch.arange(4))):
        loss, extra = step(model, batch)
        assert loss.ndim == 0 and torch.isfinite(loss) and 0 <= extra["acc"].item() <= 1
    assert all(dtype == torch.float32 and mx <= 1 for dtype, mx in seen)
