"""Hostile inputs to sslteach.autoencoder: each bad call fails with a message that says what to do,
or the case is handled correctly. CPU only, no training beyond one step of a tiny encoder."""
import pytest
import torch
from torch import nn

from sslteach.autoencoder import (ConvAutoencoder, masked_mse, reconstruct, reconstruction_error,
                                  reconstruction_step)
from sslteach.corruption import Corruption
from sslteach.models import ConvEncoder


def tiny_encoder(c=3):
    return ConvEncoder(in_channels=c, widths=(8, 16, 16), stem_width=8)


def images(n=2, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ConvAutoencoder(tiny_encoder(), bottleneck=4)


# ---- ConvAutoencoder ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(bottleneck=0), ValueError, "None for no bottleneck"),
    (dict(bottleneck=-4), ValueError, "None for no bottleneck"),
    (dict(bottleneck=True), TypeError, "None for no bottleneck"),
    (dict(bottleneck=2.5), TypeError, "None for no bottleneck"),
    (dict(in_channels=2), ValueError, r"3 \(colour\) or 1 \(grey\)"),
    (dict(in_channels=True), TypeError, "in_channels must be an integer"),
    (dict(encoder=tiny_encoder(3), in_channels=1), ValueError, "leave in_channels out"),
    (dict(encoder=nn.Conv2d(3, 8, 3)), TypeError, r"ConvEncoder\(\)"),
])
def test_conv_autoencoder_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConvAutoencoder(**kwargs)


def test_conv_autoencoder_takes_channels_from_the_encoder():
    grey = ConvAutoencoder(tiny_encoder(1))
    assert grey(torch.rand(2, 1, 16, 16)).shape == (2, 1, 16, 16)
    assert ConvAutoencoder(tiny_encoder(1), in_channels=1).encoder.in_channels == 1


# ---- masked_mse and the step ---------------------------------------------------------------------

def test_masked_mse_refuses_mismatches_and_bad_masks():
    x = images()
    with pytest.raises(ValueError, match="same shape"):
        masked_mse(x[:1], x, torch.ones(2, 1, 16, 16))
    with pytest.raises(ValueError, match="use the mask that mask_patches returns"):
        masked_mse(x, x, torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="use the mask that mask_patches returns"):
        masked_mse(x, x, torch.full((2, 1, 16, 16), 2.0))
    with pytest.raises(TypeError, match=r"torch\.as_tensor"):
        masked_mse(x, x.tolist(), torch.ones(2, 1, 16, 16))


def test_masked_mse_with_nothing_hidden_is_zero_with_a_zero_gradient():
    x_hat = images(seed=1).requires_grad_()
    loss = masked_mse(x_hat, images(), torch.zeros(2, 1, 16, 16))
    loss.backward()
    assert loss.item() == 0 and torch.equal(x_hat.grad, torch.zeros_like(x_hat))  # no 0 / 0 = NaN


@pytest.mark.parametrize("args,kwargs,error,match", [
    (("vae",), {}, ValueError, "'plain', 'denoising' or 'masked'"),
    (("plain",), dict(corrupt=Corruption(noise_std=0.2)), ValueError, "pass kind='denoising'"),
    (("masked",), dict(corrupt=Corruption(noise_std=0.2)), ValueError, "pass kind='denoising'"),
    (("denoising",), dict(corrupt=0.3), TypeError, r"Corruption\(noise_std=0\.2\)"),
    (("denoising",), dict(noise_std=float("nan")), ValueError, r"e\.g\. 0\.3"),
    (("masked",), dict(mask_ratio=1.0), ValueError, "MAE uses 0.75"),
])
def test_reconstruction_step_refuses_bad_settings(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        reconstruction_step(*args, **kwargs)


@pytest.mark.parametrize("kind", ["plain", "denoising", "masked"])
def test_reconstruction_step_refuses_a_model_of_the_wrong_shape(kind):
    with pytest.raises(ValueError, match=r"ConvAutoencoder\) for 3-channel images"):
        reconstruction_step(kind)(nn.Conv2d(3, 1, 1), images())   # would broadcast in F.mse_loss


def test_reconstruction_step_on_one_image_and_with_a_corruption_that_returns_a_mask(model):
    loss = reconstruction_step("masked", mask_ratio=0.5)(model, images(1))
    assert loss.ndim == 0 and torch.isfinite(loss)
    corrupt = Corruption(mask_ratio=0.5, generator=torch.Generator().manual_seed(0)).with_mask
    assert torch.isfinite(reconstruction_step("denoising", corrupt=corrupt)(model, images(1)))


# ---- reconstruct / reconstruction_error ----------------------------------------------------------

def test_reconstruct_refuses_bad_inputs(model):
    with pytest.raises(ValueError, match="images per forward pass"):
        reconstruct(model, images(), batch_size=0, device="cpu")
    with pytest.raises(TypeError, match=r"Corruption\(mask_ratio=0\.5\)"):
        reconstruct(model, images(), corrupt="masked", device="cpu")
    with pytest.raises(ValueError, match="non-empty"):
        reconstruct(model, torch.rand(0, 3, 16, 16), device="cpu")
    with pytest.raises(ValueError, match="ConvAutoencoder"):
        reconstruct(nn.Conv2d(3, 1, 1), images(), device="cpu")


def test_reconstruction_error_refuses_a_corruption_that_changes_the_shape(model):
    with pytest.raises(ValueError, match="must keep the shape"):
        reconstruction_error(model, images(), corrupt=lambda x: x[..., :8, :8], device="cpu")
    err = reconstruction_error(model, images(1), device="cpu")   # a batch of one
    assert err.shape == (1,) and torch.isfinite(err).all()
