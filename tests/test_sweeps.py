"""The sweeps framework: the registry, a run written and read back, the shipped files' checks, and one
real experiment end to end in quick mode."""
import json

import pytest

import sslteach as st
from sslteach import sweeps
from sslteach.data import SHA256, DataError


@pytest.fixture
def toy(monkeypatch):
    """A registered two-condition experiment whose metric is known: 10 * seed + condition index."""
    monkeypatch.setitem(sweeps.EXPERIMENTS, "toy", None)

    @sweeps.experiment("toy", "00", "a toy", ("a", "b"), seeds=(0, 1, 2), settings={"x": 1})
    def run(condition, seed, quick, device):
        return {"acc": 0.1 * seed + ("a", "b").index(condition), "quick": float(quick)}
    return run


def test_every_experiment_names_its_notebook_and_at_least_three_draws():
    found = sweeps.experiments()
    assert {"simclr", "simclr-ablations", "rotnet", "autoencoders"} <= set(found)
    for name, exp in found.items():
        assert exp.name == name and exp.notebook.isdigit() and exp.description
        # collapse-grid only stores the switchboard's curves (one seed per setting); no conclusion rests on it
        assert len(exp.seeds) >= (1 if name == "collapse-grid" else 3), name
        assert len(set(exp.seeds)) == len(exp.seeds), name
        assert exp.what in ("seeds", "label draws") and len(exp.conditions) == len(set(exp.conditions)) >= 1


def test_run_sweep_writes_every_seed_and_load_sweep_reads_it_back(toy, tmp_path):
    out = sweeps.run_sweep("toy", seeds=[0, 1, 2], out=tmp_path / "toy.json", device="cpu", progress=False)
    record = json.loads(out.read_text())
    assert record["results"]["b"]["acc"] == pytest.approx([1.0, 1.1, 1.2])
    assert record["seeds"] == [0, 1, 2] and record["settings"] == {"x": 1} and record["quick"] is False
    assert record["command"] == "python -m sslteach sweep toy --seeds 0 1 2"
    assert not list(tmp_path.glob(".*tmp*"))                       # written through a temporary file, renamed
    back = st.load_sweep("toy", path=out)
    m = back.measure("a", "acc")
    assert m.values == pytest.approx([0.0, 0.1, 0.2]) and back.conditions == ["a", "b"]
    assert "3 seeds (0, 1, 2) of 2 conditions" in back.describe()


def test_run_sweep_refuses_bad_requests(toy, tmp_path):
    with pytest.raises(ValueError, match="no experiment named 'nope'"):
        sweeps.run_sweep("nope")
    with pytest.raises(ValueError, match="has no condition 'c'"):
        sweeps.run_sweep("toy", conditions=["c"], out=tmp_path / "t.json")
    with pytest.raises(ValueError, match="at least one seed"):
        sweeps.run_sweep("toy", seeds=[], out=tmp_path / "t.json")
    with pytest.raises(ValueError, match="must be a file path"):
        sweeps.run_sweep("toy", out=tmp_path, device="cpu", progress=False)


def test_load_sweep_refuses_what_is_not_the_named_results(toy, tmp_path, monkeypatch):
    with pytest.raises(DataError, match="not registered"):
        st.load_sweep("toy")                                      # nothing shipped under that name
    bad = tmp_path / "toy.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        st.load_sweep("toy", path=bad)
    bad.write_text(json.dumps({"name": "other", "results": {}}))
    with pytest.raises(DataError, match="not the results file of 'toy'"):
        st.load_sweep("toy", path=bad)
    with pytest.raises(FileNotFoundError, match="no results file"):
        st.load_sweep("toy", path=tmp_path / "missing.json")
    out = sweeps.run_sweep("toy", out=tmp_path / "res" / "toy.json", device="cpu", progress=False)
    monkeypatch.setenv("SSLTEACH_RESULTS", str(out.parent))
    assert st.load_sweep("toy").measure("b", "acc").values == pytest.approx([1.0, 1.1, 1.2])
    with pytest.raises(KeyError, match="no condition 'c'"):
        st.load_sweep("toy").measure("c", "acc")
    with pytest.raises(KeyError, match="measured no 'loss'"):
        st.load_sweep("toy").measure("a", "loss")


def test_every_shipped_results_file_matches_its_experiment():
    for key in (k for k in SHA256 if k.startswith("results/")):
        name = key[len("results/"):-len(".json")]
        sweep = st.load_sweep(name)                               # sha256 checked
        exp = sweeps.get(name)
        assert sweep.record["quick"] is False and sweep.record["notebook"] == exp.notebook, name
        assert set(sweep.conditions) == set(exp.conditions), name
        for condition in sweep.conditions:
            for metric in sweep.metrics(condition):
                assert len(sweep.measure(condition, metric).values) == len(sweep.record["seeds"]), (name, metric)


def test_a_real_experiment_runs_end_to_end_in_quick_mode(tmp_path):
    out = sweeps.run_sweep("simclr", seeds=[0], quick=True, out=tmp_path / "simclr.json", device="cpu",
                           progress=False)
    sweep = st.load_sweep("simclr", path=out)
    for metric in ("probe h", "probe random init", "held-out contrastive accuracy"):
        assert 0 <= sweep.measure("classroom recipe", metric).values[0] <= 1
    assert sweep.record["quick"] is True
