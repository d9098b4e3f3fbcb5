"""Tests for sslteach.batches: TensorLoader's batches, order and lengths."""
import pytest
import torch

from sslteach.batches import TensorLoader


def test_tensor_loader():
    x = torch.arange(10)
    loader = TensorLoader(x, batch_size=4, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert len(TensorLoader(x, batch_size=4, drop_last=True)) == 2
    same = [b.tolist() for b in TensorLoader(x, batch_size=4, seed=0)]
    assert same == [b.tolist() for b in batches]
    with pytest.raises(ValueError, match="same length"):
        TensorLoader(x, torch.arange(3))
    with pytest.raises(ValueError, match="gives no batch"):
        TensorLoader(x, batch_size=20, drop_last=True)
