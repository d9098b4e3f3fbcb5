"""Hostile inputs to sslteach.barlow: each bad call fails with an error that says what was expected and
how to fix it, or the case is computed correctly (rows of any scale, constant dimensions, bfloat16, D = 1)."""
import math

import pytest
import torch

from sslteach.barlow import BarlowTwins, barlow_step, barlow_twins_loss, cross_correlation
from sslteach.models import ConvEncoder


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


# ---- bad arguments: the message names the argument and the fix -----------------------------------

def test_mismatched_shapes_say_which_rows_pair_up():
    with pytest.raises(ValueError, match=r"z1 and z2 must have the same shape"):
        barlow_twins_loss(torch.randn(6, 4), torch.randn(6, 5))


def test_batch_statistics_need_two_rows():
    with pytest.raises(ValueError, match="N >= 2 rows .each dimension is standardised over the batch"):
        cross_correlation(torch.randn(1, 4), torch.randn(1, 4))


def test_lambd_type():
    with pytest.raises(ValueError, match="lambd must be a number >= 0"):
        barlow_twins_loss(torch.randn(6, 4), torch.randn(6, 4), lambd=-1)
    with pytest.raises(ValueError, match="lambd"):
        barlow_step(lambda x: (x, x), lambd=-0.1)


def test_encoders_without_a_feature_width_are_refused():
    with pytest.raises(TypeError, match="ConvEncoder"):
        BarlowTwins("conv")


def test_steps_refuse_an_augment_that_is_not_callable():
    with pytest.raises(TypeError, match="callable"):
        barlow_step("crop")


# ---- computed correctly: any scale, zero rows, tiny D --------------------------------------------------

@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_losses_do_not_depend_on_the_scale_of_the_rows(scale):
    z1, z2 = (randn(6, 5, seed=s) for s in (2, 3))
    assert torch.allclose(cross_correlation(z1 * scale, z2 * scale), cross_correlation(z1, z2), atol=1e-5)


def test_zero_rows_and_constant_dimensions_stay_finite():
    z = torch.randn(5, 4)
    z[2] = 0
    z[:, 1] = 3.0                            # a constant dimension: C_11 = 0, loss term 1
    c = cross_correlation(z, z)
    assert c[1, 1].item() == 0 and torch.isfinite(barlow_twins_loss(z, z))


def test_bfloat16_inputs_give_float32_losses():
    z1, z2 = randn(8, 6, seed=1).bfloat16(), randn(8, 6, seed=2).bfloat16()
    value = barlow_twins_loss(z1, z2)
    assert value.dtype == torch.float32 and math.isfinite(value.item())


def test_one_dimensional_outputs():
    z1 = randn(6, 1, seed=1)
    assert barlow_twins_loss(z1, z1).item() == pytest.approx(0, abs=1e-6)  # C = [[1]]: no off-diagonal
