"""sslteach.distributed: two CPU processes (gloo, float64) against one process on the union batch.

Each rank holds different rows (not copies), so a wrong backward cannot hide behind symmetry. The
same comparison is run with two deliberately wrong gathers (the bugs published implementations had)
to show that it fails for each. The two processes start once for the whole module (a few seconds).
"""
import contextlib
import os
import socket
import time

import pytest
import torch
import torch.distributed.nn.functional as dist_nn
import torch.multiprocessing as mp
from torch import nn

from sslteach import TensorLoader, info_nce
from sslteach import distributed
from sslteach.batches import ShardedLoader, rank_seed, shard
from sslteach.distributed import (DistributedInfo, average, cleanup, convert_sync_batchnorm,
                                  gather, gather_keys, info_nce_distributed, is_main, no_sync, rank,
                                  setup, unwrap, world_size, wrap_ddp)
from sslteach.utils import get_device

WORLD, N, DIM, IN_DIM, TAU = 2, 4, 5, 3, 0.3
TIMEOUT = 150  # seconds for the processes of one run; they need a few (most of it importing torch)
ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


# ---- running W processes -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))                  # port 0: the system picks a free one
        return s.getsockname()[1]


def _child(rank_, world, port, out, scenario):
    """One process: torchrun's environment, setup(), the scenario, its result saved to ``out``."""
    os.environ.update(OMP_NUM_THREADS="1", RANK=str(rank_), LOCAL_RANK=str(rank_), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    loopback = [name for _, name in socket.if_nameindex() if name in ("lo", "lo0")]
    if loopback:                                  # gloo talks over the loopback interface only
        os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback[0])
    torch.set_num_threads(1)
    info = setup(backend="gloo", timeout=60)      # a stuck collective fails after 60 s instead of 30 min
    try:
        result = scenario(info)
    finally:
        cleanup()
    torch.save(result, os.path.join(out, f"rank{rank_}.pt"))


