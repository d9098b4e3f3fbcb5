import pytest
import torch

from sslteach import widgets


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return {"a": torch.rand(3, 40, 48, generator=g), "b": torch.rand(3, 32, 32, generator=g)}


def test_augmentation_views_shapes_and_reproducibility(images):
    v = widgets.augmentation_views(images["a"], ("crop", "colour jitter"), 1.0, n_views=6, seed=3)
    assert v.shape == (6, 3, 40, 40) and 0 <= v.min() and v.max() <= 1
    assert torch.equal(v, widgets.augmentation_views(images["a"], ("crop", "colour jitter"), 1.0, 6, seed=3))
    assert not torch.equal(v[0], v[1])  # every view has its own random parameters


def test_strength_zero_is_identity_and_strength_grows_the_change(images):
    img = images["b"]
    v0 = widgets.augmentation_views(img, ("crop", "colour jitter", "noise"), 0.0, n_views=4)
    assert torch.allclose(v0, img.expand(4, -1, -1, -1), atol=1e-5)
    weak = widgets.augmentation_views(img, ("colour jitter", "noise"), 0.2, n_views=32)
    strong = widgets.augmentation_views(img, ("colour jitter", "noise"), 1.2, n_views=32)
    assert (strong - img).abs().mean() > (weak - img).abs().mean()


def test_unknown_op_is_explained():
    with pytest.raises(ValueError, match="choose from"):
        widgets.augmentation_ops(["rotate"])


def test_explorer_redraws_when_controls_change(images):
    ex = widgets.AugmentationExplorer(images, n_views=4)
    first = ex.picture.value
    assert first[:4] == b"\x89PNG"
    ex.strength.value = 0.3
    second = ex.picture.value
    assert second != first
    ex.ops.value = ("cutout",)
    assert ex.picture.value != second and ex.views.shape == (4, 3, 40, 40)
    ex.image.value = "b"
    assert ex.views.shape == (4, 3, 32, 32)
    before = ex.picture.value
    ex.resample.click()
    assert ex.seed == 1 and ex.picture.value != before


def test_temperature_summary_concentrates_on_hardest_as_tau_falls():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(16, 8, generator=g)
    z2 = z1 + 0.8 * torch.randn(16, 8, generator=g)
    hot, cold = (widgets.temperature_summary(z1, z2, anchor=2, tau=t) for t in (5.0, 0.05))
    assert cold["hard5"] > hot["hard5"]
    assert 5 / 30 - 0.05 < hot["hard5"] < 0.35    # nearly uniform over the 30 negatives at high tau
    assert cold["hard5"] > 0.9
    probs = cold["dist"].probs
    assert torch.isclose(probs.sum(), torch.tensor(1.0))


def test_temperature_explorer_redraws_on_slider_changes():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(6, 4, generator=g)
    z2 = z1 + 0.3 * torch.randn(6, 4, generator=g)
    ex = widgets.TemperatureExplorer(z1, z2, images=torch.rand(12, 3, 8, 8, generator=g))
    first, loss = ex.picture.value, ex.info["loss"]
    ex.tau.value = 0.05
    assert ex.picture.value != first and ex.info["loss"] != loss and "0.05" in ex.readout.value
    ex.anchor.value = 7
    assert ex.info["dist"].candidates.tolist() == [i for i in range(12) if i != 7]
