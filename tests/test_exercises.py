"""Every exercise check accepts a right answer and reports a wrong, a crashing and an unwritten one.

The right answers are written from scratch here (as a student would), not taken from the package,
so each check is tested against an independent solution.
"""
import math

import pytest
import torch
import torch.nn.functional as F

import sslteach as st
from sslteach.checking import CheckResult


# ---- right answers, from scratch --------------------------------------------------------------------
def knn_right(train_x, train_y, test_x, test_y, k):
    top_sim, top_idx = (F.normalize(test_x, dim=1) @ F.normalize(train_x, dim=1).T).topk(k, dim=1)
    votes = (F.one_hot(train_y[top_idx], int(train_y.max()) + 1) * (top_sim / 0.07).exp()[..., None]).sum(1)
    return (votes.argmax(1) == test_y).float().mean().item()


def grayscale_right(x):
    if x.shape[1] == 1:
        return x
    return (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1).expand(-1, 3, -1, -1)


def info_nce_right(z1, z2, tau):  # the paper's loop, in float64
    z = F.normalize(torch.cat([z1, z2]).double(), dim=1)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        sims = [math.exp(float(z[i] @ z[k]) / tau) for k in range(n2) if k != i]
        total -= math.log(math.exp(float(z[i] @ z[(i + n2 // 2) % n2]) / tau) / sum(sims))
    return torch.tensor(total / n2, dtype=torch.float32)


def uniformity_right(z):
    return torch.log(torch.exp(-2 * torch.pdist(F.normalize(z, dim=1)) ** 2).mean())


def rotate_right(x, k):
    return torch.cat([torch.rot90(x, r * 4 // k, dims=(2, 3)) for r in range(k)]), torch.arange(k).repeat_interleave(len(x))


def masked_mse_right(x_hat, x, mask):
    mask = mask.expand_as(x)
    return ((x_hat - x) ** 2 * mask).sum() / mask.sum().clamp_min(1)


def sgns_right(x, y):
    s = torch.einsum("nd,nkd->nk", x, y)
    return (F.softplus(-s[:, 0]) + F.softplus(s[:, 1:]).sum(1)).mean()


def features_right(encoder, images):
    encoder.eval()
    with torch.no_grad():
        return encoder(images.float() / 255 if images.dtype == torch.uint8 else images)


def ema_right(target, online, m):
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters()):
            t.copy_(m * t + (1 - m) * o)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


def ema_swapped(target, online, m):  # m on the online network: the target jumps instead of lagging
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters()):
            t.copy_((1 - m) * t + m * o)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


def neg_cos(p, z):
    return -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(1).mean()


# ---- wrong answers: the mistakes students make --------------------------------------------------------
def knn_unweighted(train_x, train_y, test_x, test_y, k):
    _, idx = (F.normalize(test_x, dim=1) @ F.normalize(train_x, dim=1).T).topk(k, dim=1)
    return (train_y[idx].mode(1).values == test_y).float().mean().item()


def masked_mse_per_pixel(x_hat, x, mask):  # forgets that a hidden pixel has C values
    return ((x_hat - x) ** 2 * mask).sum() / mask.sum()


CASES = {  # check -> (right answer, wrong answer, number of arguments)
    "knn_accuracy": (knn_right, knn_unweighted, 5),
    "grayscale": (grayscale_right, lambda x: x.mean(1, keepdim=True).expand_as(x), 1),
    "brightness": (lambda x, f: (x * f.view(-1, 1, 1, 1)).clamp(0, 1), lambda x, f: x * f.view(-1, 1, 1, 1), 2),
    "info_nce": (info_nce_right, lambda z1, z2, tau: F.cross_entropy(z1 @ z2.T / tau, torch.arange(len(z1))), 3),
    "alignment": (lambda z1, z2: (F.normalize(z1, dim=1) - F.normalize(z2, dim=1)).pow(2).sum(1).mean(),
                  lambda z1, z2: (z1 - z2).pow(2).sum(1).mean(), 2),
    "uniformity": (uniformity_right, lambda z: torch.log(torch.exp(-2 * torch.cdist(z, z) ** 2).mean()), 1),
    "rotate_batch": (rotate_right, lambda x, k: (torch.cat([torch.rot90(x, -r * 4 // k, dims=(2, 3))
                                                            for r in range(k)]),
                                                 torch.arange(k).repeat_interleave(len(x))), 2),
    "masked_mse": (masked_mse_right, masked_mse_per_pixel, 3),
    "sgns_loss": (sgns_right, lambda x, y: -torch.log(torch.sigmoid(torch.einsum("nd,nkd->nk", x, y))).mean(), 2),
    "ema_update": (ema_right, ema_swapped, 3),
    "siamese_loss": (lambda p1, p2, z1, z2: neg_cos(p1, z2.detach()) / 2 + neg_cos(p2, z1.detach()) / 2,
                     lambda p1, p2, z1, z2: neg_cos(p1, z2) / 2 + neg_cos(p2, z1) / 2, 4),   # no stop-gradient
    "extract_features": (features_right, lambda enc, x: enc(x.float() / 255 if x.dtype == torch.uint8 else x).detach(), 2),
}


def check(name):
    return getattr(st.exercises, f"check_{name}")


@pytest.mark.parametrize("name", CASES)
def test_right_answer_passes(name):
    result = check(name)(CASES[name][0])
    assert isinstance(result, CheckResult)
    assert result.passed and bool(result), result.message
    assert repr(result).startswith("✓ right on all") and str(result) == repr(result)


@pytest.mark.parametrize("name", CASES)
def test_wrong_answer_fails_and_names_the_input(name):
    result = check(name)(CASES[name][1])
    assert not result.passed and not bool(result)
    assert result.message.startswith("✗ ") and " on input " in result.message, result.message
    assert f"st.exercises.check_{name}(" in result.message  # how to reproduce it
    assert result.args is not None and len(result.args) == CASES[name][2]
    again = check(name)(CASES[name][0])
    assert again.passed, "a check must give the same inputs every time"


def test_specific_problems_are_named():
    ex = st.exercises
    msg = ex.check_info_nce(lambda z1, z2, tau: info_nce_right(z1, z2, tau).view(1)).message
    assert "wrong shape on input 1 of 7 (N=8, D=16, tau=0.5): expected shape () (a scalar" in msg
    msg = ex.check_masked_mse(lambda x_hat, x, m: ((x_hat - x) ** 2 * m).sum() / m.expand_as(x).sum()).message
    assert "NaN in your answer on input 4" in msg and "nothing hidden" in msg and "expected 0.0000, got nan" in msg
    msg = ex.check_rotate_batch(lambda x, k: (rotate_right(x, k)[0], rotate_right(x, k)[1].float())).message
    assert "wrong dtype" in msg and "output 2 of 2: expected torch.int64, got torch.float32" in msg
    msg = ex.check_sgns_loss(lambda x, y: -torch.log(torch.sigmoid(torch.einsum("nd,nkd->nk", x, y[:, :1]))).mean()
                             + -torch.log(torch.sigmoid(-torch.einsum("nd,nkd->nk", x, y[:, 1:]))).sum(1).mean()).message
    assert "inf in your answer on input 5 of 5 (large scores" in msg
    msg = ex.check_brightness(lambda x, f: None).message
    assert "got None (did you forget `return`?)" in msg
    msg = ex.check_brightness(lambda x, f: x.mul_(f.view(-1, 1, 1, 1)).clamp_(0, 1)).message
    assert "changed its input" in msg
    msg = ex.check_extract_features(lambda enc, x: enc.eval()(x.float() / 255 if x.dtype == torch.uint8 else x)).message
    assert "still tracks gradients" in msg
    msg = ex.check_knn_accuracy(lambda *a: "0.9").message
    assert "wrong type" in msg and "expected a number, got str" in msg
    assert "pass the function itself" in ex.check_alignment(3).message


def test_checks_leave_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    st.exercises.check_extract_features(features_right)
    st.exercises.check_info_nce(info_nce_right)
    assert torch.equal(state, torch.random.get_rng_state())
