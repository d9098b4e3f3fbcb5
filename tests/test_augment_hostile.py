"""Hostile input for sslteach.augment: each case gives an op a bad image batch or a bad setting and
checks the error type and that the message says what was wrong and what to do; or it checks
that an awkward but valid input (a batch of one) is handled right."""
import math

import pytest
import torch

from sslteach.augment import (Compose, Cutout, RandomHorizontalFlip, RandomResizedCrop, TwoViews, simclr_augment,
                              simclr_ops)
from sslteach.photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale


def images(n=4, c=3, h=12, w=12, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def every_op():
    """Each op with p = 1, the pipelines, and TwoViews: everything a student calls on a batch."""
    return [RandomResizedCrop(12), RandomHorizontalFlip(p=1.0), ColorJitter(p=1.0), RandomGrayscale(p=1.0),
            GaussianBlur(3, p=1.0), GaussianNoise(0.1, p=1.0), Cutout(p=1.0),
            simclr_augment(12, blur=True), TwoViews(simclr_augment(12))]


OP_IDS = ["crop", "flip", "jitter", "gray", "blur", "noise", "cutout", "simclr", "two views"]


# ---- regression: NaN pixels passed the check and spread through the crop ----

@pytest.mark.parametrize("op", every_op(), ids=OP_IDS)
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_every_op_refuses_nan_and_inf_pixels(op, value):
    x = images()
    x[1, 0, 3, 4] = value
    with pytest.raises(ValueError, match=r"NaN and \d infinite value.*replace or drop those images"):
        op(x, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("op", every_op(), ids=OP_IDS)
def test_every_op_refuses_an_empty_batch(op):
    with pytest.raises(ValueError, match=r"at least one image of at least 1x1 pixels, got shape \(0, 3, 12, 12\)"):
        op(torch.rand(0, 3, 12, 12))


@pytest.mark.parametrize("op", every_op(), ids=OP_IDS)
def test_a_batch_of_one_works(op):
    out = op(images(n=1), torch.Generator().manual_seed(0))
    for view in (out if isinstance(out, tuple) else (out,)):
        assert view.shape == (1, 3, 12, 12) and torch.isfinite(view).all() and 0 <= view.min() <= view.max() <= 1


# ---- regression: simclr_augment(0) returned (N, 3, 0, 0) ----

@pytest.mark.parametrize("size,error", [(0, ValueError), (-32, ValueError), (2.5, TypeError),
                                        ("32", TypeError), (True, TypeError)])
def test_simclr_augment_refuses_a_bad_size(size, error):
    with pytest.raises(error, match=r"size must be an integer >= 1.*output side in pixels"):
        simclr_augment(size)
    with pytest.raises(error, match=r"size must be an integer >= 1"):
        simclr_ops(size)


@pytest.mark.parametrize("size,error,match", [
    (0, ValueError, r"size must be an integer >= 1, got 0; the output side in pixels"),
    ((32, 0), ValueError, r"size must be an integer >= 1, got 0"),
    ((32, 32, 3), TypeError, r"a side in pixels \(an int >= 1\) or a pair \(height, width\)"),
    (16.0, TypeError, r"size must be an integer >= 1, got 16.0"),
])
def test_crop_refuses_a_bad_size(size, error, match):
    with pytest.raises(error, match=match):
        RandomResizedCrop(size)


@pytest.mark.parametrize("make,error,match", [
    (lambda: ColorJitter(brightness=-0.4), ValueError, r"brightness must be a number >= 0.*0 leaves it out"),
    (lambda: ColorJitter(contrast=math.nan), ValueError, r"contrast must be a number >= 0, got nan"),
    (lambda: ColorJitter(hue=0.7), ValueError, r"hue must be a number >= 0 and <= 0.5.*colour wheel"),
    (lambda: ColorJitter(random_order="yes"), TypeError, r"random_order must be True or False"),
    (lambda: GaussianBlur(kernel_size=4), ValueError, r"kernel_size must be odd.*use 5"),
    (lambda: GaussianBlur(kernel_size=3.0), TypeError, r"kernel_size must be an integer >= 1.*odd width"),
    (lambda: GaussianBlur(sigma=(2.0, 0.5)), ValueError, r"low <= high.*swap them: \(0.5, 2\)"),
    (lambda: GaussianBlur(sigma=(0, 1)), ValueError, r"sigma must be a number > 0.*blur widths"),
    (lambda: GaussianBlur(sigma=1.0), TypeError, r"sigma must be a pair \(low, high\)"),
    (lambda: GaussianNoise(std=-0.1), ValueError, r"std must be a number >= 0.*noise level"),
    (lambda: GaussianNoise(std=math.inf), ValueError, r"std must be a number >= 0, got inf"),
    (lambda: Cutout(size=0), ValueError, r"size must be a number > 0 and <= 1.*fraction of the shorter"),
    (lambda: Cutout(value=2), ValueError, r"value must be a number >= 0 and <= 1.*fill colour"),
    (lambda: RandomResizedCrop(scale=(0.5, 1.5)), ValueError, r"scale must be a number > 0 and <= 1.*area fractions"),
    (lambda: RandomResizedCrop(ratio=(-1, 1)), ValueError, r"ratio must be a number > 0.*width/height"),
    (lambda: simclr_augment(32, blur="yes"), TypeError, r"blur must be True or False"),
    (lambda: simclr_augment(32, colour=math.nan), ValueError, r"colour must be a number >= 0.*None for the same"),
])
def test_bad_settings_are_explained(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("ops,match", [
    (RandomHorizontalFlip(), r"list of ops, got one op.*Compose\(\[op\]\)"),
    ([RandomHorizontalFlip], r"ops\[0\] is the class RandomHorizontalFlip.*RandomHorizontalFlip\(\)"),
    ([RandomHorizontalFlip(), "blur"], r"ops\[1\] must be an op \(a callable"),
])
def test_compose_explains_what_a_list_of_ops_is(ops, match):
    with pytest.raises(TypeError, match=match):
        Compose(ops)


def test_two_views_needs_an_op_not_a_class():
    with pytest.raises(TypeError, match=r"class RandomResizedCrop, not an op; create one: RandomResizedCrop\(\)"):
        TwoViews(RandomResizedCrop)


def test_an_empty_compose_still_checks_the_images():
    x = images()
    assert Compose([])(x) is x
    with pytest.raises(ValueError, match="divide 0-255 images by 255"):
        Compose([])(x * 255)


@pytest.mark.parametrize("box", [dict(top=0, left=0, height=0, width=5),          # no pixels: 0 / 0 = NaN
                                 dict(top=8, left=0, height=8, width=8),          # past the bottom edge
                                 dict(top=torch.tensor([0, 0, -1, 0]), left=0, height=4, width=4)])
def test_crop_apply_refuses_a_box_outside_the_image(box):
    with pytest.raises(ValueError, match=r"box \(top, left, height, width\) = .* is not inside the 12x12 image"
                                         r".*take boxes from sample_params"):
        RandomResizedCrop(6).apply(images(), **box)
