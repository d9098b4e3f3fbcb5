"""Hostile inputs to sslteach.siamese: each bad call fails with an error that says what was expected
and how to fix it, or the case is computed correctly (rows of any scale, zero rows, bfloat16)."""
import math

import pytest
import torch
from torch import nn

from sslteach.models import ConvEncoder
from sslteach.siamese import Siamese, siamese_loss, siamese_step


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


# ---- bad arguments: the message names the argument and the fix -----------------------------------

def test_mismatched_shapes_say_which_rows_pair_up():
    with pytest.raises(ValueError, match="p1 and z2"):
        siamese_loss(torch.randn(6, 4), torch.randn(6, 4), torch.randn(6, 4), torch.randn(5, 4))


def test_nan_outputs_are_refused_with_a_hint():
    z = torch.randn(4, 3)
    z[1, 2] = float("nan")
    with pytest.raises(ValueError, match="holds 1 NaN.*lower the learning rate"):
        siamese_loss(z, z, torch.randn(4, 3), torch.randn(4, 3))


def test_stop_gradient_type():
    with pytest.raises(TypeError, match="stop_gradient must be True or False"):
        siamese_loss(*(torch.randn(4, 3) for _ in range(4)), stop_gradient="yes")


def test_stop_gradient_off_with_an_ema_target_is_refused():
    with pytest.raises(ValueError, match="nothing to stop; use momentum=0"):
        Siamese(tiny_encoder(), stop_gradient=False, momentum=0.99)
    with pytest.raises(ValueError, match="its target is model"):
        Siamese(tiny_encoder()).target(torch.rand(2, 3, 16, 16))


def test_encoders_without_a_feature_width_are_refused():
    with pytest.raises(ValueError, match="feature_dim"):
        Siamese(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8)))


def test_steps_refuse_a_one_view_augment():
    images = torch.rand(4, 3, 16, 16)
    with pytest.raises(ValueError, match="TwoViews"):
        siamese_step(lambda x: x)(Siamese(tiny_encoder()), images)


def test_steps_refuse_a_batch_of_one_for_batchnorm():
    with pytest.raises(ValueError, match="at least 2 images.*drop_last=True"):
        siamese_step(lambda x: (x, x))(Siamese(tiny_encoder()).train(), torch.rand(1, 3, 16, 16))


# ---- computed correctly: any scale, zero rows, tiny D --------------------------------------------------

@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_losses_do_not_depend_on_the_scale_of_the_rows(scale):
    p1, p2, z1, z2 = (randn(6, 5, seed=s) for s in range(4))
    assert siamese_loss(p1 * scale, p2 * scale, z1 * scale, z2 * scale).item() == pytest.approx(
        siamese_loss(p1, p2, z1, z2).item(), abs=1e-5)


def test_zero_rows_stay_finite():
    z = torch.randn(5, 4)
    z[2] = 0
    p = torch.randn(5, 4, requires_grad=True)
    loss = siamese_loss(p, p, z, z)          # a zero row has cosine 0 with everything
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()


def test_bfloat16_inputs_give_float32_losses():
    z1, z2 = randn(8, 6, seed=1).bfloat16(), randn(8, 6, seed=2).bfloat16()
    value = siamese_loss(z1, z2, z2, z1)
    assert value.dtype == torch.float32 and math.isfinite(value.item())
