"""Tests for sslteach.corruption: exact mask ratios, reproducible draws, the noise and dropout
values, and Corruption chaining them."""
import pytest
import torch

from sslteach.autoencoder import ConvAutoencoder, reconstruction_step
from sslteach.corruption import Corruption, add_noise, mask_patches, pixel_dropout
from sslteach.models import ConvEncoder


def tiny_encoder(c=3):
    return ConvEncoder(in_channels=c, widths=(8, 16), depth=1, stem_width=8)


@pytest.mark.parametrize("ratio,patch,size", [(0.5, 4, 32), (0.75, 4, 28), (0.3, 8, 28), (0.0, 4, 16)])
def test_mask_ratio_exact(ratio, patch, size):
    x = torch.rand(5, 3, size, size)
    x_m, mask = mask_patches(x, ratio, patch, generator=torch.Generator().manual_seed(1))
    grid = -(-size // patch)
    expected = round(ratio * grid * grid)
    assert mask.shape == (5, 1, size, size)
    # count patches through their top-left pixels
    corners = mask[:, 0, ::patch, ::patch]
    assert (corners.sum(dim=(1, 2)) == expected).all()
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    if size % patch == 0:
        assert (mask.sum(dim=(1, 2, 3)) == expected * patch * patch).all()
    assert torch.equal(x_m, x * (1 - mask))  # hidden -> 0, visible untouched
    assert not torch.equal(mask[0], mask[1]) or expected == 0  # each image its own mask


def test_generator_reproducibility():
    x = torch.rand(4, 3, 16, 16)
    for fn in (lambda g: add_noise(x, 0.2, g), lambda g: pixel_dropout(x, 0.3, g),
               lambda g: mask_patches(x, 0.5, 4, g)[1]):
        a = fn(torch.Generator().manual_seed(7))
        b = fn(torch.Generator().manual_seed(7))
        c = fn(torch.Generator().manual_seed(8))
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_noise_and_dropout_values():
    x = torch.full((2, 3, 64, 64), 0.5)
    noisy = add_noise(x, 0.1, torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert abs((noisy - x).std().item() - 0.1) < 0.01
    assert torch.equal(add_noise(x, 0.0), x)
    dropped = pixel_dropout(x, 0.3, torch.Generator().manual_seed(0))
    zero = dropped == 0
    assert torch.equal(zero[:, :1].expand_as(zero), zero)  # whole pixels, all channels together
    assert abs(zero.float().mean().item() - 0.3) < 0.02
    assert torch.equal(pixel_dropout(x, 0.0), x) and (pixel_dropout(x, 1.0) == 0).all()
    assert add_noise(x.double(), 0.1).dtype == torch.float64


def test_clear_errors():
    x = torch.rand(2, 3, 8, 8)
    for ratio in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            mask_patches(x, ratio, 2)
    with pytest.raises(ValueError, match="patch_size"):
        mask_patches(x, 0.5, 0)
    with pytest.raises(ValueError, match="N, C, H, W"):
        mask_patches(x[0], 0.5, 2)
    with pytest.raises(TypeError, match="x.float"):
        add_noise((x * 255).to(torch.uint8), 0.1)
    with pytest.raises(ValueError, match="p"):
        pixel_dropout(x, 1.5)


def test_corruption_composes_noise_dropout_and_mask():
    x = torch.full((4, 3, 16, 16), 0.5)
    assert torch.equal(Corruption()(x), x)  # every level 0: the identity
    a = Corruption(noise_std=0.1, drop_p=0.3, generator=torch.Generator().manual_seed(0))(x)
    g = torch.Generator().manual_seed(0)
    b = pixel_dropout(add_noise(x, 0.1, g), 0.3, g)  # noise, then dropout, from one generator
    assert torch.equal(a, b)
    assert a.shape == x.shape and abs((a == 0).float().mean().item() - 0.3) < 0.05
    kept = a[a != 0]
    assert (kept != 0.5).float().mean() > 0.99  # the kept pixels are noisy
    x_c, mask = Corruption(mask_ratio=0.5, generator=torch.Generator().manual_seed(0)).with_mask(x)
    assert torch.equal(x_c, x * (1 - mask)) and mask.mean() == 0.5
    _, none = Corruption(noise_std=0.2).with_mask(x)
    assert none.shape == (4, 1, 16, 16) and none.sum() == 0
    g1, g2 = (Corruption(0.2, 0.2, 0.25, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(g1(x), g2(x))  # same seed, same corruption
    step = reconstruction_step("denoising", corrupt=Corruption(noise_std=0.1, drop_p=0.2))
    assert step(ConvAutoencoder(tiny_encoder()), x).ndim == 0
    with pytest.raises(ValueError, match="drop_p"):
        Corruption(drop_p=2.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Corruption(mask_ratio=1.0)
