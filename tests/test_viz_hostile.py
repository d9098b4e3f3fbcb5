"""Hostile inputs to sslteach.viz: each bad call fails with a message that says what to do, or the
case is handled correctly. Fast: every bad t-SNE input is refused before openTSNE runs."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sslteach import viz  # noqa: E402
from sslteach.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- show_images ---------------------------------------------------------------------------------

@pytest.mark.parametrize("x,error,match", [
    (torch.rand(0, 3, 8, 8), ValueError, "at least one image"),
    (torch.rand(2, 3, 8, 8) * 255, ValueError, "divide 0-255 images by 255"),   # was: all white
    (torch.full((2, 3, 8, 8), float("nan")), ValueError, "nan_to_num"),        # was: blank squares
    (torch.rand(2, 8, 8, 3), ValueError, r"permute\(0, 3, 1, 2\)"),
    (torch.rand(8, 8), ValueError, r"\(N, C, H, W\)"),
    (torch.randint(0, 255, (2, 3, 8, 8)), TypeError, r"x\.float\(\) / 255"),   # int64, not uint8
    ([torch.rand(3, 8, 8)], TypeError, r"torch\.stack"),
])
def test_show_images_refuses_bad_images(x, error, match):
    with pytest.raises(error, match=match):
        viz.show_images(x)


def test_show_images_refuses_mismatched_titles_axes_and_layout():
    x = torch.rand(4, 3, 8, 8)
    with pytest.raises(ValueError, match="one title per image"):
        viz.show_images(x, titles=["a", "b"])                   # was: IndexError
    _, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="leave axes out"):
        viz.show_images(x, axes=axes)                           # was: images 3 and 4 silently dropped
    with pytest.raises(ValueError, match="images per row"):
        viz.show_images(x, ncols=0)
    with pytest.raises(ValueError, match="inches per image"):
        viz.show_images(x, size=-1)


def test_show_images_handles_one_image_and_numpy_uint8():
    assert len(viz.show_images(torch.rand(3, 8, 8)).axes) == 1
    x = np.full((2, 1, 4, 4), 255, dtype=np.uint8)
    fig = viz.show_images(x)
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_array().max() == 1.0


# ---- plot_history --------------------------------------------------------------------------------

def test_plot_history_refuses_missing_keys_and_other_objects():
    h = History()
    h.add(h.epoch, {"loss": 1.0})
    with pytest.raises(KeyError, match=r"it has \['loss'\]: pass keys= from those"):
        viz.plot_history(h, "acc")
    with pytest.raises(KeyError, match="per step"):
        viz.plot_history(h, "loss", per_step=True)
    with pytest.raises(ValueError, match="keys='loss'"):
        viz.plot_history(h, keys=())
    with pytest.raises(TypeError, match=r"fit\(\.\.\.\) returns"):
        viz.plot_history({"loss": [1.0, 0.5]})


# ---- tsne ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("features,match", [
    (torch.randn(50), r"features\[:, None\]"),
    (torch.randn(3, 4), "pass at least 5 points"),
    (torch.randn(6, 0), "D >= 1"),
    (torch.rand(6, 3, 8, 8), r"flatten\(1\)"),
    (torch.full((6, 4), float("nan")), "drop those rows"),
])
def test_tsne_refuses_bad_features(features, match):
    with pytest.raises(ValueError, match=match):
        viz.tsne(features)


@pytest.mark.parametrize("perplexity,error", [(0, ValueError), (-5, ValueError), (float("nan"), ValueError),
                                              (True, TypeError)])
def test_tsne_refuses_bad_perplexity(perplexity, error):
    with pytest.raises(error, match="typical values 5 to 50"):
        viz.tsne(torch.randn(10, 4), perplexity=perplexity)


# ---- plot_embedding / tsne_panels ----------------------------------------------------------------

@pytest.mark.parametrize("emb,labels,classes,error,match", [
    (np.zeros((4, 3)), [0, 1, 0, 1], None, ValueError, r"tsne\(features\)"),
    (np.full((4, 2), np.nan), [0, 1, 0, 1], None, ValueError, "finite features"),
    (np.zeros((4, 2)), [0, 1, 0], None, ValueError, "one class per point"),
    (np.zeros((4, 2)), [0.5, 1, 0, 1], None, TypeError, r"labels\.long\(\)"),
    (np.zeros((4, 2)), [0, -1, 0, 1], None, ValueError, "indices >= 0"),
    (np.zeros((4, 2)), [0, 1, 2, 1], ["cat", "dog"], ValueError, "one name per class"),
    (np.zeros((0, 2)), [], None, ValueError, "at least one"),
])
def test_plot_embedding_refuses_bad_inputs(emb, labels, classes, error, match):
    with pytest.raises(error, match=match):
        viz.plot_embedding(emb, labels, classes)


def test_plot_embedding_takes_tensors_and_float_labels_with_integer_values():
    emb = torch.randn(4, 2).bfloat16()                          # numpy has no bfloat16
    ax = viz.plot_embedding(emb, torch.tensor([0.0, 1.0, 0.0, 1.0]), ["cat", "dog"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog"]


def test_tsne_panels_refuses_bad_input_before_running_tsne():
    labels = torch.arange(10) % 2
    with pytest.raises(TypeError, match=r"plot_embedding\(tsne\(features\), labels\)"):
        viz.tsne_panels([torch.randn(10, 4)], labels)
    with pytest.raises(ValueError, match="at least one"):
        viz.tsne_panels({}, labels)
    with pytest.raises(ValueError, match="features of the labelled points"):
        viz.tsne_panels({"a": torch.randn(10, 4), "b": torch.randn(8, 4)}, labels)
    with pytest.raises(ValueError, match="one name per class"):
        viz.tsne_panels({"a": torch.randn(10, 4)}, labels, classes=["only one"])
