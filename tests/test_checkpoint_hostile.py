"""Hostile inputs to sslteach.checkpoint: each bad file or path fails with a message that says what
to do, or the case is handled correctly (a checkpoint and its sha256 stay consistent at every
interruption point). CPU only, tiny models, deterministic."""
import numpy as np
import pytest
import torch
from torch import nn

from sslteach import checkpoint as checkpoint_module
from sslteach.checkpoint import CheckpointError, checksum_path, load_checkpoint, save_checkpoint
from sslteach.data import sha256sum


# ---- save_checkpoint -----------------------------------------------------------------------------

def test_save_checkpoint_refuses_a_folder_or_a_file_as_parent(tmp_path):
    with pytest.raises(CheckpointError, match=r"is a folder; give a file name inside it, e.g. .*model.pt"):
        save_checkpoint(tmp_path, nn.Linear(2, 2))
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match=r"file is a file, not a folder; choose another path"):
        save_checkpoint(tmp_path / "file" / "m.pt", nn.Linear(2, 2))


def test_save_checkpoint_refuses_values_a_safe_load_cannot_read(tmp_path):
    with pytest.raises(TypeError, match=r"history\['acc'\]\[0\] is a float64: convert it \(float\(x\)"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2), history={"acc": [np.float64(0.5)]})
    assert list(tmp_path.iterdir()) == []


def pair(path):
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("failing_call", [1, 2])
def test_an_interrupted_save_never_leaves_a_stale_sidecar(tmp_path, monkeypatch, failing_call):
    path = save_checkpoint(tmp_path / "m.pt", old := nn.Linear(2, 2))
    new = nn.Linear(2, 2)
    real_replace, calls = checkpoint_module.os.replace, []

    def interrupted(src, dst):
        calls.append(1)
        if len(calls) == failing_call:
            raise KeyboardInterrupt  # a crash between the renames
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, new)
    monkeypatch.undo()
    assert pair(path) == ["m.pt"]  # a .pt without its sidecar, no temporary file
    fresh = nn.Linear(2, 2)
    load_checkpoint(path, fresh)   # read unverified, never refused as "corrupt"
    expected = old if failing_call == 1 else new
    assert torch.equal(fresh.weight, expected.weight)


def test_a_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", old := nn.Linear(2, 2))

    def broken_save(obj, f):
        open(f, "wb").write(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, nn.Linear(2, 2))
    monkeypatch.undo()
    assert pair(path) == ["m.pt", "m.pt.sha256"]  # the old pair, intact
    fresh = nn.Linear(2, 2)
    load_checkpoint(path, fresh)
    assert torch.equal(fresh.weight, old.weight)


# ---- load_checkpoint -----------------------------------------------------------------------------

def test_an_upper_case_sidecar_is_accepted(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    checksum_path(path).write_text(f"{sha256sum(path).upper()}  m.pt\n")  # sha256sum -c accepts it too
    assert "model" in load_checkpoint(path)


def test_load_checkpoint_refuses_a_folder(tmp_path):
    save_checkpoint(tmp_path / "run" / "a.pt", nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"is a folder, not a file: pass the checkpoint file itself \(it holds a.pt\)"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("content,match", [
    (b"", r"empty \(0 bytes\): a save or a copy was interrupted. Delete it"),
    (b"epoch,loss\n1,0.5\n", r"not a PyTorch checkpoint.*Check the path"),
])
def test_load_checkpoint_refuses_files_that_are_not_checkpoints(tmp_path, content, match):
    path = tmp_path / "m.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_load_checkpoint_refuses_a_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    checksum_path(path).unlink()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"not a PyTorch checkpoint, or it is damaged.*copy it again"):
        load_checkpoint(path)


def test_load_checkpoint_explains_a_refused_pickle(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"model": {}, "score": np.float64(0.5)}, path)  # NumPy objects: refused by weights_only
    with pytest.raises(CheckpointError, match=r"m.pt holds Python objects that a safe load.*weights_only=False"):
        load_checkpoint(path)


def test_load_checkpoint_refuses_a_bare_state_dict(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"bare state_dict: load it with model.load_state_dict"):
        load_checkpoint(path)


def test_load_checkpoint_into_another_architecture(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="does not fit this model's architecture.*Build the model with the settings"):
        load_checkpoint(path, nn.Linear(3, 2))
