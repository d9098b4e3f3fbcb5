"""Hostile inputs to sslteach.train: each bad call fails with a message that says what to do, or the
case is handled correctly (checkpoints stay consistent at every interruption point). CPU only, tiny
models, deterministic."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslteach import train as train_module
from sslteach.data import sha256sum
from sslteach.train import (CheckpointError, TensorLoader, checksum_path, cosine_schedule, fit, infer_batches,
                            load_checkpoint, save_checkpoint)


def toy(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] > 0).long()


def loss_step(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1])


def setup(lr=0.1, batch_size=8):
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    return model, TensorLoader(*toy(), batch_size=batch_size), torch.optim.SGD(model.parameters(), lr=lr)


def run_fit(step=loss_step, **kwargs):
    model, loader, opt = setup()
    args = dict(model=model, step=step, loader=loader, optimizer=opt)
    args.update(kwargs)
    return fit(args.pop("model"), args.pop("step"), args.pop("loader"), args.pop("optimizer"),
               device="cpu", progress=False, **args)


# ---- TensorLoader --------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size,error,match", [
    (True, TypeError, r"batch_size must be an integer >= 1, got True \(bool\); examples per batch"),
    (0, ValueError, r"batch_size must be an integer >= 1, got 0; examples per batch, e\.g\. 64"),
    (2.5, TypeError, r"batch_size must be an integer"),
])
def test_tensor_loader_refuses_a_bad_batch_size(batch_size, error, match):
    with pytest.raises(error, match=match):
        TensorLoader(torch.zeros(4, 2), batch_size=batch_size)


def test_tensor_loader_refuses_tensors_of_different_lengths():
    with pytest.raises(ValueError, match=r"same length .*got lengths \[10, 9\]; pass matching rows"):
        TensorLoader(torch.zeros(10, 2), torch.zeros(9))


def test_tensor_loader_refuses_non_tensors():
    with pytest.raises(TypeError, match=r"argument 1 is a list; convert it with torch.as_tensor"):
        TensorLoader(torch.zeros(3, 2), [0, 1, 2])


def test_tensor_loader_refuses_no_examples():
    with pytest.raises(ValueError, match="TensorLoader got 0 examples.*check the selection"):
        TensorLoader(torch.zeros(0, 2))


# ---- fit: arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("epochs,error", [(2.5, TypeError), (True, TypeError), (0, ValueError), (-1, ValueError)])
def test_fit_refuses_bad_epochs(epochs, error):
    with pytest.raises(error, match=r"epochs must be an integer >= 1.*e\.g\. epochs=5"):
        run_fit(epochs=epochs)


def test_fit_refuses_an_empty_loader():
    with pytest.raises(ValueError, match="yields no batch.*use a batch_size no larger than the data"):
        run_fit(loader=[])


def test_fit_refuses_a_loader_without_length():
    batches = (b for b in TensorLoader(*toy(), batch_size=8))
    with pytest.raises(TypeError, match="with a length.*got generator; e.g. TensorLoader"):
        run_fit(loader=batches)


def test_fit_accepts_a_list_of_batches():
    batches = list(TensorLoader(*toy(), batch_size=8))
    history = run_fit(loader=batches, epochs=2)
    assert len(history["loss"]) == 2 and len(history.step["loss"]) == 8


def test_fit_refuses_an_optimizer_of_another_model():
    model, loader, _ = setup()
    other = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"none of the model's parameters.*torch.optim.Adam\(model.parameters\(\)"):
        fit(model, loss_step, loader, other, device="cpu", progress=False)


def test_fit_checks_the_checkpoint_path_before_training(tmp_path):
    calls = []

    def step(model, batch):
        calls.append(1)
        return loss_step(model, batch)

    with pytest.raises(CheckpointError, match="is a folder; give a file name inside it"):
        run_fit(step=step, checkpoint=tmp_path)
    assert calls == []  # nothing trained


# ---- fit: what the step returns ------------------------------------------------------------------

def test_fit_refuses_a_non_scalar_loss():
    step = lambda m, b: F.cross_entropy(m(b[0]), b[1], reduction="none")  # noqa: E731
    with pytest.raises(ValueError, match=r"scalar loss, got a tensor of shape \(8,\); reduce it, e.g. loss.mean\(\)"):
        run_fit(step=step)


def test_fit_refuses_a_loss_that_is_not_a_tensor():
    step = lambda m, b: loss_step(m, b).item()  # noqa: E731
    with pytest.raises(TypeError, match=r"got float; return the tensor itself, not loss.item\(\)"):
        run_fit(step=step)


def test_fit_refuses_a_loss_without_gradient():
    def step(model, batch):
        with torch.no_grad():
            return loss_step(model, batch)

    with pytest.raises(ValueError, match=r"no gradient.*without torch.no_grad\(\), .detach\(\)"):
        run_fit(step=step)


def test_fit_refuses_extra_values_that_clash_or_are_not_numbers():
    step = lambda m, b: (loss_step(m, b), {"loss": 1.0})  # noqa: E731
    with pytest.raises(ValueError, match="extra value named 'loss'.*rename it"):
        run_fit(step=step)
    step = lambda m, b: (loss_step(m, b), {"acc": m(b[0]).argmax(1) == b[1]})  # noqa: E731
    with pytest.raises(TypeError, match=r"'acc' must be one number, got a tensor of shape \(8,\).*mean\(\)"):
        run_fit(step=step)


def test_fit_refuses_evaluate_results_that_are_not_a_dict():
    with pytest.raises(TypeError, match=r"evaluate must return a dict \{'name': value\}, got float"):
        run_fit(evaluate=lambda model: 0.5)


# ---- fit: divergence -----------------------------------------------------------------------------

def test_non_finite_loss_names_epoch_step_lr_and_batch_size():
    calls = []

    def step(model, batch):
        calls.append(1)
        loss = loss_step(model, batch)
        return loss * float("nan") if len(calls) == 6 else loss  # epoch 2, step 2

    model, loader, opt = setup(lr=0.1, batch_size=8)
    with pytest.raises(FloatingPointError, match=r"nan at epoch 2/3, step 2/4 \(learning rate 0.1, batch size 8\)"
                                                 r".*lower the learning rate \(lr=0.1 now, try lr=0.01\)"
                                                 r".*lower the batch size \(8 now\)"):
        fit(model, step, loader, opt, epochs=3, device="cpu", progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad step never reached the weights


def test_a_real_diverging_run_is_stopped():
    torch.manual_seed(0)
    x = torch.randn(64, 4) * 100
    model = nn.Linear(4, 1)
    step = lambda m, b: F.mse_loss(m(b), b.sum(1, keepdim=True))  # noqa: E731
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    with pytest.raises(FloatingPointError, match=r"diverged; lower the learning rate \(lr=10 now, try lr=1\)"):
        fit(model, step, TensorLoader(x, batch_size=16), opt, epochs=50, device="cpu", progress=False, amp=False)


# ---- cosine_schedule and infer_batches -----------------------------------------------------------

@pytest.mark.parametrize("total,warmup,error,match", [
    (0, 0, ValueError, r"total_steps must be an integer >= 1, got 0; epochs \* len\(loader\)"),
    (2.5, 0, TypeError, r"total_steps must be an integer"),
    (10, 10, ValueError, r"warmup_steps must be an integer >= 0 and < 10.*must end before the last"),
    (10, -1, ValueError, r"warmup_steps must be an integer >= 0"),
])
def test_cosine_schedule_arguments(total, warmup, error, match):
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(error, match=match):
        cosine_schedule(opt, total, warmup)


def test_infer_batches_refuses_bad_images_and_batch_size():
    model = nn.Flatten()
    with pytest.raises(TypeError, match=r"images must be a tensor \(N, C, H, W\), got ndarray; convert with torch"):
        infer_batches(model, np.zeros((2, 1, 4, 4), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"non-empty batch \(N, C, H, W\), got shape \(0, 1, 4, 4\): pass at least one image"):
        infer_batches(model, torch.zeros(0, 1, 4, 4), device="cpu")
    with pytest.raises(ValueError, match=r"add a batch dimension: x.unsqueeze\(0\)"):
        infer_batches(model, torch.zeros(1, 4, 4), device="cpu")
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0; images per forward pass"):
        infer_batches(model, torch.zeros(2, 1, 4, 4), batch_size=0, device="cpu")
    with pytest.raises(TypeError, match="must return a tensor or a tuple of tensors, got list"):
        infer_batches(model, torch.zeros(2, 1, 4, 4), lambda m, x: [m(x)], device="cpu")


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
    real_replace, calls = train_module.os.replace, []

    def interrupted(src, dst):
        calls.append(1)
        if len(calls) == failing_call:
            raise KeyboardInterrupt  # a crash between the renames
        real_replace(src, dst)

    monkeypatch.setattr(train_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, new)
    monkeypatch.undo()
    assert pair(path) == ["m.pt"]  # a .pt without its sidecar, no temporary file
    fresh = nn.Linear(2, 2)
    load_checkpoint(path, fresh)   # read unverified, never refused as "corrupt"
    expected = old if failing_call == 1 else new
    assert torch.equal(fresh.weight, expected.weight)


def test_fit_checkpoint_interrupted_in_epoch_2_keeps_epoch_1(tmp_path, monkeypatch):
    real_replace, calls = train_module.os.replace, []

    def interrupted(src, dst):
        calls.append(1)
        if len(calls) == 3:  # epoch 1 renamed its .pt and its sidecar; epoch 2 dies at its first rename
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(train_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_fit(epochs=3, checkpoint=tmp_path / "fit.pt")
    monkeypatch.undo()
    assert pair(tmp_path / "fit.pt") == ["fit.pt"]
    assert load_checkpoint(tmp_path / "fit.pt")["epoch"] == 1


def test_a_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", old := nn.Linear(2, 2))

    def broken_save(obj, f):
        open(f, "wb").write(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(train_module.torch, "save", broken_save)
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
