"""The collapse switchboard (notebook 08): its settings, the grid's names, its figure, and every control
changing what it shows (a synthetic grid stands in for the shipped one; one real live run in quick mode)."""
import math

import matplotlib.pyplot as plt
import pytest

from sslteach import widgets
from sslteach.sweeps import Sweep
from sslteach.widgets import collapse


def fake_result(setting: dict, steps: int = 6) -> dict:
    """Curves that differ with every switch and value, so each setting draws its own picture."""
    k = 1 + collapse.LRS.index(setting["lr"]) + 4 * collapse.WEIGHT_DECAYS.index(setting["weight_decay"])
    end = 0.02 if not setting["stop_gradient"] else 0.3 + 0.1 * setting["predictor"] + 0.2 * setting["momentum"]
    return {"loss": [-1 + (1 - i / steps) / k for i in range(steps)],
            "std": [1 - (1 - end) * i / (steps - 1) for i in range(steps)],
            "erank": [80 / (1 + i * k / 8) for i in range(steps)], "knn": 0.3 + 0.01 * k,
            "knn random init": 0.32, "seconds": 1.0}


@pytest.fixture
def grid():
    results = {collapse.condition_name(**s): {m: [v] for m, v in collapse.to_metrics(fake_result(s)).items()}
               for s in collapse.grid_settings()}
    return Sweep({"name": collapse.GRID, "results": results})


def test_switches_pick_the_method_and_keep_the_short_run():
    assert collapse.switch_recipe(momentum=True) == ("byol", dict(collapse.SHORT, stop_gradient=True, predictor=True,
                                                                  lr=collapse.DEFAULT_LR, weight_decay=collapse.DEFAULT_WD))
    method, over = collapse.switch_recipe(stop_gradient=False, predictor=False, lr=0.01, weight_decay=0.1, quick=True)
    assert method == "simsiam" and "epochs" not in over and over["lr"] == 0.01   # quick: the quick recipe's size
    with pytest.raises(ValueError, match="nothing to stop"):
        collapse.switch_recipe(stop_gradient=False, momentum=True)
    with pytest.raises(TypeError, match="predictor must be True or False"):
        collapse.switch_recipe(predictor=1)


def test_grid_has_every_valid_setting_once():
    settings = collapse.grid_settings()
    names = {collapse.condition_name(**s) for s in settings}
    assert len(settings) == len(names) == 6 * len(collapse.LRS) * len(collapse.WEIGHT_DECAYS)
    assert not any(s["momentum"] and not s["stop_gradient"] for s in settings)
    assert collapse.condition_name() == "SimSiam, stop-gradient on, predictor on, lr 0.003, wd 0.0001"


def test_metrics_round_trip():
    r = fake_result(collapse.grid_settings()[0], steps=12)
    back = collapse.from_metrics({k: [v] for k, v in collapse.to_metrics(r).items()})
    assert back == r


def test_verdict_names_the_kind_of_collapse():
    r = fake_result(dict(stop_gradient=False, predictor=True, momentum=False, lr=3e-3, weight_decay=1e-4))
    assert collapse.verdict(r).startswith("complete collapse")
    assert collapse.verdict(dict(r, std=[0.6], erank=[4.0])).startswith("spread along few directions")
    assert collapse.verdict(dict(r, std=[0.9], erank=[40.0])).startswith("spread out")


def test_figure_scales_the_spread_panel_from_zero_to_above_one():
    r = fake_result(collapse.grid_settings()[0])
    fig = collapse.switchboard_figure(r, dict(r, std=[1.5] * 6), title="x")
    lo, hi = fig.axes[1].get_ylim()
    assert lo == 0 and 1.5 <= hi <= 1.5 * 1.11
    assert len(fig.axes[0].lines) == 3            # stored, live, and the minimum -1
    plt.close(fig)
    empty = collapse.switchboard_figure(None, None, title="nothing")
    assert any("train live" in t.get_text() for t in empty.axes[0].texts)
    plt.close(empty)


def test_every_control_changes_the_picture_and_the_text(grid):
    board = widgets.CollapseSwitchboard(grid)
    assert board.picture.value[:4] == b"\x89PNG" and "stored" in board.readout.value
    for control, value in ((board.lr, 0.01), (board.weight_decay, 0.1), (board.predictor, False),
                           (board.stop_gradient, False), (board.momentum, True)):
        picture, text = board.picture.value, board.readout.value
        control.value = value
        assert board.picture.value != picture and board.readout.value != text, control.description
    assert board.stored == fake_result(board.setting())
    for control in (board.stop_gradient, board.predictor, board.momentum, board.lr, board.weight_decay, board.train):
        assert control.description                  # how the browser test and a reader find it


def test_momentum_switches_stop_gradient_on_and_greys_it_out(grid):
    board = widgets.CollapseSwitchboard(grid)
    board.stop_gradient.value = False
    board.momentum.value = True
    assert board.stop_gradient.value and board.stop_gradient.disabled
    assert board.setting()["momentum"] and "BYOL" in board.readout.value or board.stored is not None
    board.momentum.value = False
    assert not board.stop_gradient.disabled


def test_without_a_grid_it_asks_for_a_live_run_and_draws_it(monkeypatch):
    calls = []

    def fake_run(**kwargs):
        calls.append(kwargs)
        return fake_result(kwargs)

    monkeypatch.setattr(collapse, "collapse_run", fake_run)
    board = widgets.CollapseSwitchboard(None, quick=True)
    assert "no stored run" in board.readout.value and "no grid loaded" in board.readout.value
    before = board.picture.value
    board.train.click()                             # the button trains the current setting
    assert len(calls) == 1 and calls[0]["quick"] is True and calls[0]["stop_gradient"] is True
    assert board.picture.value != before and "<b>live</b>" in board.readout.value
    assert not board.train.disabled and board.train.description == "train live"


def test_a_grid_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="load_sweep"):
        widgets.CollapseSwitchboard({"results": {}})


def test_a_real_quick_live_run_gives_curves_per_step():
    r = collapse.collapse_run(stop_gradient=False, quick=True, device="cpu")
    n = len(r["loss"])
    assert n >= 1 and len(r["std"]) == len(r["erank"]) == n
    assert all(math.isfinite(v) for v in r["loss"] + r["std"] + r["erank"])
    assert -1 <= r["loss"][-1] <= 1 and 0 <= r["knn"] <= 1 and 0 <= r["knn random init"] <= 1


def test_grid_summary_shows_every_setting_once(grid):
    for metric in ("std", "knn"):
        fig = collapse.grid_summary_figure(grid, metric)
        heatmaps = fig.axes[:len(collapse.WEIGHT_DECAYS)]
        cells = sum(len(ax.texts) for ax in heatmaps)
        assert cells == len(collapse.grid_settings())
        plt.close(fig)
    settings = dict(stop_gradient=False, predictor=True, momentum=False, lr=collapse.LRS[0], weight_decay=collapse.WEIGHT_DECAYS[0])
    fig = collapse.grid_summary_figure(grid, "std")
    row = [label[0] for label in collapse.SWITCH_ROWS].index("no stop-gradient")
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in fig.axes[0].texts}
    assert texts[row, 0] == f"{fake_result(settings)['std'][-1]:.2f}"
    plt.close(fig)
    with pytest.raises(ValueError, match="'std' or 'knn'"):
        collapse.grid_summary_figure(grid, "loss")
