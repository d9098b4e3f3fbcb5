"""Hostile inputs to sslteach.contrastive: each bad call fails with a message that says what to do,
or the case is computed correctly (rows of any length, zero rows, a learnable temperature).
CPU only, no training."""
import math

import pytest
import torch

from sslteach.contrastive import (SimCLR, anchor_distribution, contrastive_accuracy, info_nce, info_nce_loop,
                                  simclr_step)
from sslteach.models import ConvEncoder
from sslteach.utils import unit_rows


def views(n=6, d=8, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=dtype)
    return z1, z1 + 0.5 * torch.randn(n, d, generator=g, dtype=dtype)  # correlated: the positive matters


# ---- rows of any length: every function depends on directions only -------------------------------

SCALED = {  # name -> f(z1, z2) as a float
    "info_nce": lambda a, b: info_nce(a, b, 0.2).item(),
    "info_nce_loop": lambda a, b: info_nce_loop(a, b, 0.2).item(),
    "contrastive_accuracy": lambda a, b: contrastive_accuracy(a, b).item(),
    "anchor_distribution": lambda a, b: anchor_distribution(a, b, anchor=3, temperature=0.2).loss,
}


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e20, 1e30])
@pytest.mark.parametrize("name", SCALED)
def test_float32_rows_of_any_length_give_the_value_at_length_one(name, scale):
    # before: ‖z‖² overflowed to inf at 1e30 and fell below F.normalize's epsilon at 1e-30
    z1, z2 = views()
    fn = SCALED[name]
    assert fn(z1 * scale, z2 * scale) == pytest.approx(fn(z1, z2), abs=1e-5)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_info_nce_gradient_is_exact_at_any_scale(scale):
    # L(s z) = L(z), so the gradient at s z is the gradient at z divided by s: finite, not NaN
    z1, z2 = views()
    a = z1.clone().requires_grad_()
    info_nce(a, z2, 0.2).backward()
    b = (z1 * scale).requires_grad_()
    info_nce(b, z2 * scale, 0.2).backward()
    assert torch.isfinite(b.grad).all()
    assert torch.allclose(b.grad * scale, a.grad, rtol=1e-4, atol=1e-6)


def test_float16_rows_near_the_float16_maximum():
    z1, z2 = views()
    big1, big2 = (z1 * 1e4).half(), (z2 * 1e4).half()  # ‖z‖² would overflow float16 (max 65504)
    assert info_nce(big1, big2, 0.5).item() == pytest.approx(info_nce(z1, z2, 0.5).item(), abs=2e-3)


# ---- all-zero rows: similarity 0 in the InfoNCE functions -------------------------------------------

def test_zero_rows_loop_and_vectorised_agree_in_value_and_gradient():
    z1, z2 = views(dtype=torch.float64)
    z1[2], z2[4] = 0, 0  # two rows with no direction
    a1, a2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    b1, b2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    la, lb = info_nce(a1, a2, 0.3), info_nce_loop(b1, b2, 0.3)  # the loop used to return NaN here
    assert torch.isfinite(la) and la.item() == pytest.approx(lb.item(), abs=1e-10)
    la.backward(), lb.backward()
    assert torch.allclose(a1.grad, b1.grad, atol=1e-10) and torch.allclose(a2.grad, b2.grad, atol=1e-10)


@pytest.mark.parametrize("fn", [info_nce, info_nce_loop])
def test_dead_output_scores_the_collapse_value_not_a_good_one(fn):
    z = torch.zeros(5, 4)
    # every similarity is 0: the positive is one of 2N - 1 equally likely candidates
    assert fn(z, z.clone(), 0.1).item() == pytest.approx(math.log(9), abs=1e-6)


def test_anchor_distribution_with_a_zero_anchor_is_uniform():
    z1, z2 = views()
    z1[0] = 0
    d = anchor_distribution(z1, z2, anchor=0)
    assert torch.allclose(d.probs, torch.full((11,), 1 / 11), atol=1e-6)


