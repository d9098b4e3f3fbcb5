import random

import numpy as np
import pytest
import torch

from sslteach import utils


def test_set_seed_reproduces_identical_numbers():
    def draw():
        return random.random(), np.random.rand(3).tolist(), torch.randn(3).tolist()

    utils.set_seed(123)
    first = draw()
    utils.set_seed(123)
    assert draw() == first
    utils.set_seed(124)
    assert draw() != first


def test_get_device(monkeypatch):
    monkeypatch.delenv("SSLTEACH_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    dev = utils.get_device()
    assert isinstance(dev, torch.device)
    if expected:
        assert dev.type == expected
    assert utils.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("SSLTEACH_DEVICE", "cpu")
    assert utils.get_device() == torch.device("cpu")


@pytest.mark.parametrize("value,expected", [("1", True), ("0", False), ("", False), ("true", True)])
def test_quick_mode(monkeypatch, value, expected):
    monkeypatch.setenv("SSLTEACH_QUICK", value)
    assert utils.quick_mode() is expected


def test_quick_mode_rejects_typos(monkeypatch):
    monkeypatch.setenv("SSLTEACH_QUICK", "yes please")
    with pytest.raises(ValueError, match="SSLTEACH_QUICK must be"):
        utils.quick_mode()
