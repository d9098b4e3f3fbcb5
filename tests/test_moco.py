"""Tests for sslteach.moco: the EMA update computed by hand, the queue's FIFO order, MoCo's loss against
a loop written from Algorithm 1 of the paper, the step's order (EMA first, its own keys never
negatives), and 2 steps of ``fit``. CPU only, fast."""
import copy
import math

import pytest
import torch
from torch import nn

import sslteach.moco as moco
from sslteach.batches import TensorLoader
from sslteach.models import ConvEncoder
from sslteach.moco import KeyQueue, MoCo, ema_update, moco_accuracy, moco_loss, moco_step
from sslteach.train import fit


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tiny_encoder():
    return ConvEncoder(widths=(8, 16), stem_width=8)


def flip_views(x):  # a deterministic two-view "augmentation"
    return x, x.flip(3)


# ---- EMA ------------------------------------------------------------------------------------------

def net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_ema_update_matches_the_hand_computation():
    online, target = net(0), net(1)
    online[1].running_mean.fill_(0.25)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update(target, online, 0.9)
    for name, p in target.named_parameters():
        expected = 0.9 * before[name] + 0.1 * online.state_dict()[name]  # θ_t ← m θ_t + (1 − m) θ_o
        assert torch.allclose(p, expected, rtol=0, atol=1e-7), name
    assert torch.equal(target[1].running_mean, online[1].running_mean)  # buffers: copied


def test_ema_update_momentum_0_copies_and_1_freezes():
    online, target = net(0), net(1)
    frozen = copy.deepcopy(target)
    ema_update(frozen, online, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(frozen.parameters(), net(1).parameters()))
    ema_update(target, online, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), online.state_dict().values()))


# ---- the queue ---------------------------------------------------------------------------------------

def one_hot_keys(ids, d=8):
    return torch.eye(d)[ids]  # key i is the unit vector e_i: the queue's content shows its order


def ids_of(queue):
    return queue.keys().argmax(dim=1).tolist()


def test_queue_is_first_in_first_out_and_wraps_around():
    queue = KeyQueue(dim=8, size=5)
    assert queue.keys().shape == (0, 8) and len(queue) == 0
    queue.enqueue(one_hot_keys([0, 1, 2]))
    assert ids_of(queue) == [0, 1, 2]                # only the filled part
    queue.enqueue(one_hot_keys([3, 4, 5]))
    assert ids_of(queue) == [1, 2, 3, 4, 5]          # full: the oldest (0) dropped out
    queue.enqueue(one_hot_keys([6, 7]))
    assert ids_of(queue) == [3, 4, 5, 6, 7] and len(queue) == 5


def test_queue_takes_the_newest_keys_of_a_batch_larger_than_itself():
    queue = KeyQueue(dim=8, size=3)
    queue.enqueue(one_hot_keys([0]))
    queue.enqueue(one_hot_keys([1, 2, 3, 4, 5, 6, 7]))
    assert ids_of(queue) == [5, 6, 7]
    queue.enqueue(one_hot_keys([0]))
    assert ids_of(queue) == [6, 7, 0]


def test_queue_stores_unit_keys_and_moves_with_the_model():
    queue = KeyQueue(dim=4, size=6)
    queue.enqueue(3 * randn(2, 4, dtype=torch.float32))
    assert torch.allclose(queue.keys().norm(dim=1), torch.ones(2))
    model = MoCo(tiny_encoder(), out_dim=4, queue_size=6)
    assert {"queue.queue", "queue.ptr", "queue.count"} <= set(model.state_dict())
    assert model.to(torch.float64).queue.queue.dtype == torch.float64


# ---- MoCo --------------------------------------------------------------------------------------------

def moco_loss_loop(q, k, queue, tau):
    """Algorithm 1 of He et al. (2020), one query at a time: logits [q·k, q·queue] / τ, target 0."""
    total = 0
    for i in range(len(q)):
        qi, ki = q[i] / q[i].norm(), k[i] / k[i].norm()
        l_pos = torch.dot(qi, ki)                                          # positive logit
        l_neg = [torch.dot(qi, n / n.norm()) for n in queue]               # K negative logits
        denominator = torch.exp(l_pos / tau) + sum(torch.exp(l / tau) for l in l_neg)
        total = total - torch.log(torch.exp(l_pos / tau) / denominator)    # cross-entropy, label 0
    return total / len(q)


