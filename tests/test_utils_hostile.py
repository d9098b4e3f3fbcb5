"""Hostile inputs to sslteach.utils: devices, seeds, environment variables, the shared checks. Each bad
call fails with a message that says what to do, or the case is handled correctly."""
import pytest
import torch

from sslteach import utils
from sslteach.utils import (check_finite, check_number, check_out_path, get_device, quick_mode, set_seed,
                            unit_rows)


@pytest.fixture(autouse=True)
def _no_device_env(monkeypatch):
    monkeypatch.delenv("SSLTEACH_DEVICE", raising=False)


@pytest.mark.parametrize("name", ["gpu", "", "cuda0"])
def test_get_device_refuses_names_that_are_not_devices(name):
    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps'"):
        get_device(name)


@pytest.mark.parametrize("value,match", [(3, r"got 3 \(int\); for GPU number 3 write 'cuda:3'"),
                                         (1.0, r"got 1\.0 \(float\)$"), (True, r"got True \(bool\)$")])
def test_get_device_refuses_numbers(value, match):
    with pytest.raises(TypeError, match=r"device must be a name such as 'cpu', 'cuda' or 'cuda:1'.*" + match):
        get_device(value)


def test_get_device_refuses_a_gpu_that_is_not_there():
    if not torch.cuda.is_available():
        match = r"'cuda:7' was asked for, but PyTorch sees no CUDA GPU here.*use device='cpu'"
    elif torch.cuda.device_count() <= 7:
        match = r"'cuda:7' was asked for, but this machine has \d CUDA GPU\(s\): use cuda:0"
    else:
        pytest.skip("this machine has a GPU number 7")
    with pytest.raises(ValueError, match=match):
        get_device("cuda:7")


def test_get_device_names_the_environment_variable(monkeypatch):
    monkeypatch.setenv("SSLTEACH_DEVICE", "gpu")
    with pytest.raises(ValueError, match=r"got 'gpu' \(from \$SSLTEACH_DEVICE\)"):
        get_device()


def test_get_device_forgives_spaces(monkeypatch):
    assert get_device(" cpu ") == torch.device("cpu")
    monkeypatch.setenv("SSLTEACH_DEVICE", "  ")  # blank: the best available, as if unset
    assert isinstance(get_device(), torch.device)


@pytest.mark.parametrize("seed,error,match", [
    (-1, ValueError, r"seed must be an integer >= 0 and <= 4294967295, got -1; e\.g\. set_seed\(0\)"),
    (2**32, ValueError, r"seed must be an integer >= 0"),
    (1.5, TypeError, r"seed must be an integer .*got 1\.5 \(float\)"),
    (True, TypeError, r"got True \(bool\)"),
    ("0", TypeError, r"got '0' \(str\)"),
])
def test_set_seed_refuses_what_numpy_would_refuse(seed, error, match):
    with pytest.raises(error, match=match):
        set_seed(seed)


def test_set_seed_accepts_the_largest_numpy_seed():
    set_seed(2**32 - 1)
    set_seed(torch.tensor(3))  # a one-element tensor is a number


def test_quick_mode_refuses_an_unknown_value(monkeypatch):
    monkeypatch.setenv("SSLTEACH_QUICK", "maybe")
    with pytest.raises(ValueError, match=r"SSLTEACH_QUICK must be 1 \(quick mode\) or 0 \(classroom mode\), got 'maybe'"):
        quick_mode()


@pytest.mark.parametrize("variable,fn", [("SSLTEACH_CHECKPOINTS", utils.checkpoint_dir),
                                         ("SSLTEACH_CACHE", utils.cache_dir)])
def test_a_folder_variable_pointing_at_a_file(tmp_path, monkeypatch, variable, fn):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv(variable, str(tmp_path / "f"))
    with pytest.raises(ValueError, match=rf"\${variable} must be a folder, but .*f is a file; choose another folder"):
        fn()
    monkeypatch.setenv(variable, str(tmp_path / "f" / "sub"))
    with pytest.raises(ValueError, match=r"is a file, not a folder"):
        fn()
    monkeypatch.setenv(variable, str(tmp_path / "new" / "sub"))
    assert fn().is_dir()  # created, parents too


@pytest.mark.parametrize("value,error", [(float("nan"), ValueError), (float("inf"), ValueError), ("0.5", TypeError),
                                         (False, TypeError), (torch.ones(2), TypeError), (None, TypeError)])
def test_check_number_refuses_what_is_not_a_finite_number(value, error):
    with pytest.raises(error, match=r"temperature must be a number > 0, got .*; typical values are 0.05 to 1"):
        check_number(value, "temperature", low=0, low_open=True, hint="typical values are 0.05 to 1")


def test_check_finite_counts_bad_values_and_refuses_non_tensors():
    x = torch.zeros(10)
    x[[1, 2]] = float("nan")
    x[3] = float("-inf")
    with pytest.raises(ValueError, match=r"z holds 2 NaN and 1 infinite value\(s\) out of 10: lower the lr"):
        check_finite(x, "z", "lower the lr")
    with pytest.raises(TypeError, match=r"z must be a tensor, got list; convert with torch.as_tensor"):
        check_finite([1.0], "z")


def test_check_out_path(tmp_path):
    assert check_out_path(tmp_path / "a" / "b.pt", "--out") == tmp_path / "a" / "b.pt"
    with pytest.raises(ValueError, match=r"--out must be a file path, but .* is a folder; give a file name inside"):
        check_out_path(tmp_path, "--out")
    with pytest.raises(TypeError, match=r"--out must be a path \(a str or pathlib.Path\).*got 3 \(int\)"):
        check_out_path(3, "--out")
    with pytest.raises(TypeError, match=r"got '' \(str\)"):
        check_out_path("", "--out")


def test_unit_rows_at_any_scale_and_with_zero_rows():
    z = torch.tensor([[3e30, 4e30], [0.0, 0.0], [3e-30, -4e-30]])
    u = unit_rows(z)
    assert torch.allclose(u, torch.tensor([[0.6, 0.8], [0.0, 0.0], [0.6, -0.8]]))
