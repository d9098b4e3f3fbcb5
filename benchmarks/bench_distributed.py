"""SimCLR pre-training on 1 and 2 processes side by side: images per second, the communication share
of a step, and (``--probe``) whether two processes reach the probe of one at the same global batch.

    .venv/bin/python benchmarks/bench_distributed.py                 # throughput, CPU processes (gloo)
    .venv/bin/python benchmarks/bench_distributed.py --probe         # + 1 vs 2 processes, 3 seeds (minutes)
    .venv/bin/python benchmarks/bench_distributed.py --processes 1 2 4 --batch 512   # on a machine with GPUs

Throughput: W processes (W = each of ``--processes``) started as torchrun starts them, each with
``torch_threads / W`` threads on the CPU (or its own GPU: nccl), train notebook 03's SimCLR step
(``st.pretrained`` under DDP: the recipe's encoder and head, two augmented views, InfoNCE with
every process's negatives, AdamW) on a global batch of ``--batch`` images. A step's median time
gives images/s. The same processes then time the step with nothing exchanged (local negatives,
DDP's gradient all-reduce skipped); ``1 - local / full`` is the communication share of a step.

Probe (``--probe``): ``python -m sslteach pretrain simclr`` and ``torchrun --nproc_per_node=2 -m
sslteach pretrain simclr`` with the same global batch for ``--epochs`` epochs on the 10,000
images, seeds 0, 1, 2, each encoder read by the CLI's linear probe (all labels and 10 per class);
the verdict is :func:`sslteach.findings.compare`'s (ranges of the seeds).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sslteach as st  # noqa: E402
from sslteach import distributed  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_steps(model, step, images, n: int) -> float:
    """Median seconds of ``step`` over ``n`` timed steps (after 2 warm-up steps), as fit runs it."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for i in range(n + 2):
        start = time.perf_counter()
        loss, _ = step(model, images)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def _worker(rank: int, world: int, port: int, batch: int, steps: int, threads: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    info = distributed.setup(timeout=120)
    recipe = st.recipe_for("simclr")
    st.set_seed(0)
    model, step, _ = st.recipes.build_method("simclr", recipe)
    st.set_seed(st.batches.rank_seed(0, rank))
    images = st.load_cifar10("train").images[rank * (batch // world):(rank + 1) * (batch // world)].to(info.device)
    full = timed_steps(distributed.wrap_ddp(model, info), step, images, steps)
    # the same step with nothing exchanged: the plain model (no gradient all-reduce), local negatives
    world_size = st.contrastive.world_size
    st.contrastive.world_size = lambda: 1
    try:
        local = timed_steps(model, step, images, steps)
    finally:
        st.contrastive.world_size = world_size
    if info.is_main:
        torch.save(dict(full=full, local=local, device=str(info.device), backend=info.backend), out)
    distributed.cleanup()


def throughput(world: int, batch: int, steps: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.pt")
        mp.start_processes(_worker, args=(world, free_port(), batch, steps, max(1, threads // world), out),
                           nprocs=world, start_method="spawn")
        return torch.load(out)


def probe_run(processes: int, seed: int, epochs: int, batch: int, tmp: Path) -> dict:
    out = tmp / f"simclr_{processes}proc_seed{seed}.pt"
    cli = ["-m", "sslteach", "pretrain", "simclr", "--epochs", str(epochs), "--batch-size", str(batch),
           "--seed", str(seed), "--out", str(out)]
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
              if processes > 1 else [sys.executable])
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, torch.get_num_threads() // processes)))
    start = time.perf_counter()
    subprocess.run(launch + cli, check=True, env=env, stdout=subprocess.DEVNULL)
    ckpt = st.load_checkpoint(out)
    return dict(ckpt["metrics"], seconds=time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=128, help="global batch (the recipe's)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--probe", action="store_true", help="also train 1 and 2 processes to the probe")
    parser.add_argument("--epochs", type=int, default=3, help="--probe: epochs of each run")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"SimCLR step (notebook 03's recipe), global batch {args.batch}, {threads} threads in all, "
          f"median of {args.steps} steps")
    print(f"{'processes':>9} {'device':>8} {'images/s':>9} {'vs 1':>6} {'communication share':>20}")
    base = None
    for world in args.processes:
        r = throughput(world, args.batch, args.steps, threads)
        ips = args.batch / r["full"]
        base = base or ips
        share = f"{100 * max(0.0, 1 - r['local'] / r['full']):.0f}%" if world > 1 else "(nothing to exchange)"
        print(f"{world:>9} {r['device']:>8} {ips:>9.0f} {ips / base:>5.2f}x {share:>20}")
    if not args.probe:
        return
    print(f"\n1 vs 2 processes, SimCLR recipe, {args.epochs} epochs, global batch {args.batch}, seeds 0 1 2:")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {p: [probe_run(p, seed, args.epochs, args.batch, Path(tmp)) for seed in (0, 1, 2)] for p in (1, 2)}
    for metric in ("all", "10/class"):
        measures = {f"{p} process{'es' if p > 1 else ''}": st.Measure([r[metric] for r in runs[p]]) for p in runs}
        print(st.compare(measures, expect="1 process = 2 processes", label=f"linear probe on h, {metric} labels").text)
    for p, rs in runs.items():
        print(f"{p} process(es): {statistics.mean(r['seconds'] for r in rs):.0f} s a run (training and probe)")


if __name__ == "__main__":
    main()
