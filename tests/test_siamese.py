"""Tests for sslteach.siamese: SimSiam's loss against a loop written from Algorithm 1 and against
BYOL's normalised MSE, the stop-gradient checked with autograd, the model's switches, and 2 steps of
``fit`` for SimSiam, BYOL and the no-stop-gradient run. CPU only, fast."""
import math

import pytest
import torch
from torch import nn

from sslteach.batches import TensorLoader
from sslteach.models import ConvEncoder
from sslteach.siamese import Siamese, siamese_loss, siamese_step
from sslteach.train import fit


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


def flip_views(x):  # a deterministic two-view "augmentation"
    return x, x.flip(3)


# ---- SimSiam / BYOL ----------------------------------------------------------------------------------

def siamese_loss_loop(p1, p2, z1, z2):
    """SimSiam's Algorithm 1: D(p, z) = −(p/‖p‖ · z/‖z‖) averaged over the batch; L = D(p1, z2)/2 + D(p2, z1)/2."""
    def D(p, z):
        return -sum(torch.dot(p[i] / p[i].norm(), z[i] / z[i].norm()) for i in range(len(p))) / len(p)
    return D(p1, z2) / 2 + D(p2, z1) / 2


@pytest.mark.parametrize("n, d", [(1, 3), (5, 8), (16, 2)])
def test_siamese_loss_equals_the_loop_from_algorithm_1(n, d):
    p1, p2, z1, z2 = (randn(n, d, seed=s) for s in range(4))
    assert torch.allclose(siamese_loss(p1, p2, z1, z2), siamese_loss_loop(p1, p2, z1, z2), atol=1e-12, rtol=0)


def test_siamese_loss_is_byols_normalised_mse_up_to_an_affine_map():
    p1, p2, z1, z2 = (randn(6, 5, seed=s) for s in range(4))
    unit = lambda v: v / v.norm(dim=1, keepdim=True)
    byol = ((unit(p1) - unit(z2)).pow(2).sum(1) + (unit(p2) - unit(z1)).pow(2).sum(1)).mean() / 2  # 2 − 2 cos
    assert torch.allclose(byol, 2 + 2 * siamese_loss(p1, p2, z1, z2), atol=1e-12)
    z = randn(6, 5, seed=9)
    assert siamese_loss(z, z, z, z).item() == pytest.approx(-1)  # perfect agreement (or collapse)


def test_stop_gradient_blocks_the_target_branch_and_without_it_gradients_flow():
    torch.manual_seed(0)
    online, target = nn.Linear(4, 3), nn.Linear(4, 3)  # p from the online branch, z from the target one
    x1, x2 = torch.randn(5, 4), torch.randn(5, 4)
    for stop in (True, False):
        online.zero_grad(), target.zero_grad()
        z1, z2 = target(x1), target(x2)
        loss = siamese_loss(online(x1), online(x2), z1, z2, stop_gradient=stop)
        g1, g2 = torch.autograd.grad(loss, [z1, z2], retain_graph=True, allow_unused=True)
        loss.backward()
        if stop:
            assert g1 is None and g2 is None and target.weight.grad is None
        else:
            assert g1.abs().sum() > 0 and g2.abs().sum() > 0 and target.weight.grad.abs().sum() > 0
        assert online.weight.grad.abs().sum() > 0


def test_siamese_model_switches():
    simsiam = Siamese(tiny_encoder(), out_dim=8, hidden_dim=16, pred_hidden=4)
    assert not hasattr(simsiam, "target_encoder") and simsiam.momentum == 0
    byol = Siamese(tiny_encoder(), out_dim=8, hidden_dim=16, pred_hidden=4, momentum=0.99)
    assert not any(p.requires_grad for p in byol.target_encoder.parameters())
    assert isinstance(Siamese(tiny_encoder(), predictor=False).predictor, nn.Identity)
    with_bn = Siamese(tiny_encoder(), out_dim=8, output_bn=True).train()
    assert isinstance(with_bn.projector[-1], nn.BatchNorm1d) and len(simsiam.projector) == 1
    z = with_bn(torch.rand(6, 3, 16, 16))[1]
    assert torch.allclose(z.mean(0), torch.zeros(8), atol=1e-5)  # standardised: cannot be one constant vector
    h, z = simsiam(torch.rand(3, 3, 16, 16))
    assert h.shape == (3, 16) and z.shape == (3, 8)


def test_byol_step_moves_only_the_online_branch():
    torch.manual_seed(0)
    model = Siamese(tiny_encoder(), out_dim=8, hidden_dim=16, pred_hidden=4, momentum=0.9).train()
    loss, extra = siamese_step(flip_views)(model, torch.rand(4, 3, 16, 16))
    loss.backward()
    assert all(p.grad is None for p in model.target_encoder.parameters())
    assert all(p.grad is not None for p in model.predictor.parameters())
    assert set(extra) == {"std", "erank"}


# ---- the step function through fit ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: (Siamese(tiny_encoder(), out_dim=16, hidden_dim=32, pred_hidden=8), siamese_step(flip_views), "std"),
    lambda: (Siamese(tiny_encoder(), out_dim=16, momentum=0.99), siamese_step(flip_views), "erank"),
    lambda: (Siamese(tiny_encoder(), out_dim=16, stop_gradient=False, predictor=False), siamese_step(flip_views), "std"),
], ids=['simsiam', 'byol', 'no-stop-gradient'])
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
    for model, step in ((Siamese(tiny_encoder(), out_dim=8, momentum=0.9), siamese_step(flip_views)),):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, extra = step(model.train(), images)
            loss, extra = step(model, images)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
