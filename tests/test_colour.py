"""Tests for sslteach.colour: what each adjustment does at its landmark factors, per-image
factors, and the errors a student meets (bad images, bad factors). The comparison with
torchvision on many factors lives in tests/test_photometric.py."""
import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslteach.colour import (adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, per_image,
                             rgb_to_gray)

ADJUST = [adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue]


def images(n=4, c=3, h=5, w=6, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


# ---- what the factors mean ----
@pytest.mark.parametrize("fn", ADJUST)
def test_identity_factor_leaves_images_unchanged(fn):
    x = images()
    identity = 0.0 if fn is adjust_hue else 1.0
    torch.testing.assert_close(fn(x, identity), x, atol=1e-6, rtol=0)


def test_landmark_factors():
    x = images()
    assert torch.equal(adjust_brightness(x, 0.0), torch.zeros_like(x))                  # black
    flat = adjust_contrast(x, 0.0)                                                      # one gray level per image
    assert torch.allclose(flat, rgb_to_gray(x).mean(dim=(1, 2, 3), keepdim=True).expand_as(x))
    gray = adjust_saturation(x, 0.0)
    assert torch.allclose(gray, rgb_to_gray(x).expand_as(x))
    torch.testing.assert_close(adjust_hue(x, 0.5), adjust_hue(x, -0.5), atol=1e-5, rtol=0)  # half a turn either way


def test_rgb_to_gray_is_torchvisions_luma_and_keeps_gray_images():
    x = images()
    assert rgb_to_gray(x).shape == (4, 1, 5, 6)
    ref = torch.stack([TF.rgb_to_grayscale(im) for im in x])
    torch.testing.assert_close(rgb_to_gray(x), ref, atol=1e-6, rtol=0)
    g = images(c=1)
    assert rgb_to_gray(g) is g


def test_a_factor_per_image_equals_one_call_per_image():
    x = images()
    f = torch.tensor([0.2, 0.9, 1.3, 2.0])
    for fn in ADJUST[:3]:
        one_by_one = torch.cat([fn(x[i:i + 1], float(f[i])) for i in range(4)])
        torch.testing.assert_close(fn(x, f), one_by_one)
    assert per_image(f, x).shape == (4, 1, 1, 1) and per_image(0.5, x).shape == (1, 1, 1, 1)


def test_gray_images_and_a_batch_of_one():
    g = images(n=1, c=1)
    for fn in ADJUST:
        assert fn(g, 0.3 if fn is adjust_hue else 1.5).shape == (1, 1, 5, 6)
    torch.testing.assert_close(adjust_saturation(g, 2.0), g)   # no colour to saturate
    torch.testing.assert_close(adjust_hue(g, 0.3), g)


def test_outputs_stay_in_range_and_keep_dtype():
    x = images().double()
    for fn, f in zip(ADJUST, (3.0, 3.0, 3.0, 0.4)):
        out = fn(x, f)
        assert out.dtype == torch.float64 and out.min() >= 0 and out.max() <= 1


# ---- hostile input: every error names the problem and the fix ----
@pytest.mark.parametrize("fn", ADJUST + [rgb_to_gray])
@pytest.mark.parametrize("bad,error,match", [
    (images()[0], ValueError, r"\(N, C, H, W\).*unsqueeze\(0\)"),                     # one image, no batch dim
    (torch.rand(2, 4, 5, 5), ValueError, r"1 \(gray\) or 3 \(RGB\) channels.*permute"),
    ((images() * 255).to(torch.uint8), TypeError, r"float images.*x\.float\(\) / 255"),
    (images() * 255, ValueError, r"\[0, 1\].*divide 0-255 images by 255"),
    (torch.full((2, 3, 4, 4), math.nan), ValueError, r"NaN.*nan_to_num"),
    (torch.rand(0, 3, 4, 4), ValueError, r"at least one image"),
    ([[0.5]], TypeError, r"tensor of images"),
])
def test_bad_images_are_refused(fn, bad, error, match):
    args = (bad,) if fn is rgb_to_gray else (bad, 0.1)
    with pytest.raises(error, match=match):
        fn(*args)


@pytest.mark.parametrize("fn,factor,error,match", [
    (adjust_brightness, -0.5, ValueError, r"brightness factor must be a number >= 0.*1 leaves the image unchanged"),
    (adjust_brightness, math.nan, ValueError, r"brightness factor must be a number >= 0, got nan"),
    (adjust_contrast, math.inf, ValueError, r"contrast factor must be a number >= 0, got inf"),
    (adjust_saturation, torch.tensor([1.0, -1.0, 1.0, 1.0]), ValueError, r">= 0 for every image.*clamp\(min=0\)"),
    (adjust_brightness, torch.tensor([1.0, math.nan, 1.0, 1.0]), ValueError, r"1 NaN.*finite factor"),
    (adjust_hue, 0.7, ValueError, r"hue factor must be a number >= -0.5 and <= 0.5.*0 leaves"),
    (adjust_hue, torch.tensor([0.0, 0.0, 0.6, 0.0]), ValueError, r"\[-0.5, 0.5\].*clamp\(-0.5, 0.5\)"),
    (adjust_brightness, torch.ones(3), ValueError, r"one value per image \(N = 4\).*torch\.rand\(4\)"),
    (adjust_contrast, torch.ones(4, 2), ValueError, r"one value per image.*got shape \(4, 2\)"),
    (adjust_brightness, True, TypeError, r"got a bool.*pass a number"),
    (adjust_saturation, "1.5", TypeError, r"a number or an \(N,\) tensor.*got str"),
    (adjust_contrast, None, TypeError, r"a number or an \(N,\) tensor.*got NoneType"),
])
def test_bad_factors_are_refused(fn, factor, error, match):
    with pytest.raises(error, match=match):
        fn(images(), factor)
