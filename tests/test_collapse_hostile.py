"""Hostile inputs to sslteach.collapse: what is not a batch of vectors is refused with an error that says
how to fix it; any scale, all-zero outputs, bfloat16 and D = 1 are computed correctly."""
import pytest
import torch

from sslteach.collapse import effective_rank, output_std, singular_values


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---- bad arguments: the message names the argument and the fix -----------------------------------

def test_nan_outputs_are_refused_with_a_hint():
    z = torch.randn(4, 3)
    z[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        output_std(z)


def test_batch_statistics_need_two_rows():
    with pytest.raises(ValueError, match="N >= 2 rows .a standard deviation"):
        output_std(torch.randn(1, 4))


@pytest.mark.parametrize("bad, error, words", [
    (torch.randn(4), ValueError, "2-D tensor"), (torch.ones(4, 3, dtype=torch.long), TypeError, r"\.float\(\)"),
    ([[1.0, 2.0]], TypeError, "torch.as_tensor"), (torch.randn(4, 0), ValueError, "at least D = 1")])
def test_diagnostics_refuse_what_is_not_a_batch_of_vectors(bad, error, words):
    for fn in (singular_values, effective_rank, output_std):
        with pytest.raises(error, match=words):
            fn(bad)


# ---- computed correctly: any scale, zero rows, tiny D --------------------------------------------------

@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_output_std_does_not_depend_on_the_scale_of_the_rows(scale):
    z1 = randn(6, 5, seed=2)
    assert output_std(z1 * scale).item() == pytest.approx(output_std(z1).item(), abs=1e-6)


def test_zero_outputs_give_zero():
    assert output_std(torch.zeros(4, 3)).item() == 0 and effective_rank(torch.zeros(4, 3)).item() == 0


def test_bfloat16_inputs_give_float32_values():
    z1 = randn(8, 6, seed=1).bfloat16()
    assert singular_values(z1).dtype == torch.float32


def test_one_dimensional_outputs():
    z1 = randn(6, 1, seed=1)
    assert effective_rank(z1).item() == pytest.approx(1)
    assert output_std(z1).item() > 0                                      # signs differ across rows
