"""Hostile inputs to sslteach.distributed: a broken torchrun environment, a backend the machine
cannot run, batches of different sizes on different ranks, bad shard arguments... each fails at
once with a message that says what to do, and never leaves a half-initialised process group."""
import pytest
import torch
from torch import nn

from sslteach.batches import ShardedLoader, rank_seed, shard
from sslteach.distributed import (DistributedInfo, average, convert_sync_batchnorm, gather,
                                  info_nce_distributed, setup, wrap_ddp)
from test_distributed import ENV, run_ranks

TORCHRUN = dict(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="29500")


@pytest.fixture
def torchrun_env(monkeypatch):
    """A complete torchrun environment for rank 0 of 2; tests break one variable of it."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    yield monkeypatch
    assert not torch.distributed.is_initialized()          # a refused setup initialises nothing


# ---- setup: the environment and the backend ------------------------------------------------------

@pytest.mark.parametrize("missing", ["RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"])
def test_world_size_without_the_rest_of_torchruns_environment(torchrun_env, missing):
    torchrun_env.delenv(missing)
    with pytest.raises(ValueError, match=rf"WORLD_SIZE=2 is set, but \${missing}.*torchrun"):
        setup(backend="gloo")


@pytest.mark.parametrize("name, value, match", [
    ("WORLD_SIZE", "two", r"\$WORLD_SIZE must be an integer, got 'two'"),
    ("WORLD_SIZE", "0", r"\$WORLD_SIZE must be an integer >= 1, got 0"),
    ("RANK", "2", r"\$RANK must be an integer >= 0 and <= 1, got 2"),
    ("RANK", "-1", r"\$RANK must be an integer >= 0"),
    ("LOCAL_RANK", "1.5", r"\$LOCAL_RANK must be an integer, got '1.5'"),
    ("MASTER_PORT", "70000", r"\$MASTER_PORT must be an integer >= 1 and <= 65535"),
])
def test_bad_values_in_the_environment(torchrun_env, name, value, match):
    torchrun_env.setenv(name, value)
    with pytest.raises(ValueError, match=match):
        setup(backend="gloo")


def test_nccl_without_cuda(torchrun_env):
    torchrun_env.setattr(torch.cuda, "is_available", lambda: False)
    torchrun_env.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ValueError, match=r"'nccl' needs one CUDA GPU per process.*sees 0 GPU.*backend='gloo'"):
        setup(backend="nccl")


def test_more_processes_on_a_machine_than_gpus(torchrun_env):
    torchrun_env.setattr(torch.cuda, "is_available", lambda: True)
    torchrun_env.setattr(torch.cuda, "device_count", lambda: 1)
    torchrun_env.setenv("RANK", "1")
    torchrun_env.setenv("LOCAL_RANK", "1")
    with pytest.raises(ValueError, match=r"LOCAL_RANK=1 sees 1 GPU.*--nproc_per_node"):
        setup()                                              # CUDA "available": nccl by default


@pytest.mark.parametrize("backend", ["mpi", "NCCL", 3])
def test_unknown_backend(torchrun_env, backend):
    with pytest.raises(ValueError, match=r"backend must be 'nccl' \(GPUs\), 'gloo' \(CPU\) or None"):
        setup(backend=backend)


def test_timeout_must_be_positive(torchrun_env):
    with pytest.raises(ValueError, match="timeout must be a number > 0"):
        setup(backend="gloo", timeout=0)


# ---- rank_seed -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n=10, rank=2, world=2), ValueError, r"rank must be an integer >= 0 and <= 1, got 2"),
    (dict(n=10, rank=0, world=0), ValueError, r"world must be an integer >= 1"),
    (dict(n=3, rank=0, world=4), ValueError, r"3 examples cannot be shared by 4 processes"),
    (dict(n=10, rank=0, world=2, epoch=-1), ValueError, r"epoch must be an integer >= 0"),
    (dict(n=10, rank=0, world=2, seed=True), TypeError, r"seed must be an integer"),
    (dict(n=10.0, rank=0, world=2), TypeError, r"n must be an integer"),
])
def test_bad_shard_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        shard(**kwargs)


def test_sharded_loader_refuses_a_batch_larger_than_the_share():
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1 and <= 5.*each of the 2 processes "
                                         r"has 5 examples"):
        ShardedLoader(torch.arange(11), batch_size=6, rank=1, world=2)


def test_sharded_loader_refuses_non_tensors_and_unequal_lengths():
    with pytest.raises(TypeError, match="ShardedLoader takes tensors"):
        ShardedLoader([1, 2, 3], batch_size=1)
    with pytest.raises(ValueError, match=r"the same length, got \[10, 9\]"):
        ShardedLoader(torch.zeros(10, 2), torch.arange(9), batch_size=2)


def test_rank_seed_refuses_negative_and_fractional_values():
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        rank_seed(-1, 0)
    with pytest.raises(TypeError, match="rank must be an integer"):
        rank_seed(0, 1.5)


# ---- models, gather, loss ------------------------------------------------------------------------

CPU_PAIR = DistributedInfo(rank=0, world_size=2, device=torch.device("cpu"), backend="gloo")


def test_sync_batchnorm_on_cpu_processes_says_to_switch_it_off():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match=r"SyncBatchNorm runs on GPUs only.*enabled=False"):
        convert_sync_batchnorm(model, CPU_PAIR)
    assert convert_sync_batchnorm(model, CPU_PAIR, enabled=False) is model


def test_wrap_ddp_needs_a_module_and_a_process_group():
    with pytest.raises(TypeError, match=r"wrap_ddp\(model, info\)"):
        wrap_ddp(lambda x: x, DistributedInfo())
    with pytest.raises(TypeError, match=r"wrap_ddp\(model, info\)"):
        wrap_ddp(nn.Linear(2, 2), "cpu")
    with pytest.raises(ValueError, match=r"no process group is initialised: call setup\(\) first"):
        wrap_ddp(nn.Linear(2, 2), CPU_PAIR)


def test_gather_and_average_refuse_what_they_cannot_send():
    with pytest.raises(TypeError, match="gather takes a tensor"):
        gather([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"2-D tensor \(N, D\), got shape \(2, 3, 4\).*flatten"):
        gather(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="average takes a float tensor"):
        average(torch.tensor(3))


def test_info_nce_distributed_checks_its_views_like_info_nce():
    with pytest.raises(ValueError, match="same shape"):
        info_nce_distributed(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="need N >= 2"):
        info_nce_distributed(torch.randn(1, 3), torch.randn(1, 3))        # one process: no negative
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        info_nce_distributed(torch.randn(4, 3), torch.randn(4, 3), temperature=0)


# ---- two processes whose batches differ in size --------------------------------------------------

def unequal_batches(info: DistributedInfo) -> dict:
    n = 4 if info.rank == 0 else 3                                     # e.g. an undropped last batch
    z1, z2 = torch.randn(n, 5), torch.randn(n, 5)
    try:
        info_nce_distributed(z1, z2, 0.5)
    except ValueError as e:
        return dict(error=str(e))
    return dict(error=None)


def test_batches_of_different_sizes_on_different_ranks_fail_clearly_on_every_rank(tmp_path):
    for result in run_ranks(unequal_batches, tmp_path):
        assert result["error"] is not None, "a rank went on with an unequal batch"
        assert "same (N, D) on every process" in result["error"]
        assert "[(8, 5), (6, 5)]" in result["error"] and "drop it" in result["error"]
