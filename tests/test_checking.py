"""The engine behind every exercise check (sslteach.checking) reports a crashing answer with the line
that crashed, and an unwritten stub as not written yet, never raising either."""
import pytest

import sslteach as st

CHECKS = ["knn_accuracy", "grayscale", "brightness", "info_nce", "alignment", "uniformity", "rotate_batch",
          "masked_mse", "sgns_loss", "extract_features"]


def check(name):
    return getattr(st.exercises, f"check_{name}")


@pytest.mark.parametrize("name", CHECKS)
def test_crashing_answer_is_reported_not_raised(name):
    def crashes(*args):
        return 1 / 0

    result = check(name)(crashes)
    assert not result.passed
    assert "raised ZeroDivisionError on input 1 of " in result.message
    assert "return 1 / 0" in result.message  # the line that crashed


@pytest.mark.parametrize("name", CHECKS)
def test_unwritten_stub_says_not_written_yet(name):
    def stub(*args):
        raise NotImplementedError  # your code here

    result = check(name)(stub)
    assert not result.passed
    assert "not written yet: replace `raise NotImplementedError` in the cell above" in result.message
