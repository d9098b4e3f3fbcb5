"""Hostile inputs to sslteach.rotation: each bad call fails with a message that says what to do,
or the case is handled correctly. CPU only, no training beyond one step of a tiny encoder."""
import pytest
import torch
from torch import nn

from sslteach.models import ConvEncoder
from sslteach.rotation import (RotNet, circular_mask, probe_blocks, rotate, rotate_batch,
                               rotation_accuracy, rotation_predictions, rotation_step)


def tiny_encoder():
    return ConvEncoder(widths=(8, 16, 16), stem_width=8)


def images(n=2, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RotNet(tiny_encoder(), k=4, hidden_dim=8)


# ---- rotate_batch / rotate -----------------------------------------------------------------------

@pytest.mark.parametrize("k,error", [(1, ValueError), (0, ValueError), (-4, ValueError),
                                     (4.0, TypeError), (True, TypeError), (float("nan"), TypeError),
                                     ("4", TypeError)])
def test_rotate_batch_refuses_bad_k(k, error):
    with pytest.raises(error, match="use k=4"):
        rotate_batch(images(), k=k)


@pytest.mark.parametrize("x,match", [
    (torch.rand(0, 3, 8, 8), "at least one image"),
    (torch.full((2, 3, 8, 8), float("nan")), "nan_to_num"),
    (torch.rand(2, 3, 8, 8) * 255, "divide 0-255 images by 255"),
    (torch.rand(3, 8, 8), r"x\.unsqueeze\(0\)"),
    (torch.rand(2, 8, 8, 3), r"permute\(0, 3, 1, 2\)"),
])
def test_rotate_batch_refuses_bad_images(x, match):
    with pytest.raises(ValueError, match=match):
        rotate_batch(x, k=4)


def test_rotate_batch_refuses_non_square_for_quarter_turns_and_a_bad_mask_flag():
    with pytest.raises(ValueError, match="crop them square or use k=2"):
        rotate_batch(torch.rand(2, 3, 8, 12), k=4)
    with pytest.raises(TypeError, match="True, False or None"):
        rotate_batch(images(), k=4, mask="yes")


def test_rotate_batch_handles_a_batch_of_one():
    x = images(1)
    x_rot, labels = rotate_batch(x, k=4)
    assert x_rot.shape == (4, 3, 16, 16) and labels.tolist() == [0, 1, 2, 3]
    assert torch.equal(x_rot[1], torch.rot90(x[0], 1, dims=(1, 2)))


@pytest.mark.parametrize("angle,error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                         (True, TypeError), ("90", TypeError), (None, TypeError)])
def test_rotate_refuses_bad_angles(angle, error):
    with pytest.raises(error, match="in degrees"):
        rotate(images(), angle)


def test_rotate_checks_images_and_handles_non_square_quarter_turns():
    with pytest.raises(ValueError, match="crop or resize"):
        rotate(torch.rand(2, 3, 8, 12), 45)
    with pytest.raises(ValueError, match="nan_to_num"):
        rotate(torch.full((1, 3, 8, 8), float("nan")), 90)
    assert rotate(torch.rand(2, 3, 8, 12), 90).shape == (2, 3, 12, 8)  # documented: H and W swap


@pytest.mark.parametrize("h,w,error", [(0, 8, ValueError), (8, -3, ValueError), (4.5, 8, TypeError),
                                       (True, 8, TypeError)])
def test_circular_mask_refuses_bad_sizes(h, w, error):
    with pytest.raises(error, match=r"x\.shape"):
        circular_mask(h, w)


# ---- RotNet and the step -------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(k=1), ValueError, "use k=4"),
    (dict(k=4.0), TypeError, "use k=4"),
    (dict(hidden_dim=-1), ValueError, r"None \(or 0\)"),
    (dict(hidden_dim=2.5), TypeError, r"None \(or 0\)"),
    (dict(encoder=nn.Linear(3, 3)), TypeError, r"ConvEncoder\(\)"),
])
def test_rotnet_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        RotNet(**{"encoder": tiny_encoder(), **kwargs})


def test_rotnet_hidden_dim_zero_is_one_linear_layer():
    layers = list(RotNet(tiny_encoder(), k=4, hidden_dim=0).head.net)
    assert len(layers) == 1 and isinstance(layers[0], nn.Linear)


def test_rotation_step_checks_k_early_and_the_model(model):
    with pytest.raises(ValueError, match="use k=4"):
        rotation_step(k=1)                                   # at construction, not at the first batch
    with pytest.raises(ValueError, match=r"RotNet\(k=8\)"):
        rotation_step(k=8)(model, images())
    with pytest.raises(TypeError, match=r"RotNet\(encoder, k=4\)"):
        rotation_step()(tiny_encoder(), images())


def test_rotation_step_on_a_batch_of_one_image(model):
    loss, extra = rotation_step()(model, (images(1) * 255).to(torch.uint8))  # 1 image -> 4 copies
    assert torch.isfinite(loss) and 0 <= extra["acc"] <= 1


# ---- predictions, accuracy, probes ---------------------------------------------------------------

@pytest.mark.parametrize("fn", [rotation_predictions, rotation_accuracy])
def test_predictions_and_accuracy_refuse_bad_inputs(model, fn):
    with pytest.raises(ValueError, match=r"leave k out, or train a RotNet\(k=2\)"):
        fn(model, images(), k=2, device="cpu")
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        fn(model, torch.rand(0, 3, 16, 16), device="cpu")
    with pytest.raises(ValueError, match="images per forward pass"):
        fn(model, images(), batch_size=0, device="cpu")
    with pytest.raises(TypeError, match=r"torch\.stack"):
        fn(model, [images(1)[0]], device="cpu")


def test_predictions_for_a_single_image(model):
    probs = rotation_predictions(model, images(1), device="cpu")
    assert probs.shape == (1, 4, 4) and torch.allclose(probs.sum(-1), torch.ones(1, 4), atol=1e-5)


@pytest.fixture(scope="module")
def probe_data():
    y = torch.arange(12) % 2
    return images(12), y, images(4, seed=1), torch.arange(4) % 2


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(labels_per_class=0), ValueError, "None for every training label"),
    (dict(labels_per_class=2.5), TypeError, "None for every training label"),
    (dict(labels_per_class=7), ValueError, "use labels_per_class <= 6"),
    (dict(knn_k=0), ValueError, "neighbours that vote"),
    (dict(max_features=True), TypeError, "widest block"),
    (dict(batch_size=0), ValueError, "images per forward pass"),
])
def test_probe_blocks_refuses_bad_arguments(probe_data, kwargs, error, match):
    train_x, train_y, test_x, test_y = probe_data
    with pytest.raises(error, match=match):
        probe_blocks(tiny_encoder(), train_x, train_y, test_x, test_y, device="cpu", **kwargs)


def test_probe_blocks_refuses_mismatched_labels_and_non_encoders(probe_data):
    train_x, train_y, test_x, test_y = probe_data
    with pytest.raises(ValueError, match=r"one label per train image: expected shape \(12,\)"):
        probe_blocks(tiny_encoder(), train_x, train_y[:10], test_x, test_y, device="cpu")
    with pytest.raises(ValueError, match="one label per test image"):
        probe_blocks(tiny_encoder(), train_x, train_y, test_x, test_y[:, None], device="cpu")
    with pytest.raises(TypeError, match="sslteach Encoder"):
        probe_blocks(nn.Linear(3, 3), train_x, train_y, test_x, test_y, device="cpu")
