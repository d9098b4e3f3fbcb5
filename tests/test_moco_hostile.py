"""Hostile inputs to sslteach.moco: each bad call fails with an error that says what was expected and
how to fix it, or the case is computed correctly (rows of any scale, bfloat16)."""
import copy
import math

import pytest
import torch
from torch import nn

from sslteach.models import ConvEncoder
from sslteach.moco import KeyQueue, MoCo, ema_update, moco_loss, moco_step
from sslteach.siamese import Siamese


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


# ---- bad arguments: the message names the argument and the fix -----------------------------------

def test_ema_update_refuses_a_target_that_is_the_online_network():
    online = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="copy.deepcopy"):
        ema_update(online, online, 0.9)


def test_ema_update_refuses_different_architectures():
    with pytest.raises(ValueError, match="same architecture"):
        ema_update(nn.Linear(3, 2), nn.Linear(3, 4), 0.9)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ema_update(nn.Linear(3, 2), "online", 0.9)


@pytest.mark.parametrize("momentum, error", [(1.5, ValueError), (-0.1, ValueError), (True, TypeError),
                                             (float("nan"), ValueError), ("0.9", TypeError)])
def test_momentum_out_of_range(momentum, error):
    net = nn.Linear(3, 2)
    with pytest.raises(error, match="momentum"):
        ema_update(copy.deepcopy(net), net, momentum)
    with pytest.raises(error, match="momentum"):
        MoCo(tiny_encoder(), momentum=momentum)


def test_queue_size_must_be_positive():
    with pytest.raises(ValueError, match="queue_size must be an integer >= 1"):
        MoCo(tiny_encoder(), queue_size=0)
    with pytest.raises(TypeError, match="queue_size"):
        KeyQueue(8, size=10.5)


def test_queue_refuses_keys_of_another_width():
    queue = KeyQueue(dim=8, size=4)
    with pytest.raises(ValueError, match="width D = 8"):
        queue.enqueue(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"KeyQueue\(dim=5"):
        moco_loss(torch.randn(3, 5), torch.randn(3, 5), queue, 0.2)


@pytest.mark.parametrize("tau", [0, -1, float("inf")])
def test_moco_temperature_must_be_positive(tau):
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        moco_loss(torch.randn(3, 4), torch.randn(3, 4), torch.randn(5, 4), tau)
    with pytest.raises(ValueError, match="temperature"):
        MoCo(tiny_encoder(), temperature=tau)


def test_mismatched_shapes_say_which_rows_pair_up():
    with pytest.raises(ValueError, match="row i of each comes from image i"):
        moco_loss(torch.randn(3, 4), torch.randn(4, 4), torch.randn(5, 4))


def test_steps_refuse_the_wrong_model_and_a_one_view_augment():
    images = torch.rand(4, 3, 16, 16)
    with pytest.raises(TypeError, match=r"MoCo\(ConvEncoder\(\)\)"):
        moco_step(lambda x: (x, x))(Siamese(tiny_encoder()), images)


# ---- computed correctly: any scale, zero rows, tiny D --------------------------------------------------

@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_losses_do_not_depend_on_the_scale_of_the_rows(scale):
    p1, z1 = (randn(6, 5, seed=s) for s in (0, 2))
    q = randn(10, 5, seed=5)
    assert moco_loss(p1 * scale, z1 * scale, q * scale, 0.2).item() == pytest.approx(
        moco_loss(p1, z1, q, 0.2).item(), abs=1e-5)


def test_bfloat16_inputs_give_float32_losses():
    z1, z2 = randn(8, 6, seed=1).bfloat16(), randn(8, 6, seed=2).bfloat16()
    value = moco_loss(z1, z2, z1, 0.2)
    assert value.dtype == torch.float32 and math.isfinite(value.item())
