"""Hostile inputs to sslteach.widgets: each bad call fails with a message that says what to do, or
the case is handled correctly (a slider never clamps a value silently). CPU only, fast."""
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from sslteach import widgets  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def image(size=16, seed=0):
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed))


# ---- augmentation --------------------------------------------------------------------------------

@pytest.mark.parametrize("names,error,match", [
    (["rotate"], ValueError, "choose from"),
    (None, TypeError, "list of augmentation names"),
    (["crop", 3], ValueError, "choose from"),
])
def test_augmentation_ops_refuses_unknown_names(names, error, match):
    with pytest.raises(error, match=match):
        widgets.augmentation_ops(names)


@pytest.mark.parametrize("strength,error", [(float("nan"), ValueError), (-0.5, ValueError),
                                            (float("inf"), ValueError), (True, TypeError), ("1", TypeError)])
def test_augmentation_ops_refuses_bad_strength(strength, error):
    with pytest.raises(error, match="1 = SimCLR's recipe"):
        widgets.augmentation_ops(["colour jitter"], strength)


def test_augmentation_ops_takes_one_name_as_a_string():
    # was: "crop" read letter by letter, "unknown augmentation(s) ['c', 'r', 'o', 'p']"
    assert len(widgets.augmentation_ops("crop").ops) == 1
    with pytest.raises(ValueError, match="side of the views"):
        widgets.augmentation_ops("crop", size=0)


@pytest.mark.parametrize("img,error,match", [
    (torch.rand(2, 3, 16, 16), ValueError, r"images\[0\]"),
    (torch.rand(16, 16), ValueError, r"one image \(C, H, W\)"),
    (image().tolist(), TypeError, r"tensor \(C, H, W\)"),
    (torch.full((3, 8, 8), float("nan")), ValueError, "nan_to_num"),
    (image() * 255, ValueError, "divide 0-255 images by 255"),
])
def test_augmentation_views_refuses_bad_images(img, error, match):
    with pytest.raises(error, match=match):
        widgets.augmentation_views(img, ["crop"])


def test_augmentation_views_refuses_bad_counts_and_takes_uint8():
    with pytest.raises(ValueError, match=r"n_views must be an integer >= 1, got 0; e\.g\. 8"):
        widgets.augmentation_views(image(), ["crop"], n_views=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        widgets.augmentation_views(image(), ["crop"], seed=1.5)
    u8 = (image() * 255).round().to(torch.uint8)
    views = widgets.augmentation_views(u8, [], n_views=2)     # no op: the image itself, as float
    assert torch.allclose(views, u8.float().expand(2, -1, -1, -1) / 255)
    ex = widgets.AugmentationExplorer({"cifar": u8}, n_views=2)  # notebook 02 passes uint8 CIFAR images
    assert ex.views.dtype == torch.float32 and ex.views.max() <= 1


def test_augmentation_explorer_refuses_bad_images_at_construction():
    with pytest.raises(TypeError, match=r"\{'cat': x\[0\]\}"):
        widgets.AugmentationExplorer([image()])
    with pytest.raises(ValueError, match="at least one image"):
        widgets.AugmentationExplorer({})
    with pytest.raises(ValueError, match=r"image 'b'.*images\[0\]"):
        widgets.AugmentationExplorer({"a": image(), "b": torch.rand(2, 3, 16, 16)})
    with pytest.raises(ValueError, match="e.g. 16"):
        widgets.AugmentationExplorer({"a": image()}, n_views=0)


# ---- temperature ---------------------------------------------------------------------------------

@pytest.fixture
def z():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 4, generator=g)
    return z1, z1 + 0.3 * torch.randn(6, 4, generator=g)


@pytest.mark.parametrize("tau,error", [(0.0, ValueError), (-1.0, ValueError), (100.0, ValueError),
                                       (0.001, ValueError), (float("nan"), ValueError), (True, TypeError)])
def test_temperature_explorer_refuses_tau_outside_the_slider(z, tau, error):
    # was: the log slider clamped tau silently (100 -> 10, -1 -> 0.01)
    with pytest.raises(error, match="the slider spans 0.01 to 10"):
        widgets.TemperatureExplorer(*z, tau=tau)


