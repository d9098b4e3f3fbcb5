"""Hostile inputs to sslteach.autoencoder: each bad call fails with a message that says what to do,
or the case is handled correctly. CPU only, no training beyond one step of a tiny encoder."""
import pytest
import torch
from torch import nn

from sslteach.autoencoder import (ConvAutoencoder, Corruption, add_noise, mask_patches, masked_mse,
                                  pixel_dropout, reconstruct, reconstruction_error, reconstruction_step)
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


# ---- corruptions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("std,error", [(-0.1, ValueError), (float("nan"), ValueError),
                                       (float("inf"), ValueError), (True, TypeError)])
def test_add_noise_refuses_bad_std(std, error):
    with pytest.raises(error, match=r"e\.g\. 0\.2"):
        add_noise(images(), std)


@pytest.mark.parametrize("p,error", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError),
                                     (True, TypeError)])
def test_pixel_dropout_refuses_bad_p(p, error):
    with pytest.raises(error, match="drops a quarter"):
        pixel_dropout(images(), p)


def test_corruptions_refuse_bad_fill_and_generator():
    with pytest.raises(ValueError, match="0 black, 1 white"):
        pixel_dropout(images(), 0.5, fill=255)
    with pytest.raises(ValueError, match="0 black, 1 white"):
        mask_patches(images(), 0.5, fill=float("nan"))
    with pytest.raises(TypeError, match=r"manual_seed\(0\)"):
        add_noise(images(), 0.1, generator=0)


@pytest.mark.parametrize("ratio,patch,error,match", [
    (1.0, 4, ValueError, "MAE uses 0.75"), (-0.1, 4, ValueError, "MAE uses 0.75"),
    (float("nan"), 4, ValueError, "MAE uses 0.75"), (True, 4, TypeError, "MAE uses 0.75"),
    (0.5, 0, ValueError, "side of a patch"), (0.5, 2.5, TypeError, "side of a patch"),
    (0.5, 16, ValueError, "patch_size of at most 8"), (0.5, 40, ValueError, "nothing could stay visible"),
])
def test_mask_patches_refuses_bad_ratio_and_patch_size(ratio, patch, error, match):
    with pytest.raises(error, match=match):
        mask_patches(images(size=16), ratio, patch)


def test_mask_patches_with_a_patch_size_that_does_not_divide_the_image():
    x_m, mask = mask_patches(images(3, size=10), 0.5, 4, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (3, 1, 10, 10)
    assert (mask[:, 0, ::4, ::4].sum(dim=(1, 2)) == round(0.5 * 9)).all()  # 3x3 grid, edge patches cropped
    assert torch.equal(x_m, images(3, size=10) * (1 - mask))


@pytest.mark.parametrize("ratio,hidden", [(0.01, 1), (0.99, 15)])
def test_mask_patches_hides_at_least_one_patch_and_keeps_one_visible(ratio, hidden):
    _, mask = mask_patches(images(2, size=16), ratio, 4, generator=torch.Generator().manual_seed(0))
    assert (mask[:, 0, ::4, ::4].sum(dim=(1, 2)) == hidden).all()   # 16 patches: round() gives 0 or 16


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(noise_std=float("nan")), ValueError, "0 for no noise"),
    (dict(noise_std=-1), ValueError, "0 for no noise"),
    (dict(drop_p=True), TypeError, "0 for no pixel dropout"),
    (dict(mask_ratio=1.0), ValueError, "mask_ratio must be"),
    (dict(patch_size=0), ValueError, "side of a patch"),
    (dict(generator=7), TypeError, "manual_seed"),
])
def test_corruption_refuses_bad_levels_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        Corruption(**kwargs)


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