def run_ranks(scenario, out, world=WORLD, timeout=TIMEOUT) -> list:
    """``scenario(info)`` on ``world`` spawned processes; their results, by rank. A child's exception
    fails the test with its traceback; a child that hangs fails it after ``timeout`` seconds. If
    another program took the free port before rank 0 could bind it, the run starts again once."""
    for attempt in range(2):
        ctx = mp.start_processes(_child, args=(world, free_port(), str(out), scenario), nprocs=world,
                                 join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        try:
            while not ctx.join(timeout=1):        # raises if a child raised (and ends the others)
                if time.monotonic() > deadline:
                    for p in ctx.processes:
                        p.kill()
                    pytest.fail(f"the {world} processes did not finish within {timeout} s: a collective "
                                f"waiting for a rank that never came?")
            return [torch.load(os.path.join(out, f"rank{r}.pt")) for r in range(world)]
        except mp.ProcessRaisedException as e:
            if attempt == 1 or "address already in use" not in str(e).lower():
                raise


# ---- the problem: W·N images, rank r holds rows r·N .. r·N + N - 1 --------------------------------

def union_batch():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(WORLD * N, DIM, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(WORLD * N, DIM, generator=g, dtype=torch.float64)  # the positive matters
    x1, x2 = torch.randn(2, WORLD * N, IN_DIM, generator=g, dtype=torch.float64)
    return z1, z2, x1, x2


def linear() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return nn.Linear(IN_DIM, DIM).double()


def single_process() -> dict:
    """One process that sees the union of every rank's rows."""
    z1, z2, x1, x2 = (t.clone().requires_grad_(i < 2) for i, t in enumerate(union_batch()))
    loss = info_nce(z1, z2, TAU)
    loss.backward()
    model = linear()
    a, b = model(torch.cat([x1, x2])).chunk(2)
    info_nce(a, b, TAU).backward()
    return dict(loss=loss.item(), g1=z1.grad, g2=z2.grad, params={k: p.grad for k, p in model.named_parameters()})


class GatherWithoutAllReduce(torch.autograd.Function):
    """Bug 1: the backward returns this rank's slice of ITS OWN loss's gradient, without the sum."""

    @staticmethod
    def forward(ctx, z):
        parts = [torch.empty_like(z) for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather(parts, z.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        n = grad.shape[0] // torch.distributed.get_world_size()
        return grad[torch.distributed.get_rank() * n:(torch.distributed.get_rank() + 1) * n]


class GatherAveraged(GatherWithoutAllReduce):
    """Bug 2: the sum over ranks divided by the world size (an average): what reaches this rank's rows
    through the other ranks' anchors is 1/W too small."""

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        torch.distributed.all_reduce(grad)
        grad /= torch.distributed.get_world_size()
        n = grad.shape[0] // torch.distributed.get_world_size()
        return grad[torch.distributed.get_rank() * n:(torch.distributed.get_rank() + 1) * n]


GATHERS = {
    "sslteach": None,                                                   # distributed.gather itself
    "pytorch": lambda z: torch.cat(dist_nn.all_gather(z)),              # torch.distributed.nn's version
    "no_all_reduce": GatherWithoutAllReduce.apply,
    "averaged": GatherAveraged.apply,
}
BUGS = ("no_all_reduce", "averaged")


@contextlib.contextmanager
def gather_replaced_by(fn):
    original = distributed.gather
    distributed.gather = fn or original
    try:
        yield
    finally:
        distributed.gather = original


def asymmetric(info: DistributedInfo) -> dict:
    """Run on every rank: the loss, its input gradients and a DDP model's parameter gradients, for
    each gather of GATHERS; also gather_keys, average, ShardedLoader and rank_seed."""
    z1_all, z2_all, x1_all, x2_all = union_batch()
    mine = slice(info.rank * N, (info.rank + 1) * N)
    out = dict(info=(info.rank, info.world_size, info.local_rank, str(info.device), info.backend),
               helpers=(rank(), world_size(), is_main(), info.is_main))
    for name, fn in GATHERS.items():
        with gather_replaced_by(fn):
            z1, z2 = z1_all[mine].clone().requires_grad_(), z2_all[mine].clone().requires_grad_()
            loss = info_nce_distributed(z1, z2, TAU)
            loss.backward()
            model = wrap_ddp(linear(), info)
            a, b = model(torch.cat([x1_all[mine], x2_all[mine]])).chunk(2)   # (N, DIM) each
            info_nce_distributed(a, b, TAU).backward()                      # DDP averages the gradients
            out[name] = dict(loss=loss.item(), average=average(loss).item(), g1=z1.grad, g2=z2.grad,
                             params={k: p.grad for k, p in unwrap(model).named_parameters()})
    keys = gather_keys(z1_all[mine].clone().requires_grad_())
    out["keys"], out["keys_grad"] = keys, keys.requires_grad
    loader = ShardedLoader(torch.arange(23), batch_size=3, seed=5)         # rank and world from the group
    out["loader"] = [[b.tolist() for b in loader] for _ in range(2)]
    out["seed"] = rank_seed(7, info.rank)
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return run_ranks(asymmetric, tmp_path_factory.mktemp("ranks"))


@pytest.fixture(scope="module")
def one():
    return single_process()


def close(a, b, tol=1e-9) -> bool:
    return torch.allclose(a, b, rtol=0, atol=tol)


# ---- two processes -------------------------------------------------------------------------------

def test_setup_reads_torchruns_environment(ranks):
    for r, res in enumerate(ranks):
        assert res["info"] == (r, WORLD, r, "cpu", "gloo")
        assert res["helpers"] == (r, WORLD, r == 0, r == 0)


@pytest.mark.parametrize("gather_name", ["sslteach", "pytorch"])
def test_mean_of_rank_losses_is_the_loss_of_one_process_on_the_union(ranks, one, gather_name):
    losses = [res[gather_name]["loss"] for res in ranks]
    assert losses[0] != pytest.approx(losses[1], abs=1e-3)                # asymmetric: the ranks differ
    assert sum(losses) / WORLD == pytest.approx(one["loss"], abs=1e-9)
    assert all(res[gather_name]["average"] == pytest.approx(one["loss"], abs=1e-9) for res in ranks)


@pytest.mark.parametrize("gather_name", ["sslteach", "pytorch"])
def test_rank_gradients_are_world_size_times_the_union_gradients(ranks, one, gather_name):
    for r, res in enumerate(ranks):
        mine = slice(r * N, (r + 1) * N)
        assert close(res[gather_name]["g1"], WORLD * one["g1"][mine])
        assert close(res[gather_name]["g2"], WORLD * one["g2"][mine])


@pytest.mark.parametrize("gather_name", ["sslteach", "pytorch"])
def test_ddp_parameter_gradients_equal_one_process_on_the_union(ranks, one, gather_name):
    for res in ranks:
        for k, grad in one["params"].items():
            assert close(res[gather_name]["params"][k], grad), k


@pytest.mark.parametrize("bug", BUGS)
def test_the_comparison_catches_each_known_gather_bug(ranks, one, bug):
    # the forward pass is right, so the loss cannot tell...
    assert sum(res[bug]["loss"] for res in ranks) / WORLD == pytest.approx(one["loss"], abs=1e-9)
    # ...but the gradients do: the same checks as above fail, by far more than the tolerance
    for r, res in enumerate(ranks):
        mine = slice(r * N, (r + 1) * N)
        wrong = (res[bug]["g1"] - WORLD * one["g1"][mine]).abs().max()
        assert wrong > 1e-3 and not close(res[bug]["g1"], WORLD * one["g1"][mine])
        assert not any(close(res[bug]["params"][k], g, 1e-4) for k, g in one["params"].items())


def test_gather_keys_gives_every_rank_all_keys_without_gradient(ranks):
    z1_all = union_batch()[0]
    for res in ranks:
        assert torch.equal(res["keys"], z1_all) and not res["keys_grad"]


def test_sharded_loader_ranks_together_see_one_process_with_the_world_batch(ranks):
    one_batch = TensorLoader(torch.arange(23), batch_size=23, seed=5)    # its passes: the orders of the epochs
    for epoch in range(2):
        batches = [res["loader"][epoch] for res in ranks]                 # per rank: 22 // 2 // 3 = 3 batches
        assert [len(b) for b in batches] == [3, 3] and all(len(x) == 3 for b in batches for x in b)
        single = next(iter(one_batch)).tolist()[:22]                                # the order; 23 % 2 = 1 dropped
        for k in range(3):                                                # batch k of both = batch k of 6
            assert sorted(batches[0][k] + batches[1][k]) == sorted(single[6 * k:6 * (k + 1)])


def test_rank_seeds_differ(ranks):
    assert [res["seed"] for res in ranks] == [7, rank_seed(7, 1)] and ranks[1]["seed"] != 7


# ---- ShardedLoader (no processes needed) ---------------------------------------

@pytest.mark.parametrize("n, world", [(10, 3), (12, 4), (7, 7), (5, 1)])
def test_shard_is_disjoint_equal_and_covers_the_permutation_minus_the_remainder(n, world):
    shares = [shard(n, r, world, seed=3, epoch=1) for r in range(world)]
    assert all(len(s) == n // world and s.dtype == torch.int64 for s in shares)
    together = torch.cat(shares)
    assert len(set(together.tolist())) == len(together)                  # disjoint
    loader = TensorLoader(torch.arange(n), batch_size=n, seed=3)
    next(iter(loader))
    order = next(iter(loader))                                            # TensorLoader's 2nd pass = epoch 1
    assert sorted(together.tolist()) == sorted(order[:n - n % world].tolist())
    assert all(torch.equal(shares[r], order[:n - n % world][r::world]) for r in range(world))


def test_shard_depends_on_seed_and_epoch_only():
    assert torch.equal(shard(100, 1, 2, seed=4, epoch=3), shard(100, 1, 2, seed=4, epoch=3))
    assert not torch.equal(shard(100, 1, 2, seed=4, epoch=3), shard(100, 1, 2, seed=4, epoch=4))
    assert not torch.equal(shard(100, 1, 2, seed=4, epoch=3), shard(100, 1, 2, seed=5, epoch=3))


def test_one_process_sharded_loader_is_todays_tensor_loader():
    x, y = torch.randn(50, 2), torch.arange(50)
    ours, todays = ShardedLoader(x, y, batch_size=8, seed=2), TensorLoader(x, y, batch_size=8, drop_last=True, seed=2)
    assert len(ours) == len(todays) == 6
    for _ in range(3):
        for (a, b), (c, d) in zip(ours, todays, strict=True):
            assert torch.equal(a, c) and torch.equal(b, d)
    resumed = ShardedLoader(x, y, batch_size=8, seed=2)
    resumed.epoch = 2                                                     # resume: only the epoch is needed
    ours.epoch = 2
    assert all(torch.equal(a[1], b[1]) for a, b in zip(resumed, ours))


def test_rank_seed_is_the_seed_on_rank_0_and_distinct_on_every_rank():
    assert rank_seed(123, 0) == 123 and rank_seed(123, 5) == rank_seed(123, 5)
    seeds = [rank_seed(2**32 - 1, r) for r in range(1000)]
    assert len(set(seeds)) == 1000 and all(0 <= s < 2**32 for s in seeds)


# ---- one process: the same code runs under plain python ------------------------------------------

@pytest.fixture
def plain_python(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    assert not torch.distributed.is_initialized()


def test_setup_without_torchrun_is_one_process(plain_python):
    info = setup()
    assert (info.rank, info.world_size, info.local_rank, info.backend) == (0, 1, 0, None)
    assert info.is_main and not info.distributed and info.device == get_device()
    assert (rank(), world_size(), is_main()) == (0, 1, True)
    cleanup()                                                             # nothing to clean up


def test_world_size_one_is_one_process(plain_python, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")                                 # torchrun --nproc_per_node=1
    assert setup().world_size == 1 and not torch.distributed.is_initialized()


def test_one_process_gather_is_identity_and_the_loss_is_info_nce(plain_python):
    z1, z2 = (t.clone().requires_grad_() for t in union_batch()[:2])
    assert gather(z1) is z1 and torch.equal(gather_keys(z1), z1) and not gather_keys(z1).requires_grad
    loss = info_nce_distributed(z1, z2, TAU)
    loss.backward()
    a, b = (t.clone().requires_grad_() for t in union_batch()[:2])
    expected = info_nce(a, b, TAU)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    assert close(z1.grad, a.grad, 1e-12) and close(z2.grad, b.grad, 1e-12)
    assert torch.equal(average(loss), loss.detach())


def test_one_process_model_helpers_change_nothing(plain_python):
    model, info = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), setup()
    assert convert_sync_batchnorm(model, info) is model
    assert wrap_ddp(model, DistributedInfo()) is model and unwrap(model) is model
    with no_sync(model):
        model(torch.randn(5, 3)).sum().backward()


# ---- pretrain under torchrun, end to end ---------------------------------------------------------
# 40 images, a global batch of 16: two steps, each rank 8 images. For the comparison: no BatchNorm
# and fixed views, so one process on the union batch computes exactly what the two processes compute
# together; float64 and SGD instead of AdamW, so that float32 rounding (amplified by max-pooling's
# choices after a step, and by Adam's normalised step on near-zero gradients) cannot hide a real
# difference, nor fake one.
PRETRAIN = dict(n_per_class=4, batch_size=16, epochs=1, progress=False)


def fixed_views(x):
    return x.double(), x.flip(-1).double()


COMPARED = ("simclr", "moco", "byol", "simsiam", "barlow")   # each method's own step, gathers and queue


def without_batchnorm(method, recipe, size=32):
    """The method's model in float64 with every BatchNorm removed, and its own step on fixed views."""
    from sslteach.barlow import barlow_step
    from sslteach.contrastive import simclr_step
    from sslteach.moco import moco_step
    from sslteach.siamese import siamese_step
    from sslteach.recipes import build_method
    model, _, encoder = build_method(method, recipe, size)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())
    step = {"simclr": lambda: simclr_step(fixed_views, recipe["temperature"]), "moco": lambda: moco_step(fixed_views),
            "barlow": lambda: barlow_step(fixed_views, recipe["lambd"])}.get(method, lambda: siamese_step(fixed_views))()
    return model.double(), step, encoder


@contextlib.contextmanager
def comparable_pretrain():
    import sslteach.pretrained as pretrained
    build, adamw = pretrained.build_method, torch.optim.AdamW
    pretrained.build_method = without_batchnorm
    torch.optim.AdamW = lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr)
    try:
        yield pretrained
    finally:
        pretrained.build_method, torch.optim.AdamW = build, adamw


def pretrain_scenario(info, path):
    from sslteach.pretrained import pretrain
    out = {}
    with comparable_pretrain() as pretrained:
        for method in COMPARED:
            plain = pretrained.pretrain(method, seed=3, **PRETRAIN)
            out[method] = dict(weights={k: v.clone() for k, v in plain.model.state_dict().items()},
                               loss=plain.history.step["loss"])
    run = pretrain("simclr", seed=3, **PRETRAIN)        # the real recipe: BatchNorm per process, random views
    if info.is_main:
        run.save(path)
    return dict(out, processes=run.info["processes"], device=run.info["device"])


@pytest.fixture(scope="module")
def pretrained_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    import functools
    return run_ranks(functools.partial(pretrain_scenario, path=str(out / "simclr_2proc.pt")), out), out


@pytest.mark.parametrize("method", COMPARED)
def test_two_process_pretrain_equals_one_process_on_the_union_batch(pretrained_ranks, plain_python, method):
    ranks_, _ = pretrained_ranks
    with comparable_pretrain() as pretrained:
        one_ = pretrained.pretrain(method, seed=3, device="cpu", **PRETRAIN)
    assert [r["processes"] for r in ranks_] == [WORLD, WORLD] and ranks_[0]["device"] == "cpu"
    ours = [r[method] for r in ranks_]
    for name, w in one_.model.state_dict().items():
        w0, w1 = ours[0]["weights"][name], ours[1]["weights"][name]
        assert torch.equal(w0, w1), name                                 # DDP keeps the copies identical
        if name == "queue.queue":   # the same keys; the gather orders them by rank, a batch by its shards
            w0, w = (q[q[:, 0].argsort()] for q in (w0, w))
        assert torch.allclose(w0, w, rtol=0, atol=1e-12), name            # and equal to one process
    moved = max((ours[0]["weights"][k] - w).abs().max().item()
                for k, w in distributed_initial_weights(method).items() if w.is_floating_point())
    assert moved > 1e-5                                                    # the steps changed the weights
    assert ours[0]["loss"] == pytest.approx(one_.history.step["loss"], abs=1e-12)  # logged: the union's loss
    if method == "moco":   # the queue holds both ranks' keys of the first step: the same as one process
        assert len(one_.model.queue) == PRETRAIN["batch_size"] * len(one_.history.step["loss"])


def distributed_initial_weights(method):
    with comparable_pretrain() as pretrained:
        torch.manual_seed(3)
        from sslteach.recipes import recipe_for
        return pretrained.build_method(method, recipe_for(method, **{k: v for k, v in PRETRAIN.items()
                                                                    if k != "progress"}))[0].state_dict()


def test_two_process_checkpoint_loads_and_probes_like_any_other(pretrained_ranks, plain_python):
    from sslteach import extract_features, linear_probe, load_checkpoint, load_encoder
    from sslteach.data import load_cifar10
    _, out = pretrained_ranks
    ckpt = load_checkpoint(out / "simclr_2proc.pt")                       # sha256 checked
    assert ckpt["processes"] == WORLD and ckpt["recipe"]["batch_size"] == 16 and ckpt["method"] == "simclr"
    encoder = load_encoder(out / "simclr_2proc.pt")
    train, test = load_cifar10("train", n_per_class=4), load_cifar10("test", n_per_class=2)
    acc = linear_probe(extract_features(encoder, train.images), train.labels, extract_features(encoder, test.images),
                       test.labels)
    assert 0 <= acc <= 1
    assert sorted(p.name for p in out.iterdir() if "simclr" in p.name) == ["simclr_2proc.pt", "simclr_2proc.pt.sha256"]


def test_pretrain_refuses_what_torchrun_cannot_run(monkeypatch):
    import sslteach.pretrained as pretrained
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "setup", lambda: DistributedInfo(0, 2, 0, torch.device("cpu"), "gloo"))
    with pytest.raises(ValueError, match="global batch, shared by the 2 processes.*batch_size=16"):
        pretrained.pretrain("simclr", quick=True, batch_size=17)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="leave device out under torchrun"):
            pretrained.pretrain("simclr", quick=True, device="meta")
