"""Tests for sslteach.randomop, the machinery every op shares: parameters drawn per image, one seed
giving one output, and the probability p applied per image."""
import torch

from sslteach.augment import Cutout, RandomHorizontalFlip, RandomResizedCrop, simclr_augment
from sslteach.photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale


def images(n=6, c=3, h=20, w=24, dtype=torch.float32, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def all_ops(size=20):
    return [RandomResizedCrop(size, p=1.0), RandomHorizontalFlip(p=1.0), ColorJitter(0.8, 0.8, 0.8, 0.2, p=1.0),
            RandomGrayscale(p=1.0), GaussianBlur(5, p=1.0), GaussianNoise(0.1, p=1.0), Cutout(p=1.0)]


# ---- randomness: per image, seeded, probability p ----

def test_identical_images_get_different_outputs():
    torch.manual_seed(0)  # op(x) draws from the global generator: fix it, whatever the tests before left there
    x = images(n=1, h=16, w=16).expand(8, -1, -1, -1).contiguous()  # 8 copies of one image
    for op in all_ops(size=16):
        if isinstance(op, (RandomHorizontalFlip, RandomGrayscale)):
            continue  # no parameters: with p = 1 every copy changes the same way
        out = op(x)
        assert not torch.allclose(out[0], out[1:].mean(0)), op
        assert len({tuple(o.flatten()[:50].tolist()) for o in out}) > 4, op
    flipped = RandomHorizontalFlip(p=0.5)(x, torch.Generator().manual_seed(7))
    assert len({bool(torch.equal(o, x[0])) for o in flipped}) == 2  # some flipped, some not


def test_same_seed_same_output_and_different_seed_different_output():
    x = images()
    aug = simclr_augment(20, blur=True)
    a = aug(x, torch.Generator().manual_seed(8))
    b = aug(x, torch.Generator().manual_seed(8))
    c = aug(x, torch.Generator().manual_seed(9))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_p0_is_identity_and_p1_always_applies():
    x = images()
    for op in all_ops():
        op.p = 0.0
        out = op(x)
        expected = RandomResizedCrop(20).apply(x, 0, 0, 20, 24) if isinstance(op, RandomResizedCrop) else x
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert torch.equal(RandomHorizontalFlip(p=1.0)(x), x.flip(-1))
    gray = RandomGrayscale(p=1.0)(x)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    assert (Cutout(size=0.3, value=0.0, p=1.0)(x + 0.5 * (x == 0)) == 0).flatten(1).any(1).all()


def test_probability_is_per_image():
    x = images(n=2000, h=4, w=4)
    flipped = (RandomHorizontalFlip(p=0.3)(x, torch.Generator().manual_seed(10)) != x).flatten(1).any(1)
    assert abs(flipped.float().mean().item() - 0.3) < 0.05
