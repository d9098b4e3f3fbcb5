"""Tests for sslteach.augment: each geometric op against torchvision.transforms.v2.functional on fixed
parameters, every op's output (dtype, range, device), two views, simclr_augment, and the errors."""
import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslteach.augment import (Compose, Cutout, RandomHorizontalFlip, RandomResizedCrop, TwoViews, check_images,
                              simclr_augment)
from sslteach.photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale

ATOL = 1e-5  # float32 rounding; the formulas are the same


def images(n=6, c=3, h=20, w=24, dtype=torch.float32, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def per_image(fn, x, *params):
    """torchvision applied image by image, parameters taken from the i-th entry of each list."""
    return torch.stack([fn(x[i], *[p[i] for p in params]) for i in range(len(x))])


def all_ops(size=20):
    return [RandomResizedCrop(size, p=1.0), RandomHorizontalFlip(p=1.0), ColorJitter(0.8, 0.8, 0.8, 0.2, p=1.0),
            RandomGrayscale(p=1.0), GaussianBlur(5, p=1.0), GaussianNoise(0.1, p=1.0), Cutout(p=1.0)]


# ---- fixed parameters: equal to torchvision ----

@pytest.mark.parametrize("size", [(16, 16), (32, 30), (8, 12)])  # enlarge, mixed, shrink (antialias)
def test_resized_crop_matches_torchvision(size):
    x = images()  # (6, 3, 20, 24)
    box = dict(top=torch.tensor([0, 3, 5, 0, 10, 2]), left=torch.tensor([0, 4, 1, 12, 0, 7]),
               height=torch.tensor([20, 9, 15, 4, 10, 17]), width=torch.tensor([24, 11, 20, 12, 3, 15]))
    ours = RandomResizedCrop(size).apply(x, **box)
    ref = torch.stack([TF.resized_crop(x[i], *[int(box[k][i]) for k in box], list(size), antialias=True)
                       for i in range(len(x))])
    assert ours.shape == (6, 3, *size)
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_sampled_crops_follow_scale_and_ratio():
    x = images(n=500, h=32, w=32)
    op = RandomResizedCrop(32, scale=(0.2, 0.6), ratio=(0.5, 2.0))
    box = op.sample_params(x, torch.Generator().manual_seed(1))
    top, left, h, w = box["top"], box["left"], box["height"], box["width"]
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 32).all() and (left + w <= 32).all()
    area, aspect = (h * w).float() / 32 ** 2, w.float() / h
    assert area.min() > 0.15 and area.max() < 0.68  # rounding the sides moves the area a little
    assert aspect.min() > 0.4 and aspect.max() < 2.5
    assert len(torch.unique(torch.stack([top, left, h, w]), dim=1)) > 1  # not one box for the batch


def test_flip_matches_torchvision():
    x = images()
    torch.testing.assert_close(RandomHorizontalFlip().apply(x), TF.horizontal_flip(x), atol=0, rtol=0)


def test_cutout_matches_erase_and_samples_squares():
    x = images()
    box = dict(top=torch.tensor([0, 5, 19, 3, 0, 7]), left=torch.tensor([0, 2, 20, 0, 23, 9]),
               height=torch.tensor([4, 10, 1, 17, 20, 6]), width=torch.tensor([6, 3, 4, 24, 1, 6]))
    ref = torch.stack([TF.erase(x[i], *[int(box[k][i]) for k in box], torch.tensor(0.25)) for i in range(6)])
    torch.testing.assert_close(Cutout(value=0.25).apply(x, **box), ref, atol=0, rtol=0)
    box = Cutout(size=0.5).sample_params(images(n=300), torch.Generator().manual_seed(4))  # side 10 of 20
    assert (box["height"] <= 10).all() and (box["width"] <= 10).all() and (box["height"] >= 5).all()
    assert (box["top"] + box["height"] <= 20).all() and (box["left"] + box["width"] <= 24).all()
    assert ((box["height"] == 10) & (box["width"] == 10)).float().mean() > 0.3  # mostly whole squares


# ---- outputs: dtype, range, device ----

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ops_keep_dtype_shape_and_range(dtype):
    x = images(dtype=dtype, h=20, w=20)
    x[0] = 0.0  # extremes: black, white
    x[1] = 1.0
    for op in all_ops(size=20) + [simclr_augment(20, strength=2.0, blur=True)]:
        out = op(x, generator=torch.Generator().manual_seed(5))
        assert out.dtype == dtype and out.shape == x.shape and out.device == x.device, op
        assert out.min() >= 0 and out.max() <= 1, op


def test_dtype_is_kept_under_mixed_precision():
    x = images(h=20, w=20)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as inside fit(..., amp=True)
        out = simclr_augment(20, blur=True)(x)
    assert out.dtype == torch.float32