def test_temperature_explorer_refuses_mismatched_views(z):
    z1, z2 = z
    with pytest.raises(ValueError, match="same shape"):
        widgets.TemperatureExplorer(z1, z2[:4])
    with pytest.raises(TypeError, match=r"tensor of projections \(N, D\)"):
        widgets.TemperatureExplorer(z1.tolist(), z2)
    with pytest.raises(ValueError, match=r"torch\.cat\(\[x1, x2\]\)"):
        widgets.TemperatureExplorer(z1, z2, images=torch.rand(6, 3, 8, 8))   # N views, not 2N


@pytest.mark.parametrize("anchor,tau,error,match", [
    (0, 0.0, ValueError, "typical values 0.05 to 1"),
    (0, float("nan"), ValueError, "typical values 0.05 to 1"),
    (12, 0.5, ValueError, r"<= 11"),
    (-1, 0.5, ValueError, r"a view index in 0 \.\. 2N-1"),
    (True, 0.5, TypeError, r"a view index in 0 \.\. 2N-1"),
])
def test_temperature_summary_refuses_bad_anchor_and_tau(z, anchor, tau, error, match):
    with pytest.raises(error, match=match):
        widgets.temperature_summary(*z, anchor=anchor, tau=tau)


def test_temperature_summary_takes_a_numpy_anchor(z):
    assert widgets.temperature_summary(*z, anchor=np.int64(3), tau=0.5)["dist"].candidates.tolist() == \
        [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]


def test_hard_negative_share_refuses_a_positive_out_of_range():
    probs = torch.full((5,), 0.2)
    with pytest.raises(ValueError, match="AnchorDistribution.positive"):
        widgets.hard_negative_share(probs, positive=7)   # was: the positive counted as a negative
    with pytest.raises(ValueError, match="hardest negatives to count"):
        widgets.hard_negative_share(probs, positive=0, k=0)
    with pytest.raises(ValueError, match="anchor_distribution"):
        widgets.hard_negative_share(probs[:1], positive=0)


def test_temperature_figure_refuses_bad_taus_and_draws_uint8_views(z):
    with pytest.raises(ValueError, match="temperatures, e.g."):
        widgets.temperature_figure(*z, taus=[0.1, 0.0])
    views = torch.full((12, 3, 4, 4), 128, dtype=torch.uint8)
    fig, _ = widgets.temperature_figure(*z, images=views, taus=[0.1, 1.0])
    drawn = [a.images[0].get_array() for a in fig.axes if a.images]
    assert drawn and all(np.allclose(d, 128 / 255) for d in drawn)   # was: 0-255 clamped to white


# ---- masks ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autoencoder():
    from sslteach.autoencoder import ConvAutoencoder
    from sslteach.models import ConvEncoder

    torch.manual_seed(0)
    return ConvAutoencoder(ConvEncoder(widths=(8, 16, 16), stem_width=8))


@pytest.mark.parametrize("kind,level,error,match", [
    ("masked", 1.0, ValueError, "it is the mask ratio"),
    ("noise", -0.1, ValueError, "it is the noise std"),
    ("dropout", 1.5, ValueError, "it is the drop probability"),
    ("dropout", float("nan"), ValueError, "it is the drop probability"),
    ("blur", 0.5, ValueError, "kind must be one of"),
])
def test_corruption_preview_refuses_bad_kind_and_level(autoencoder, kind, level, error, match):
    with pytest.raises(error, match=match):
        widgets.corruption_preview(autoencoder, torch.rand(2, 3, 16, 16), kind, level)


def test_corruption_preview_refuses_bad_models_and_images(autoencoder):
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(TypeError, match=r"ConvAutoencoder\(\)"):
        widgets.corruption_preview("model", x)
    with pytest.raises(ValueError, match="ConvAutoencoder"):
        widgets.corruption_preview(nn.Conv2d(3, 1, 1), x)      # a model of the wrong output shape
    with pytest.raises(ValueError, match="patch_size of at most 8"):
        widgets.corruption_preview(autoencoder, x, "masked", 0.5, patch_size=16)
    with pytest.raises(ValueError, match="nan_to_num"):
        widgets.corruption_preview(autoencoder, torch.full((2, 3, 16, 16), float("nan")))


