"""Tests for sslteach.sphere: Wang & Isola's alignment and uniformity against brute force, at their
extremes, and with finite gradients for identical vectors."""
import itertools
import math

import pytest
import torch

from sslteach.sphere import alignment, uniformity


def views(n, d, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


def test_alignment_and_uniformity_against_brute_force():
    z1, z2 = views(9, 4, seed=8)
    u1, u2 = z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)
    for alpha in (1, 2, 3):
        brute = sum(torch.linalg.vector_norm(u1[i] - u2[i]) ** alpha for i in range(9)) / 9
        assert alignment(z1, z2, alpha).item() == pytest.approx(brute.item(), abs=1e-10)
    for t in (0.5, 2, 5):
        pairs = list(itertools.combinations(range(9), 2))
        brute = math.log(sum(math.exp(-t * float(((u1[i] - u1[j]) ** 2).sum())) for i, j in pairs) / len(pairs))
        assert uniformity(z1, t).item() == pytest.approx(brute, abs=1e-10)


def test_alignment_uniformity_extremes_and_gradients():
    z = torch.randn(6, 3, dtype=torch.float64)
    assert alignment(z, 5 * z).item() == pytest.approx(0, abs=1e-12)
    assert alignment(z, -z).item() == pytest.approx(4, abs=1e-12)  # antipodal: ‖u - (-u)‖² = 4
    collapsed = torch.ones(6, 3, dtype=torch.float64, requires_grad=True)
    u = uniformity(collapsed)
    u.backward()
    assert u.item() == pytest.approx(0, abs=1e-12) and torch.isfinite(collapsed.grad).all()
    # two antipodal points: one pair at squared distance 4, unif = -4t
    assert uniformity(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), t=2).item() == pytest.approx(-8)