def test_one_channel_images():
    x = images(c=1)
    for op in all_ops(size=20):
        assert op(x).shape == (6, 1, 20, 20 if isinstance(op, RandomResizedCrop) else 24)
    torch.testing.assert_close(RandomGrayscale(p=1.0)(x), x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_ops_on_cuda_match_cpu_with_cpu_generator():
    x = images(h=20, w=20)
    for op in all_ops(size=20) + [simclr_augment(20, blur=True)]:
        cpu = op(x, generator=torch.Generator().manual_seed(6))
        gpu = op(x.cuda(), generator=torch.Generator().manual_seed(6))
        assert gpu.device.type == "cuda", op
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0, msg=repr(op))
    assert simclr_augment(20)(x.cuda()).device.type == "cuda"  # CUDA's own generator


# ---- two views and simclr_augment ----

def test_two_views_differ():
    x = images(h=32, w=32)
    x1, x2 = TwoViews(simclr_augment(32))(x, torch.Generator().manual_seed(11))
    assert x1.shape == x2.shape == x.shape
    assert (x1 - x2).flatten(1).abs().amax(1).min() > 0  # every image's two views differ


def test_simclr_augment_shapes_and_strength_zero():
    x = images(h=32, w=32)
    assert simclr_augment(size=24)(x).shape == (6, 3, 24, 24)
    out = simclr_augment(32, strength=0.0, blur=True)(x, torch.Generator().manual_seed(12))
    same = (out - x).flatten(1).abs().amax(1) < 1e-6  # (N,)
    mirrored = (out - x.flip(-1)).flatten(1).abs().amax(1) < 1e-6
    assert (same | mirrored).all()
    weak, strong = (simclr_augment(32, s) for s in (0.2, 1.0))
    gen = lambda: torch.Generator().manual_seed(13)
    assert (weak(x, gen()) - x).abs().mean() < (strong(x, gen()) - x).abs().mean()


@pytest.mark.parametrize("bad,error", [(-0.1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
                                       ("1", TypeError), (None, TypeError), (True, TypeError)])
def test_simclr_augment_rejects_bad_strength(bad, error):
    with pytest.raises(error, match="strength must be a number >= 0"):
        simclr_augment(32, strength=bad)


def test_simclr_augment_min_scale_sets_the_crop_area():
    assert simclr_augment(32).ops[0].scale == (0.08, 1.0)                 # SimCLR's crops
    assert simclr_augment(32, min_scale=0.2).ops[0].scale == (0.2, 1.0)
    assert simclr_augment(32, strength=0.5, min_scale=0.2).ops[0].scale == (0.2, 1.0)
    for bad, error in ((0, ValueError), (1.5, ValueError), (True, TypeError), ("0.2", TypeError)):
        with pytest.raises(error, match="min_scale"):
            simclr_augment(32, min_scale=bad)


# ---- errors a student meets ----

def test_clear_errors_for_bad_input():
    x = images()
    with pytest.raises(TypeError, match=r"x.float\(\) / 255"):
        Compose(all_ops())((x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="unsqueeze"):
        RandomHorizontalFlip()(x[0])
    with pytest.raises(ValueError, match="channels"):
        ColorJitter()(torch.rand(2, 4, 8, 8))
    with pytest.raises(ValueError, match="255"):
        simclr_augment(20)(x * 255)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        GaussianBlur()((x - 0.5) / 0.25)  # normalised with mean/std before augmenting
    with pytest.raises(TypeError, match="tensor"):
        check_images([[0.5]])
    with pytest.raises(ValueError, match="too large"):
        GaussianBlur(kernel_size=41).apply(x, sigma=1.0)


def test_clear_errors_for_bad_settings():
    for make in [lambda: RandomHorizontalFlip(p=1.5), lambda: RandomResizedCrop(scale=(0.5, 0.1)),
                 lambda: RandomResizedCrop(ratio=(0, 1)), lambda: ColorJitter(hue=0.7),
                 lambda: ColorJitter(brightness=-1), lambda: GaussianBlur(kernel_size=4),
                 lambda: GaussianBlur(sigma=(0, 1)), lambda: Cutout(size=2)]:
        with pytest.raises(ValueError):
            make()


def test_simclr_augment_colour_strength_separate_from_crops():
    aug = simclr_augment(32, colour=0.5)
    ref = simclr_augment(32)
    assert aug.ops[0].scale == ref.ops[0].scale                      # crops keep strength 1
    assert aug.ops[2].brightness == pytest.approx(0.4) and aug.ops[2].hue == pytest.approx(0.1)
    assert aug.ops[3].p == pytest.approx(0.1)
    assert simclr_augment(32, colour=0).ops[2].brightness == 0
    with pytest.raises(ValueError, match="colour"):
        simclr_augment(32, colour=-1)
