"""Hostile inputs to sslteach.train: each bad call fails with a message that says what to do, or the
case is handled correctly (fit's checkpoint stays consistent when an epoch is interrupted). CPU only,
tiny models, deterministic."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslteach import checkpoint as checkpoint_module
from sslteach.batches import TensorLoader
from sslteach.checkpoint import CheckpointError, load_checkpoint
from sslteach.train import cosine_schedule, fit


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


# ---- cosine_schedule -----------------------------------------------------------

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


# ---- fit: checkpoints ------------------------------------------------------------------------------

def pair(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_fit_checkpoint_interrupted_in_epoch_2_keeps_epoch_1(tmp_path, monkeypatch):
    real_replace, calls = checkpoint_module.os.replace, []

    def interrupted(src, dst):
        calls.append(1)
        if len(calls) == 3:  # epoch 1 renamed its .pt and its sidecar; epoch 2 dies at its first rename
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_fit(epochs=3, checkpoint=tmp_path / "fit.pt")
    monkeypatch.undo()
    assert pair(tmp_path / "fit.pt") == ["fit.pt"]
    assert load_checkpoint(tmp_path / "fit.pt")["epoch"] == 1
