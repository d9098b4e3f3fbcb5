import json

import pytest

from sslteach import findings
from sslteach.findings import Measure, audit_notebook, compare, state, within
from sslteach.utils import REPO_ROOT


def test_measure_mean_spread_and_text():
    m = Measure([0.50, 0.52, 0.54])
    assert m.n == 3 and m.mean == pytest.approx(0.52) and m.std == pytest.approx(0.02)
    assert str(m) == "52.0 ± 2.0 %" and m.low == 0.50 and m.high == 0.54
    assert str(Measure(0.3)) == "30.0 % (1 run)" and Measure(0.3).std == 0
    assert str(Measure([1.5, 2.5], unit="", digits=2)) == "2.00 ± 0.71"
    with pytest.raises(ValueError, match="at least one value"):
        Measure([])
    with pytest.raises(ValueError, match="every value of a Measure"):
        Measure([0.5, float("nan")])


def test_compare_clear_difference_and_expectation():
    f = compare({"h": [0.59, 0.60, 0.61], "z": [0.51, 0.52, 0.53]}, expect="h > z", source="SimCLR")
    assert f.holds and "Every run of h is above every run of the others" in f.text
    assert "SimCLR found h > z: **reproduced**" in f.text and "h 60.0 ± 1.0 %" in f.text
    assert "3 seeds" in f.text
    md = f._repr_markdown_()
    assert md.startswith("<!-- sslteach-finding status=holds expected=True explained=False -->")


def test_compare_overlap_is_no_clear_difference_whatever_the_means():
    f = compare({"tau 0.1": [0.50, 0.52, 0.55], "tau 0.2": [0.51, 0.53, 0.54]}, expect="tau 0.2 > tau 0.1",
                source="the paper", why_not="3 epochs instead of hundreds")
    assert f.status == findings.NO_CLEAR and "**no clear difference**" in f.text
    assert "**not reproduced here** (the numbers cannot tell)" in f.text
    assert "Why it may differ here: 3 epochs instead of hundreds" in f.text and f.explained


def test_compare_contradiction_and_best_and_equal():
    f = compare({"a": [0.1, 0.2], "b": [0.5, 0.6]}, expect="a > b", why_not="reason")
    assert f.status == findings.CONTRADICTED and "the numbers say otherwise" in f.text
    assert compare({"a": [0.9, 0.8], "b": [0.1, 0.2], "c": [0.3, 0.4]}, expect="a best").holds
    assert not compare({"a": [0.5, 0.8], "b": [0.1, 0.2], "c": [0.6, 0.7]}, expect="a best").holds
    assert compare({"a": [0.5, 0.6], "b": [0.55, 0.65]}, expect="a = b").holds
    assert compare({"a": [0.1, 0.2], "b": [0.5, 0.6]}, expect="a < b").holds
    assert compare({"a": [0.9, 0.8], "b": [0.1, 0.2], "c": [0.3, 0.4]}, expect="a > b, c").holds
    commas = {"SimCLR, batch 128": [0.5, 0.6], "SimCLR, batch 32": [0.1, 0.2]}  # names that hold a comma
    assert compare(commas, expect="SimCLR, batch 128 > SimCLR, batch 32").holds
    assert not compare(commas, expect="SimCLR, batch 32 > SimCLR, batch 128").holds


def test_compare_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="at least two named measurements"):
        compare({"a": [0.1]})
    with pytest.raises(ValueError, match="'c' is not one of the measures"):
        compare({"a": [0.1], "b": [0.2]}, expect="c > a")
    with pytest.raises(ValueError, match="expect must read"):
        compare({"a": [0.1], "b": [0.2]}, expect="a beats b")


def test_within_and_state():
    shipped = Measure([0.50, 0.52, 0.54])
    assert within(0.53, shipped, label="probe").holds
    assert within(0.495, shipped, label="probe").holds        # beyond the lowest run, within one std
    out = within(0.40, shipped, label="probe")
    assert not out.holds and "**outside**" in out.text and out.explained
    s = state("rotation accuracy 80 % > chance 25 %", holds=True, expect="far above chance", source="Gidaris et al.")
    assert s.holds and "**reproduced**" in s.text
    s = state("x", holds=False, expect="y", why_not="because")
    assert not s.holds and s.explained


def _notebook(tmp_path, markdown, outputs):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown},
             {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "run()",
              "outputs": outputs}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _md(finding):
    return [{"output_type": "display_data", "metadata": {}, "data": {"text/markdown": finding.markdown()}}]


def test_audit_passes_a_truthful_notebook(tmp_path):
    good = compare({"a": [0.6, 0.61], "b": [0.5, 0.51]}, expect="a > b")
    stream = [{"output_type": "stream", "name": "stdout", "text": "probe 59.5%\n"}]
    text = ("The probe reaches 59.5 % here. Chen et al. 2020 report 93 % with a ResNet-50. "
            "SimCLR's Table 5 (2020) reports 64 % too.")
    assert audit_notebook(_notebook(tmp_path, text, stream + _md(good))) == []


def test_audit_fails_on_a_planted_stale_sentence(tmp_path):
    stream = [{"output_type": "stream", "name": "stdout", "text": "probe 59.5%\n"}]
    problems = audit_notebook(_notebook(tmp_path, "The middle blocks come out ahead with 57.9 % here.", stream))
    assert len(problems) == 1 and "'57.9 %'" in problems[0] and "printed by no output" in problems[0]


def test_audit_fails_on_an_unexplained_failed_expectation(tmp_path):
    bad = compare({"a": [0.1, 0.2], "b": [0.5, 0.6]}, expect="a > b")   # no why_not
    problems = audit_notebook(_notebook(tmp_path, "Nothing measured here.", _md(bad)))
    assert len(problems) == 1 and "gives no reasons" in problems[0]
    explained = compare({"a": [0.1, 0.2], "b": [0.5, 0.6]}, expect="a > b", why_not="short runs")
    assert audit_notebook(_notebook(tmp_path, "Nothing measured here.", _md(explained))) == []



NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_committed_notebook_says_only_what_it_measured(path):
    # the two planted-failure tests above show that each of the audit's checks can fail
    problems = audit_notebook(path)
    assert not problems, "\n".join(problems)
