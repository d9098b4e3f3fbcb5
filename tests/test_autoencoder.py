import pytest
import torch
import torch.nn.functional as F

from sslteach.autoencoder import (ConvAutoencoder, masked_mse, reconstruct, reconstruction_error,
                                  reconstruction_step)
from sslteach.batches import TensorLoader
from sslteach.corruption import mask_patches
from sslteach.models import ConvEncoder
from sslteach.train import fit


def tiny_encoder(c=3):
    return ConvEncoder(in_channels=c, widths=(8, 16), depth=1, stem_width=8)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_shapes_default_encoder(shape):
    model = ConvAutoencoder(in_channels=shape[0]).eval()
    x = torch.rand(2, *shape)
    x_hat = model(x)
    assert x_hat.shape == x.shape
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    code, sizes = model.encode(x)
    assert code.shape == (2, 256, 2, 2)  # 28 -> 14 -> 7 -> 4 -> 2 and 32 -> 16 -> 8 -> 4 -> 2
    assert tuple(sizes[-1]) == shape[1:]


def test_bottleneck_and_custom_encoder():
    model = ConvAutoencoder(tiny_encoder(1), bottleneck=4).eval()
    x = torch.rand(3, 1, 28, 28)
    code, _ = model.encode(x)
    assert code.shape == (3, 4, 7, 7)
    assert model(x).shape == x.shape
    assert model.encoder(x).shape == (3, 16)  # the features we probe: pooled last block
    with pytest.raises(ValueError, match="bottleneck"):
        ConvAutoencoder(bottleneck=0)


@pytest.mark.parametrize("kind", ["plain", "denoising", "masked"])
def test_loss_decreases_on_toy_set(kind):
    torch.manual_seed(0)
    coarse = torch.rand(32, 3, 2, 2)  # smooth images: hidden patches are predictable from context
    images = (F.interpolate(coarse, size=(16, 16), mode="bilinear") * 255).to(torch.uint8)
    model = ConvAutoencoder(tiny_encoder(), bottleneck=8)
    step = reconstruction_step(kind, noise_std=0.2, mask_ratio=0.25, patch_size=4)
    history = fit(model, step, TensorLoader(images, torch.zeros(32), batch_size=16),
                  torch.optim.Adam(model.parameters(), 1e-2), epochs=12, device="cpu", progress=False)
    assert history["loss"][-1] < 0.6 * history["loss"][0], history["loss"]
    err = reconstruction_error(model, images, device="cpu")
    assert err.shape == (32,) and (err >= 0).all()


def test_masked_loss_ignores_visible_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 8, 8, generator=g)
    x_hat = torch.rand(2, 3, 8, 8, generator=g)
    _, mask = mask_patches(x, 0.5, 2, generator=g)
    loss = masked_mse(x_hat, x, mask)
    visible_changed = torch.where(mask.bool(), x_hat, torch.rand_like(x_hat))
    assert torch.equal(masked_mse(visible_changed, x, mask), loss)
    hidden_changed = torch.where(mask.bool(), torch.rand_like(x_hat), x_hat)
    assert not torch.equal(masked_mse(hidden_changed, x, mask), loss)
    # analytic value: mean of squared errors over hidden entries
    m = mask.bool().expand_as(x)
    assert torch.allclose(loss, ((x_hat - x)[m] ** 2).mean())
    assert masked_mse(x_hat, x, torch.zeros_like(mask)) == 0


def test_clear_errors():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="same shape"):
        masked_mse(x[:1], x, torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="mask must have shape"):
        masked_mse(x, x, torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="kind"):
        reconstruction_step("vae")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        reconstruction_step("masked", mask_ratio=1.0)


def test_reconstruct_returns_corrupted_input():
    model = ConvAutoencoder(tiny_encoder())
    x = (torch.rand(5, 3, 16, 16) * 255).to(torch.uint8)
    g = torch.Generator().manual_seed(0)
    x_in, x_hat = reconstruct(model, x, corrupt=lambda xb: mask_patches(xb, 0.5, 4, g), batch_size=2,
                              device="cpu")
    assert x_in.shape == x_hat.shape == (5, 3, 16, 16) and x_in.dtype == torch.float32
    assert (x_in == 0).float().mean() > 0.4  # half the patches hidden
    assert model.training  # mode restored
    clean_in, _ = reconstruct(model, x, device="cpu")
    assert torch.allclose(clean_in, x.float() / 255)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda():
    x = torch.rand(4, 1, 28, 28, device="cuda")
    model = ConvAutoencoder(tiny_encoder(1), bottleneck=4).cuda()
    for kind in ("plain", "denoising", "masked"):
        loss = reconstruction_step(kind)(model, x)
        assert loss.is_cuda and loss.ndim == 0
    x_m, mask = mask_patches(x, 0.5, 4, generator=torch.Generator().manual_seed(0))  # CPU generator
    assert x_m.is_cuda and mask.is_cuda
    assert reconstruction_error(model, x, device="cuda").shape == (4,)
