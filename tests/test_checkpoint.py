"""Tests for sslteach.checkpoint: a saved model loads back, its sha256 sidecar is checked, and a
missing file or another architecture is refused."""
import pytest
import torch
from torch import nn

from sslteach.checkpoint import CheckpointError, checksum_path, load_checkpoint, save_checkpoint
from sslteach.data import sha256sum


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    save_checkpoint(tmp_path / "a.pt", nn.Linear(2, 2))
    with pytest.raises(ValueError, match="does not fit this model"):
        load_checkpoint(tmp_path / "a.pt", nn.Linear(3, 2))


def test_checkpoint_sha256_sidecar(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2), note="hi")
    digest, name = checksum_path(path).read_text().split()
    assert name == "m.pt" and digest == sha256sum(path)
    assert load_checkpoint(path)["note"] == "hi"
    torch.save({"model": nn.Linear(2, 2).state_dict()}, path)  # changed behind the sidecar's back
    with pytest.raises(CheckpointError, match=r"corrupt or was changed.*Delete both files"):
        load_checkpoint(path)
    checksum_path(path).unlink()  # without a sidecar (older checkpoints) nothing is verified
    assert "model" in load_checkpoint(path)
