import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslteach import train as train_module
from sslteach.batches import TensorLoader
from sslteach.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sslteach.train import amp_dtype, cosine_schedule, fit


def toy_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()  # XOR-like: needs the hidden layer
    return x, y


def classifier_step(model, batch):
    x, y = batch
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": (logits.argmax(1) == y).float().mean()}


def test_fit_lowers_the_loss_and_records_history():
    torch.manual_seed(0)
    x, y = toy_problem()
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    loader = TensorLoader(x, y, batch_size=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    evals = []
    hist = fit(model, classifier_step, loader, opt, epochs=15, device="cpu", progress=False,
               evaluate=lambda m: evals.append(1) or {"val": 0.5})
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["acc"][-1] > 0.9
    assert len(hist["loss"]) == len(hist["time"]) == len(hist["val"]) == len(evals) == 15
    assert len(hist.step["loss"]) == 15 * len(loader)
    assert not model.training


def test_fit_with_scheduler_and_atomic_checkpoint(tmp_path):
    x, y = toy_problem(64)
    model = nn.Linear(2, 2)
    loader = TensorLoader(x, y, batch_size=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = cosine_schedule(opt, total_steps=3 * len(loader), warmup_steps=2)
    path = tmp_path / "ckpt" / "model.pt"
    hist = fit(model, classifier_step, loader, opt, epochs=3, scheduler=sched, device="cpu",
               progress=False, checkpoint=path)
    assert hist["lr"][-1] == pytest.approx(0.0, abs=1e-9)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt", "model.pt.sha256"]  # no temporary file left
    fresh = nn.Linear(2, 2)
    ckpt = load_checkpoint(path, fresh)
    assert ckpt["epoch"] == 3 and len(ckpt["history"]["loss"]) == 3
    assert torch.equal(fresh.weight, model.weight)


def test_fit_stops_on_nan():
    x, y = toy_problem(32)
    model = nn.Linear(2, 2)
    step = lambda m, b: m(b[0]).sum() * float("nan")  # noqa: E731
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, step, TensorLoader(x, y, batch_size=8), torch.optim.SGD(model.parameters(), lr=0.1),
            device="cpu", progress=False)


@pytest.mark.parametrize("native", [True, False])
def test_cpu_mixed_precision_only_with_native_bfloat16(monkeypatch, native):
    monkeypatch.setattr(train_module, "cpu_has_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert amp_dtype(cpu) == (torch.bfloat16 if native else None)
    assert amp_dtype(cpu, amp=False) is None
    x, y = toy_problem()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    seen = []
    def step(model, batch):
        logits = model(batch[0])
        seen.append(logits.dtype)
        return F.cross_entropy(logits.float(), batch[1])
    hist = fit(model, step, TensorLoader(x, y, batch_size=32), torch.optim.Adam(model.parameters(), lr=1e-2),
               epochs=5, device="cpu", progress=False)
    assert set(seen) == {torch.bfloat16 if native else torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())   # weights stay float32
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda_with_amp():
    x, y = toy_problem()
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    hist = fit(model, classifier_step, TensorLoader(x, y, batch_size=32),
               torch.optim.Adam(model.parameters(), lr=1e-2), epochs=5, device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert hist["loss"][-1] < hist["loss"][0]


def _resumable(seed=0):
    """A model with dropout (it draws random numbers), AdamW, a cosine schedule and a shuffling loader:
    every piece of state a resumed run must restore."""
    torch.manual_seed(seed)
    x, y = toy_problem(96)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    loader = TensorLoader(x, y, batch_size=16, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, loader, opt, cosine_schedule(opt, total_steps=4 * len(loader), warmup_steps=2)


def test_resume_after_an_interruption_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    model, loader, opt, sched = _resumable()
    full = fit(model, classifier_step, loader, opt, epochs=4, scheduler=sched, device="cpu", progress=False)

    calls = []
    def interrupted_step(m, batch):                     # Ctrl-C at the first step of epoch 3
        calls.append(1)
        if len(calls) == 2 * len(loader) + 1:
            raise KeyboardInterrupt
        return classifier_step(m, batch)

    path = tmp_path / "state.pt"
    m2, l2, o2, s2 = _resumable()
    with pytest.raises(KeyboardInterrupt):
        fit(m2, interrupted_step, l2, o2, epochs=4, scheduler=s2, device="cpu", progress=False, checkpoint=path)
    assert load_checkpoint(path)["epoch"] == 2
    torch.manual_seed(123)                               # a new process: other random state, fresh objects
    m3, l3, o3, s3 = _resumable()
    resumed = fit(m3, classifier_step, l3, o3, epochs=4, scheduler=s3, device="cpu", progress=False,
                  checkpoint=path, resume=True)
    for a, b in zip(model.state_dict().values(), m3.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.step["loss"] == full.step["loss"] and resumed["lr"] == full["lr"]
    assert load_checkpoint(path)["epoch"] == 4


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    model, loader, opt, sched = _resumable()
    with pytest.raises(ValueError, match="needs checkpoint="):
        fit(model, classifier_step, loader, opt, epochs=2, device="cpu", progress=False, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*start without resume"):
        fit(model, classifier_step, loader, opt, epochs=2, device="cpu", progress=False, resume=True,
            checkpoint=tmp_path / "none.pt")
    path = tmp_path / "state.pt"
    fit(model, classifier_step, loader, opt, epochs=2, scheduler=sched, device="cpu", progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="done all 2 epochs"):
        fit(model, classifier_step, loader, opt, epochs=2, device="cpu", progress=False, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="resume it with epochs=2"):
        fit(model, classifier_step, loader, opt, epochs=5, device="cpu", progress=False, checkpoint=path, resume=True)
    other = nn.Linear(2, 2)                             # another model: its weights do not fit the state
    state = load_checkpoint(path)
    state["epoch"], state["epochs"] = 1, 3
    save_checkpoint(tmp_path / "s3.pt", model, **{k: v for k, v in state.items() if k != "model"})
    with pytest.raises(CheckpointError, match="does not fit this model"):
        fit(other, classifier_step, loader, torch.optim.SGD(other.parameters(), lr=0.1), epochs=3, device="cpu",
            progress=False, checkpoint=tmp_path / "s3.pt", resume=True)
    plain = tmp_path / "plain.pt"
    save_checkpoint(plain, model)                       # weights only: not a training state
    with pytest.raises(CheckpointError, match="not a training state"):
        fit(model, classifier_step, loader, opt, epochs=2, device="cpu", progress=False, checkpoint=plain, resume=True)


def test_accumulating_two_batches_is_one_step_on_a_batch_twice_as_large():
    x, y = toy_problem(64)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    runs = {}
    for name, batch, accumulate in (("large", 16, 1), ("accumulated", 8, 2)):
        model = copy.deepcopy(net)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        sched = cosine_schedule(opt, total_steps=2 * 4)               # 4 optimiser steps an epoch either way
        loader = TensorLoader(x.double(), y, batch_size=batch, shuffle=False)
        hist = fit(model, classifier_step, loader, opt, epochs=2, scheduler=sched, device="cpu", progress=False,
                   accumulate=accumulate)
        runs[name] = (model, hist, sched.last_epoch)
    (large, h_large, steps_large), (acc, h_acc, steps_acc) = runs["large"], runs["accumulated"]
    assert steps_large == steps_acc == 8 and len(h_acc.step["loss"]) == 2 * len(h_large.step["loss"])
    for a, b in zip(large.parameters(), acc.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert not torch.allclose(large[0].weight, net[0].weight)           # training moved the weights


def test_an_epochs_last_smaller_group_is_averaged_over_its_own_batches():
    x, y = toy_problem(48)
    torch.manual_seed(0)
    net = nn.Linear(2, 2).double()
    one, acc = copy.deepcopy(net), copy.deepcopy(net)
    # 3 batches of 16 with accumulate=2: a group of 2, then a group of 1 (= a plain step)
    fit(acc, classifier_step, TensorLoader(x.double(), y, batch_size=16, shuffle=False),
        torch.optim.SGD(acc.parameters(), lr=0.5), epochs=1, device="cpu", progress=False, accumulate=2)
    opt = torch.optim.SGD(one.parameters(), lr=0.5)
    fit(one, classifier_step, [(x[:32].double(), y[:32]), (x[32:].double(), y[32:])], opt, epochs=1, device="cpu",
        progress=False)
    assert torch.allclose(one.weight, acc.weight, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="accumulate"):
        fit(one, classifier_step, [(x, y)], opt, epochs=1, device="cpu", progress=False, accumulate=0)
