"""Hostile inputs to sslteach.corruption: each bad level, fill, generator or patch size fails with a
message that says what to do, or an awkward but valid case is handled correctly. CPU only."""
import pytest
import torch

from sslteach.corruption import Corruption, add_noise, mask_patches, pixel_dropout


def images(n=2, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


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
