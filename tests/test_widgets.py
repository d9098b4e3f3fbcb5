import matplotlib.pyplot as plt
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


def test_temperature_figure_scales_the_softmax_panel_to_its_data():
    # was: a fixed 0-1 axis, on which 127 probabilities of at most 0.07 looked like an empty panel
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(64, 16, generator=g)
    z2 = z1 + torch.randn(64, 16, generator=g)
    for tau in (10.0, 0.5, 0.05):
        fig, info = widgets.temperature_figure(z1, z2, anchor=3, tau=tau, taus=[0.1, 1.0])
        ax = fig.axes[0]
        top = max(p.get_height() for p in ax.patches)
        assert abs(top - info["dist"].probs.max().item()) < 1e-6
        assert top <= ax.get_ylim()[1] <= 1.2 * max(top, 1 / 127)   # the tallest bar fills the panel
        assert any(abs(line.get_ydata()[0] - 1 / 127) < 1e-9 for line in ax.lines)   # uniform 1/(2N-1) drawn
        plt.close(fig)


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


@pytest.fixture
def tiny_embeddings():
    from sslteach.embeddings import Embeddings

    words = ["king", "queen", "man", "woman", "apple", "pear", "car"]
    vectors = torch.tensor([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [1.0, 0.2, 0.1], [0.2, 1.0, 0.1],
                            [0.0, 0.1, 1.0], [0.1, 0.0, 1.0], [-1.0, -1.0, 0.2]])
    return Embeddings(words, vectors)


def test_neighbour_figure_lists_the_k_nearest_by_cosine(tiny_embeddings):
    fig, neighbours = widgets.neighbour_figure(tiny_embeddings, "apple", k=3)
    assert [w for w, _ in neighbours][:1] == ["pear"] and len(neighbours) == 3
    sims = [s for _, s in neighbours]
    assert sims == sorted(sims, reverse=True) and "apple" not in [w for w, _ in neighbours]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [w for w, _ in neighbours]
    assert [round(p.get_width(), 5) for p in ax.patches] == [round(s, 5) for s in sims]
    plt.close(fig)
    with pytest.raises(KeyError, match="Did you mean 'apple'"):
        widgets.neighbour_figure(tiny_embeddings, "aple", k=3)


def test_word_neighbours_redraws_and_explains_unknown_words(tiny_embeddings):
    ex = widgets.WordNeighbours(tiny_embeddings, k=2, word="king")
    assert ex.k.description == "k" and ex.k.max == min(30, len(tiny_embeddings) - 1)  # at most all other words
    first = ex.picture.value
    assert first[:4] == b"\x89PNG" and [w for w, _ in ex.neighbours] == ["queen", "man"]
    ex.word.value = "Pear "                       # case and spaces are forgiven
    assert ex.neighbours[0][0] == "apple" and ex.picture.value != first
    second = ex.picture.value
    ex.k.value = 4
    assert len(ex.neighbours) == 4 and ex.picture.value != second and "apple" in ex.readout.value
    ex.word.value = "qeen"
    assert ex.neighbours == [] and "not in the vocabulary" in ex.readout.value
    assert "queen" in ex.readout.value and ex.picture.layout.display == "none"
    ex.word.value = "queen"
    assert ex.neighbours[0][0] == "king" and ex.picture.layout.display is None


def test_corruption_preview_masks_and_reconstructs():
    from sslteach.autoencoder import ConvAutoencoder
    from sslteach.models import ConvEncoder

    torch.manual_seed(0)
    model = ConvAutoencoder(ConvEncoder(widths=(8, 16), stem_width=8))
    x = torch.rand(3, 3, 16, 16)
    r = widgets.corruption_preview(model, x, "masked", 0.5, patch_size=4, seed=0)
    assert r["x_in"].shape == r["x_hat"].shape == (3, 3, 16, 16) and model.training
    assert abs((r["x_in"] == 0).float().mean().item() - 0.5) < 0.01 and r["mse_hidden"] > 0
    assert r["mse"] == pytest.approx(((r["x_hat"] - x) ** 2).mean().item())
    assert torch.equal(widgets.corruption_preview(model, x, "masked", 0.5, seed=0)["x_in"], r["x_in"])
    clean = widgets.corruption_preview(model, x, "noise", 0.0)
    assert torch.equal(clean["x_in"], x) and clean["mse_hidden"] is None
    with pytest.raises(ValueError, match="kind must be one of"):
        widgets.corruption_preview(model, x, "blur")


def test_mask_explorer_redraws_on_slider_changes():
    from sslteach.autoencoder import ConvAutoencoder
    from sslteach.models import ConvEncoder

    torch.manual_seed(0)
    models = {"a": ConvAutoencoder(ConvEncoder(widths=(8, 16), stem_width=8)),
              "b": ConvAutoencoder(ConvEncoder(widths=(8,), stem_width=4))}
    ex = widgets.MaskExplorer(models, torch.rand(4, 3, 16, 16), kind="masked")
    first = ex.picture.value
    assert first[:4] == b"\x89PNG" and "hidden" in ex.readout.value
    ex.level.value = 0.9
    assert ex.picture.value != first and (ex.result["x_in"] == 0).float().mean() > 0.85
    ex.kind.value = "noise"
    assert "hidden" not in ex.readout.value and (ex.result["x_in"] != ex.result["x"]).float().mean() > 0.5
    before = ex.result["x_hat"]
    ex.model.value = "b"
    assert not torch.equal(ex.result["x_hat"], before)
    ex.resample.click()
    assert ex.seed == 1
