"""Hostile input for sslteach.photometric: parameters given to ``apply`` directly (a blur of width 0, a
kernel larger than the image, a bad jitter order or factor) are refused with a message that says
what to do."""
import pytest
import torch

from sslteach.photometric import ColorJitter, GaussianBlur


def images(n=4, c=3, h=12, w=12, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_blur_apply_refuses_sigma_zero_and_a_kernel_too_large():
    with pytest.raises(ValueError, match=r"sigma must be > 0.*leave the blur out"):
        GaussianBlur(3).apply(images(), sigma=torch.tensor([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"kernel_size 25 is too large for 12x12 images.*kernel_size <= 23"):
        GaussianBlur(25, p=1.0)(images())


def test_color_jitter_apply_refuses_a_bad_order_and_bad_factors():
    with pytest.raises(ValueError, match=r"order must list indices 0-3"):
        ColorJitter().apply(images(), brightness=1.2, order=(0, 5))
    with pytest.raises(ValueError, match=r"brightness factor must be >= 0 for every image.*clamp"):
        ColorJitter().apply(images(), brightness=torch.tensor([1.0, -0.5, 1.0, 1.0]))
