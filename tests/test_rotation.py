import pytest
import torch
import torch.nn.functional as F

from sslteach.batches import TensorLoader
from sslteach.models import ConvEncoder
from sslteach.rotation import (RotNet, circular_mask, probe_blocks, rotate, rotate_batch,
                               rotation_accuracy, rotation_predictions, rotation_step)
from sslteach.train import fit


def smooth_images(n=3, c=3, size=32, seed=0, dtype=torch.float32):
    """Low-frequency random images (bilinear interpolation barely changes them)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, c, 4, 4, generator=g, dtype=torch.float64)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True).clamp(0, 1).to(dtype)


def tiny_encoder(c=3):
    return ConvEncoder(in_channels=c, widths=(8, 16), depth=1, stem_width=8)


@pytest.mark.parametrize("k", [2, 4])
def test_inverse_rotation_returns_original_exactly(k):
    x = torch.rand(5, 3, 8, 8)
    x_rot, labels = rotate_batch(x, k)
    assert x_rot.shape == (k * 5, 3, 8, 8) and labels.shape == (k * 5,)
    for r in range(k):
        assert torch.equal(labels[r * 5:(r + 1) * 5], torch.full((5,), r))
        back = torch.rot90(x_rot[r * 5:(r + 1) * 5], -r * 4 // k, dims=(2, 3))
        assert torch.equal(back, x)  # exact: no interpolation


def test_k4_matches_rot90_and_labels_align():
    x = torch.rand(2, 1, 6, 6)
    x_rot, labels = rotate_batch(x, 4)
    for j in range(len(x_rot)):
        r, i = divmod(j, 2)
        assert labels[j] == r
        assert torch.equal(x_rot[j], torch.rot90(x[i], r, dims=(1, 2)))


def test_k2_works_on_non_square_and_k4_refuses_it():
    x = torch.rand(2, 3, 6, 10)
    x_rot, _ = rotate_batch(x, 2)
    assert torch.equal(x_rot[2:], x.flip(2, 3))
    with pytest.raises(ValueError, match="square"):
        rotate_batch(x, 4)


def test_k8_inverse_is_close_inside_the_mask():
    x = smooth_images(3, 3, 32)
    x_rot, labels = rotate_batch(x, 8)
    assert x_rot.shape == (24, 3, 32, 32)
    mask = circular_mask(32, 32)
    inner = F.pad(circular_mask(24, 24), (4, 4, 4, 4))  # (1, 1, 32, 32): clear of the disc's edge
    for r in range(8):
        copy = x_rot[r * 3:(r + 1) * 3]
        assert (labels[r * 3:(r + 1) * 3] == r).all()
        assert (copy * (1 - mask)).abs().max() == 0  # corners blacked out on every copy
        back = rotate(copy, -45 * r)
        if r % 2 == 0:
            assert torch.equal(back, x * mask)  # multiples of 90°: still exact
        else:
            err = ((back - x).abs() * inner).sum() / (inner.sum() * 9)  # 3 images × 3 channels
            assert err < 0.01, f"rotation {45 * r}°: mean error {err:.4f} inside the mask"


def test_rotate_by_90_via_interpolation_matches_rot90():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(rotate(x, 90.0 + 1e-9), torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)


def test_mask_is_rotation_invariant():
    m = circular_mask(32, 32)
    assert torch.equal(torch.rot90(m, 1, dims=(2, 3)), m)
    assert 0.7 < m.mean() < 0.85  # about pi / 4 of the square


def test_float64_input_keeps_dtype():
    x = smooth_images(2, 3, 16, dtype=torch.float64)
    for k in (2, 4, 8):
        x_rot, labels = rotate_batch(x, k)
        assert x_rot.dtype == torch.float64 and labels.dtype == torch.int64


def test_clear_errors():
    with pytest.raises(TypeError, match="x.float"):
        rotate_batch(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rotate_batch(torch.full((1, 3, 8, 8), 255.0))
    with pytest.raises(ValueError, match="N, C, H, W"):
        rotate_batch(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="k"):
        rotate_batch(torch.rand(1, 3, 8, 8), k=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda():
    x = smooth_images(2, 3, 16).cuda()
    for k in (2, 4, 8):
        x_rot, labels = rotate_batch(x, k)
        assert x_rot.is_cuda and labels.is_cuda
        cpu_rot, _ = rotate_batch(x.cpu(), k)
        assert torch.allclose(x_rot.cpu(), cpu_rot, atol=1e-5)
    model = RotNet(tiny_encoder(), k=4).cuda()
    loss, extra = rotation_step()(model, (x * 255).to(torch.uint8))
    assert loss.is_cuda and 0 <= extra["acc"] <= 1
    assert 0 <= rotation_accuracy(model, x, device="cuda") <= 1


def test_rotnet_shapes_and_head():
    model = RotNet(tiny_encoder(), k=4)
    assert model(torch.rand(3, 3, 16, 16)).shape == (3, 4)
    linear = RotNet(tiny_encoder(), k=8, hidden_dim=None)
    layers = list(linear.head.net)  # one linear layer, no hidden layer
    assert len(layers) == 1 and isinstance(layers[0], torch.nn.Linear) and layers[0].out_features == 8
    assert RotNet().encoder.feature_dim == 256


def test_step_lowers_loss_on_tiny_set():
    torch.manual_seed(0)
    # images with a canonical "up": a top-to-bottom gradient under random smooth texture
    ramp = torch.linspace(1, 0, 16).view(1, 1, 16, 1)
    images = ((0.5 * smooth_images(32, 3, 16, seed=1) + 0.5 * ramp) * 255).to(torch.uint8)
    labels = torch.zeros(32, dtype=torch.long)  # ignored by the step
    model = RotNet(tiny_encoder(), k=4, hidden_dim=32)
    step = rotation_step()
    with torch.no_grad():
        model.eval()
        before = step(model, (images, labels))[0].item()
    history = fit(model, step, TensorLoader(images, labels, batch_size=16), torch.optim.Adam(model.parameters(), 3e-3),
                  epochs=15, device="cpu", progress=False)
    with torch.no_grad():
        after = step(model, (images, labels))[0].item()
    assert after < 0.7 * before, (before, after)
    assert history["acc"][-1] > history["acc"][0]
    acc, per_rot = rotation_accuracy(model, images, device="cpu", per_rotation=True)
    assert acc > 0.5 and len(per_rot) == 4
    assert acc == pytest.approx(sum(per_rot) / 4)


def test_one_step_gives_a_finite_loss_and_a_gradient_for_every_parameter():
    # what the old wall-clock bound stood for: a training step runs through the whole model
    torch.manual_seed(0)
    model = RotNet(tiny_encoder(), k=4, hidden_dim=16)
    images = (smooth_images(2, 3, 16) * 255).to(torch.uint8)
    loss, extra = rotation_step()(model, images)            # 2 images -> 8 rotated copies
    assert loss.ndim == 0 and torch.isfinite(loss) and 0 <= extra["acc"] <= 1
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} gets no gradient"


def test_step_rejects_mismatched_k():
    model = RotNet(tiny_encoder(), k=4)
    with pytest.raises(ValueError, match="RotNet\\(k=8\\)"):
        rotation_step(k=8)(model, torch.rand(2, 3, 8, 8))


def test_probe_blocks_one_row_per_block():
    g = torch.Generator().manual_seed(0)
    # two classes that differ in brightness: every block should separate them
    y = torch.arange(40) % 2
    x = (torch.rand(40, 3, 16, 16, generator=g) * 0.3 + 0.6 * y.view(-1, 1, 1, 1)).float()
    rows = probe_blocks(RotNet(tiny_encoder(), k=4), x[:30], y[:30], x[30:], y[30:],
                        labels_per_class=10, device="cpu")
    assert [r["block"] for r in rows] == [0, 1] and [r["dim"] for r in rows] == [8, 16]
    for r in rows:
        assert 0.8 <= r["probe"] <= 1 and 0.8 <= r["knn"] <= 1
    rows = probe_blocks(tiny_encoder(), x[:30], y[:30], x[30:], y[30:], knn=False, device="cpu")
    assert all(r["knn"] is None for r in rows)
    # on a grid: the finest g x g with C * g**2 <= 64 (maps of 8x8 and 4x4 from 16x16 images)
    rows = probe_blocks(tiny_encoder(), x[:30], y[:30], x[30:], y[30:], knn=False, device="cpu", max_features=64)
    assert [(r["grid"], r["dim"]) for r in rows] == [(2, 32), (2, 64)]
    assert all(0.8 <= r["probe"] <= 1 for r in rows)
    with pytest.raises(ValueError, match="widest block"):
        probe_blocks(tiny_encoder(), x[:30], y[:30], x[30:], y[30:], max_features=8)


def test_rotation_predictions_match_a_loop_over_rotations():
    torch.manual_seed(0)
    model = RotNet(tiny_encoder(), k=4, hidden_dim=16).eval()
    x = torch.rand(5, 3, 16, 16)
    probs = rotation_predictions(model, x, batch_size=2, device="cpu")  # batches of 2, 2, 1
    assert probs.shape == (5, 4, 4)
    assert torch.allclose(probs.sum(-1), torch.ones(5, 4), atol=1e-5)
    with torch.no_grad():
        for r in range(4):
            expected = model(torch.rot90(x, r, dims=(2, 3))).softmax(1)  # (5, 4): copy r of every image
            assert torch.allclose(probs[:, r], expected, atol=1e-5)
    hit = (probs.argmax(-1) == torch.arange(4)).float()  # (5, 4)
    acc, per_rot = rotation_accuracy(model, x, device="cpu", per_rotation=True)
    assert acc == pytest.approx(hit.mean().item())
    assert per_rot == pytest.approx(hit.mean(0).tolist())


def test_rotation_symmetric_image_cannot_be_solved():
    # a centred disc looks the same at 0, 90, 180 and 270 degrees: one prediction for all four copies
    model = RotNet(tiny_encoder(), k=4, hidden_dim=16)
    disc = circular_mask(16, 16).expand(1, 3, 16, 16) * 0.8
    probs = rotation_predictions(model, disc, device="cpu")  # (1, 4, 4)
    assert torch.allclose(probs[0], probs[0, :1].expand(4, 4), atol=1e-6)
    assert (probs.argmax(-1) == torch.arange(4)).sum() <= 1  # at most one copy right: 25 %
    with pytest.raises(ValueError, match="RotNet\\(k=2\\)"):
        rotation_predictions(model, disc, k=2)
