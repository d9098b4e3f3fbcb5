"""Hostile input for sslteach.randomop, the checks every op shares: a probability outside [0, 1] (also
one changed after construction) and a seed where a generator goes are refused with a message that
says what to do."""
import math

import pytest
import torch

from sslteach.augment import Cutout, RandomHorizontalFlip, RandomResizedCrop, simclr_augment
from sslteach.photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale


def images(n=4, c=3, h=12, w=12, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("make", [RandomResizedCrop, RandomHorizontalFlip, ColorJitter, RandomGrayscale,
                                  GaussianBlur, GaussianNoise, Cutout])
@pytest.mark.parametrize("p,error", [(1.5, ValueError), (-0.1, ValueError), (math.nan, ValueError),
                                     ("0.5", TypeError)])
def test_every_op_refuses_a_probability_outside_0_1(make, p, error):
    with pytest.raises(error, match=r"p must be a number >= 0 and <= 1.*probability that an image is changed"):
        make(p=p)


def test_a_probability_changed_after_construction_is_checked_at_the_call():
    op = RandomHorizontalFlip()
    op.p = 2.0
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must be a number >= 0 and <= 1, got 2.0"):
        op(images())


def test_a_seed_is_not_a_generator():
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator.*torch.Generator\(\).manual_seed\(0\)"):
        simclr_augment(12)(images(), 0)
    with pytest.raises(TypeError, match=r"manual_seed\(7\)"):
        RandomResizedCrop(12)(images(), generator=7)
