import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sslteach import viz  # noqa: E402
from sslteach.train import History  # noqa: E402


def test_tsne_shape_and_panels():
    feats = torch.randn(60, 16)
    labels = torch.arange(3).repeat(20)
    emb = viz.tsne(feats)
    assert emb.shape == (60, 2) and np.isfinite(emb).all()
    fig, embs = viz.tsne_panels({"a": feats, "b": feats * 2}, labels, ["x", "y", "z"])
    assert set(embs) == {"a", "b"} and len(fig.axes) == 2
    with pytest.raises(ValueError, match="N >= 5"):
        viz.tsne(torch.randn(3, 4))


def test_show_images_and_history():
    fig = viz.show_images(torch.rand(10, 3, 8, 8), titles=list("abcdefghij"), ncols=5)
    assert len(fig.axes) == 10
    fig = viz.show_images(torch.randint(0, 255, (2, 1, 8, 8), dtype=torch.uint8))
    assert len(fig.axes) == 2
    h = History()
    h.add(h.epoch, {"loss": 1.0})
    h.add(h.epoch, {"loss": 0.5})
    ax = viz.plot_history(h)
    assert len(ax.lines) == 1
    with pytest.raises(KeyError, match="has no"):
        viz.plot_history(h, "acc")


def test_plot_measures_draws_every_run_and_the_live_star():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sslteach.viz import plot_measures

    ax = plot_measures({"a": [0.5, 0.52, 0.54], "b": [0.6, 0.61, 0.62]}, live={"a": 0.53})
    lo, hi = ax.get_ylim()
    assert lo < 50 and hi > 62 and [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert any(line.get_marker() == "*" for line in ax.lines)
    with pytest.raises(ValueError, match="not among the measures"):
        plot_measures({"a": [0.5], "b": [0.6]}, live={"c": 0.5})
    plt.close("all")
