"""Tests for sslteach.collapse: output_std, singular_values and effective_rank on inputs with known
answers (complete collapse, low rank, isotropic Gaussians). CPU only, fast."""
import math

import pytest
import torch

from sslteach.collapse import effective_rank, output_std, singular_values


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_output_std_known_answers():
    assert output_std(torch.ones(10, 6) * 3).item() == 0                  # complete collapse
    z = randn(20000, 64, seed=4)                                          # isotropic Gaussian
    assert output_std(z).item() * math.sqrt(64) == pytest.approx(1, abs=0.02)
    v = randn(1, 16, seed=5)                                              # rank 1, signs half +, half −
    signs = torch.tensor([1.0, -1.0]).repeat(50).unsqueeze(1)
    expected = (v / v.norm()).abs().mean() * math.sqrt(100 / 99)         # unbiased std of ±v̂_d
    assert output_std(signs * 2.5 * v).item() == pytest.approx(expected.item(), rel=1e-5)
    assert output_std(torch.rand(100, 1) * v).item() < 1e-6               # rank 1, one direction: 0


def test_singular_values_known_answers():
    assert torch.equal(singular_values(torch.full((12, 5), 0.3)), torch.zeros(5))
    for dtype in (torch.float64, torch.float32):
        low_rank = (randn(50, 3, seed=6) @ randn(3, 20, seed=7)).to(dtype)   # rank 3
        s = singular_values(low_rank)
        assert s.shape == (20,) and (s[:3] > 0.1).all() and (s[3:] == 0).all()
        assert (s[:-1] >= s[1:]).all()                                       # descending
    s = singular_values(randn(4096, 16, seed=8))                             # isotropic: flat, ≈ 1
    assert ((s - 1).abs() < 0.1).all()
    z = randn(30, 4, seed=9)
    cov = (z - z.mean(0)).T @ (z - z.mean(0)) / 30
    assert torch.allclose(singular_values(z).double() ** 2, torch.linalg.eigvalsh(cov).flip(0), rtol=1e-5)


def test_effective_rank_known_answers():
    assert effective_rank(torch.full((8, 4), 2.0)).item() == 0
    for r in (1, 3, 5):
        z = torch.cat([torch.eye(r, 8), -torch.eye(r, 8)])                   # r equal singular values
        assert effective_rank(z).item() == pytest.approx(r, abs=1e-5)
    assert effective_rank(randn(4096, 16, seed=10)).item() > 0.99 * 16


def test_rank_of_low_precision_outputs_is_that_of_their_float32_values():
    # fit trains under bfloat16 autocast, so the metrics see bfloat16 z: rounding must not zero the spectrum
    from sslteach.collapse import effective_rank
    g = torch.Generator().manual_seed(0)
    for r in (3, 40):
        z = torch.randn(128, r, generator=g) @ torch.randn(r, 256, generator=g)       # (128, 256), rank r
        assert effective_rank(z.bfloat16()).item() == pytest.approx(effective_rank(z).item(), rel=0.02)
        assert 1 < effective_rank(z.bfloat16()).item() <= r
