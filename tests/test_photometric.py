"""Tests for sslteach.photometric: each op, and the colour functions it uses, against
torchvision.transforms.v2.functional on fixed parameters."""
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslteach.colour import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation
from sslteach.photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale

ATOL = 1e-5  # float32 rounding; the formulas are the same


def images(n=6, c=3, h=20, w=24, dtype=torch.float32, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def per_image(fn, x, *params):
    """torchvision applied image by image, parameters taken from the i-th entry of each list."""
    return torch.stack([fn(x[i], *[p[i] for p in params]) for i in range(len(x))])


# ---- fixed parameters: equal to torchvision ----

def test_grayscale_matches_torchvision():
    x = images()
    gray = torch.stack([TF.rgb_to_grayscale(im, num_output_channels=3) for im in x])
    torch.testing.assert_close(RandomGrayscale().apply(x), gray, atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_colour_functions_match_torchvision(dtype):
    x = images(dtype=dtype)
    f = torch.tensor([0.0, 0.3, 0.9, 1.0, 1.5, 2.6], dtype=dtype)  # a different factor per image
    hue = torch.tensor([-0.5, -0.21, 0.0, 0.07, 0.33, 0.5], dtype=dtype)
    for ours, theirs, factor in [(adjust_brightness, TF.adjust_brightness, f),
                                 (adjust_contrast, TF.adjust_contrast, f),
                                 (adjust_saturation, TF.adjust_saturation, f), (adjust_hue, TF.adjust_hue, hue)]:
        ref = per_image(lambda im, v: theirs(im, float(v)), x, factor)
        torch.testing.assert_close(ours(x, factor), ref, atol=ATOL, rtol=0, msg=ours.__name__)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)])
def test_color_jitter_apply_matches_torchvision_in_the_given_order(order):
    x = images()
    params = ColorJitter(0.8, 0.8, 0.8, 0.2).sample_params(x, torch.Generator().manual_seed(2))
    params["order"] = order
    ours = ColorJitter().apply(x, **params)
    fns = [(TF.adjust_brightness, "brightness"), (TF.adjust_contrast, "contrast"),
           (TF.adjust_saturation, "saturation"), (TF.adjust_hue, "hue")]
    ref = x.clone()
    for i in range(len(x)):
        for k in order:
            fn, name = fns[k]
            ref[i] = fn(ref[i], float(params[name][i]))
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("k", [3, 5, 9])
def test_blur_matches_torchvision(k):
    x = images(h=12, w=16)
    sigma = torch.tensor([0.1, 0.5, 1.0, 1.7, 2.0, 3.0])
    ref = per_image(lambda im, s: TF.gaussian_blur(im, [k, k], [float(s), float(s)]), x, sigma)
    torch.testing.assert_close(GaussianBlur(k).apply(x, sigma=sigma), ref, atol=ATOL, rtol=0)


def test_noise_matches_torchvision_with_the_same_seed():
    x = images()
    torch.manual_seed(3)
    ref = TF.gaussian_noise(x, mean=0.0, sigma=0.2, clip=True)
    torch.manual_seed(3)
    op = GaussianNoise(std=0.2)
    torch.testing.assert_close(op.apply(x, **op.sample_params(x)), ref, atol=1e-6, rtol=0)