def test_mask_explorer_refuses_bad_settings_at_construction(autoencoder):
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="kind must be one of"):
        widgets.MaskExplorer(autoencoder, x, kind="blur")
    with pytest.raises(ValueError, match="side of a patch"):
        widgets.MaskExplorer(autoencoder, x, patch_size=0)
    with pytest.raises(ValueError, match=r"\{'name': autoencoder\}"):
        widgets.MaskExplorer({}, x)
    with pytest.raises(TypeError, match=r"ConvAutoencoder\(\)"):
        widgets.MaskExplorer({"a": "not a model"}, x)
    with pytest.raises(ValueError, match="divide 0-255 images by 255"):
        widgets.MaskExplorer(autoencoder, x * 255)


# ---- words ---------------------------------------------------------------------------------------

@pytest.fixture
def emb():
    from sslteach.embeddings import Embeddings

    words = ["king", "queen", "man", "woman", "apple"]
    return Embeddings(words, torch.randn(5, 3, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("k,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_neighbour_figure_refuses_bad_k(emb, k, error):
    with pytest.raises(error, match="number of neighbours to show"):
        widgets.neighbour_figure(emb, "king", k=k)


def test_neighbour_figure_refuses_bad_words_and_caps_k(emb):
    with pytest.raises(KeyError, match="Did you mean 'queen'"):
        widgets.neighbour_figure(emb, "qeen")
    with pytest.raises(TypeError, match=r"emb\.most_similar\(vector, k\)"):
        widgets.neighbour_figure(emb, emb["king"])
    with pytest.raises(TypeError, match=r"Embeddings\(words, vectors\)"):
        widgets.neighbour_figure({"king": [1, 0]}, "king")
    _, neighbours = widgets.neighbour_figure(emb, "king", k=50)   # more than the vocabulary: all others
    assert sorted(w for w, _ in neighbours) == ["apple", "man", "queen", "woman"]


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(k=0), ValueError, "the slider spans 1 to 30 neighbours"),
    (dict(k=31), ValueError, "the slider spans 1 to 30 neighbours"),      # was: clamped to 30 silently
    (dict(k=2.5), TypeError, "the slider spans 1 to 30 neighbours"),
    (dict(k=2, word=3), TypeError, "None for the most frequent word"),
    (dict(k=2, suggestions=-1), ValueError, "frequent words the text box offers"),
])
def test_word_neighbours_refuses_bad_settings(emb, kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.WordNeighbours(emb, **kwargs)


def test_word_neighbours_shows_every_other_word_of_a_small_vocabulary(emb):
    ex = widgets.WordNeighbours(emb, k=10, word="king")        # 5 words: 4 neighbours at most
    assert ex.k.value == 4 and len(ex.neighbours) == 4


# ---- PNG helpers ---------------------------------------------------------------------------------

def test_png_of_images_reads_uint8_and_refuses_bad_input():
    from PIL import Image

    png = widgets.png_of_images(torch.full((1, 3, 4, 4), 100, dtype=torch.uint8), ncols=1)
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    assert (pixels[2:6, 2:6] == 100).all()                     # was: 0-255 clamped to white (255)
    with pytest.raises(ValueError, match="images per row"):
        widgets.png_of_images(torch.rand(2, 3, 4, 4), ncols=0)
    with pytest.raises(TypeError, match=r"ax\.figure"):
        widgets.png_of_figure(plt.subplots()[1])


def test_every_op_works_at_the_ends_of_the_strength_slider():
    # was: cutout at strength 0 asked for a square of side 0 and the explorer's redraw raised
    img = torch.rand(3, 24, 24)
    for op in widgets.augmentation.OPS:
        for strength in (0.0, 1.5):
            v = widgets.augmentation_views(img, (op,), strength, n_views=3)
            assert v.shape == (3, 3, 24, 24) and 0 <= v.min() and v.max() <= 1
    assert torch.equal(widgets.augmentation_views(img, ("cutout",), 0.0, n_views=3), img.expand(3, -1, -1, -1))