@pytest.mark.parametrize("n, k, d, tau", [(1, 3, 2, 0.5), (4, 10, 8, 0.2), (6, 1, 5, 1.0), (3, 20, 16, 0.07)])
def test_moco_loss_equals_the_loop_from_algorithm_1(n, k, d, tau):
    q, keys, queue = randn(n, d, seed=1), randn(n, d, seed=2), randn(k, d, seed=3)
    keys = keys + 2 * q  # correlated: the positive matters
    assert torch.allclose(moco_loss(q, keys, queue, tau), moco_loss_loop(q, keys, queue, tau), atol=1e-10, rtol=0)


def test_moco_loss_gives_no_gradient_to_the_keys_and_takes_a_key_queue():
    q, k = randn(4, 6, seed=1).requires_grad_(), randn(4, 6, seed=2).requires_grad_()
    queue = KeyQueue(6, 10)
    queue.enqueue(randn(7, 6, seed=3).float())
    loss = moco_loss(q, k, queue, 0.2)
    assert torch.allclose(loss, moco_loss(q, k, queue.keys().double(), 0.2), atol=1e-6)
    gq, gk = torch.autograd.grad(loss, [q, k], allow_unused=True)
    assert gk is None and gq.abs().sum() > 0


def test_moco_loss_with_an_empty_queue_is_zero():
    q = randn(3, 4).requires_grad_()
    loss = moco_loss(q, randn(3, 4, seed=1), torch.empty(0, 4, dtype=torch.float64), 0.2)
    loss.backward()
    assert loss.item() == 0 and torch.equal(q.grad, torch.zeros_like(q))  # one candidate: nothing to learn
    assert moco_accuracy(q, randn(3, 4, seed=1), KeyQueue(4, 5)).item() == 1


def test_moco_accuracy_against_brute_force():
    q, k, queue = randn(20, 4, seed=1), randn(20, 4, seed=2), randn(6, 4, seed=3)
    unit = lambda v: v / v.norm()
    wins = [all(unit(q[i]) @ unit(k[i]) > unit(q[i]) @ unit(n) for n in queue) for i in range(20)]
    assert moco_accuracy(q, k, queue).item() == pytest.approx(sum(wins) / 20)


def test_moco_step_updates_the_keys_by_ema_first_and_never_sees_its_own_keys(monkeypatch):
    torch.manual_seed(0)
    model = MoCo(tiny_encoder(), out_dim=8, queue_size=12, momentum=0.9).train()
    for p in model.encoder.parameters():       # let the two branches differ, as after training
        p.data.add_(0.1 * torch.randn_like(p))
    key_before = [p.clone() for p in model.key_encoder.parameters()]
    seen = []
    real = moco.moco_loss
    monkeypatch.setattr(moco, "moco_loss", lambda q, k, neg, tau: seen.append((k, neg.clone())) or real(q, k, neg, tau))
    step = moco_step(flip_views)
    images = torch.rand(4, 3, 16, 16)
    for i in range(4):
        loss, extra = step(model, images)
        assert torch.isfinite(loss) and 0 <= extra["acc"].item() <= 1
        if i == 0:
            for pk, pk0, pq in zip(model.key_encoder.parameters(), key_before, model.encoder.parameters()):
                assert torch.allclose(pk, 0.9 * pk0 + 0.1 * pq, atol=1e-7)
    for i, (k, negatives) in enumerate(seen):
        assert len(negatives) == min(4 * i, 12)                               # earlier batches only
        k = k / k.norm(dim=1, keepdim=True)
        assert (negatives @ k.T).max() < 1 - 1e-4 if len(negatives) else True  # not this batch's keys
    assert torch.allclose(model.queue.keys()[-4:], seen[-1][0] / seen[-1][0].norm(dim=1, keepdim=True))


# ---- the step function through fit ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: (MoCo(tiny_encoder(), out_dim=16, queue_size=20), moco_step(flip_views), "acc"),
], ids=['moco'])
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
    for model, step in ((MoCo(tiny_encoder(), out_dim=8, queue_size=8), moco_step(flip_views)),):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, extra = step(model.train(), images)
            loss, extra = step(model, images)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
