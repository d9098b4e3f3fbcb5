import pytest
import torch
import torch.nn.functional as F

from sslteach.autoencoder import (ConvAutoencoder, Corruption, add_noise, mask_patches, masked_mse,
                                  pixel_dropout, reconstruct, reconstruction_error, reconstruction_step)
from sslteach.models import ConvEncoder
from sslteach.train import TensorLoader, fit


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