def test_unit_rows_keeps_zero_rows_zero_and_others_unit():
    z = torch.tensor([[0.0, 0.0], [3e30, 4e30], [3e-30, -4e-30]])
    u = unit_rows(z)
    assert torch.equal(u[0], torch.zeros(2))
    assert torch.allclose(u[1:], torch.tensor([[0.6, 0.8], [0.6, -0.8]]))


# ---- numbers: temperature, anchor ------------------------------------------------------------------

BAD_TEMPERATURES = [(True, TypeError), ("0.5", TypeError), (None, TypeError), (0.0, ValueError),
                    (-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError)]


@pytest.mark.parametrize("tau,error", BAD_TEMPERATURES)
@pytest.mark.parametrize("call", [
    lambda tau: info_nce(*views(), tau),
    lambda tau: info_nce_loop(*views(), tau),
    lambda tau: anchor_distribution(*views(), 0, tau),
    lambda tau: simclr_step(lambda x: (x, x), tau),
], ids=["info_nce", "info_nce_loop", "anchor_distribution", "simclr_step"])
def test_bad_temperature_is_refused(call, tau, error):
    # before: temperature=True was taken as τ = 1
    with pytest.raises(error, match=r"temperature must be a number > 0, got .*typical values are 0\.05 to 1"):
        call(tau)


def test_learnable_temperature_tensor_keeps_its_gradient():
    tau = torch.tensor(0.5, requires_grad=True)
    loss = info_nce(*views(), tau)
    loss.backward()
    assert tau.grad is not None and torch.isfinite(tau.grad)
    assert loss.item() == pytest.approx(info_nce(*views(), 0.5).item())


@pytest.mark.parametrize("anchor,error", [(-1, ValueError), (12, ValueError), (True, TypeError),
                                          (2.0, TypeError), ("0", TypeError)])
def test_anchor_distribution_refuses_bad_anchor(anchor, error):
    with pytest.raises(error, match=r"anchor must be an integer >= 0 and <= 11.*N \+ i is z2\[i\]"):
        anchor_distribution(*views(), anchor)


# ---- tensors: type, shape, values ---------------------------------------------------------------------

ALL = [info_nce, info_nce_loop, contrastive_accuracy, anchor_distribution]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_projections_point_at_the_training(fn, bad):
    z1, z2 = views()
    z2[1, 2] = bad
    with pytest.raises(ValueError, match="z2 holds .*diverged.*lower the learning rate"):
        fn(z1, z2)


@pytest.mark.parametrize("fn", ALL)
def test_a_list_is_refused_with_the_conversion(fn):
    with pytest.raises(TypeError, match=r"z1 must be a tensor.*torch\.as_tensor"):
        fn([[1.0, 2.0], [3.0, 4.0]], torch.ones(2, 2))


@pytest.mark.parametrize("fn", ALL)
def test_zero_width_rows_are_refused(fn):
    with pytest.raises(ValueError, match="at least D = 1"):
        fn(torch.ones(4, 0), torch.ones(4, 0))


# ---- SimCLR and its step -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(encoder="conv"), TypeError, r"ConvEncoder\(\)"),
    (dict(out_dim=0), ValueError, "out_dim must be an integer >= 1"),
    (dict(out_dim=True), TypeError, "out_dim must be an integer"),
    (dict(hidden_dim=2.5), TypeError, "hidden_dim must be an integer"),
])
def test_simclr_refuses_bad_arguments(kwargs, error, match):
    kwargs.setdefault("encoder", ConvEncoder(widths=(8,), stem_width=4))
    with pytest.raises(error, match=match):
        SimCLR(**kwargs)


@pytest.mark.parametrize("augment", [lambda x: x, lambda x: (x, x, x), lambda x: (x, x[:, :, :4])],
                         ids=["one view", "three views", "two shapes"])
def test_simclr_step_refuses_an_augment_without_two_views(augment):
    model = SimCLR(ConvEncoder(widths=(8,), stem_width=4), out_dim=8)
    step = simclr_step(augment)
    with pytest.raises(ValueError, match=r"two views \(x1, x2\) of one shape.*TwoViews"):
        step(model, torch.rand(4, 3, 8, 8))
