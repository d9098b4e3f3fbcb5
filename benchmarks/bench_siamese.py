"""Training steps of the methods of notebook 08 side by side: SimCLR, MoCo, BYOL, SimSiam, Barlow Twins.

    .venv/bin/python benchmarks/bench_siamese.py                  # float32 on the CPU, batches 128 and 32
    .venv/bin/python benchmarks/bench_siamese.py --device cuda --batches 512 128

Each method is built from its recipe (``sslteach.recipes``: the same encoder, ``ConvEncoder(downsample=
"pool")``, and its own head, predictor, EMA copy or queue) and timed over one whole training step as
``st.fit`` runs it: two augmented views of a batch of CIFAR-10 images, forward, loss, backward, AdamW
step (MoCo and BYOL also update their EMA copy; MoCo's queue is filled first, 4,096 keys). The table
gives the median time of a step, its ratio to SimCLR's at the same batch (goal: at most 1.3×), and
the peak memory of one step.

Time: after two warm-up steps, the median over interleaved rounds (one step of each method per round,
so a load spike from other processes hits all of them alike); each method runs until it has spent
``--budget`` seconds (at least 3 steps, at most 30).

Peak memory: on the CPU each method's step runs in a fresh child process, which warms up with two
steps, resets the kernel's resident-set high-water mark (``/proc/self/clear_refs`` ← 5, Linux) and
reports ``VmHWM − VmRSS before`` for one more step (``ru_maxrss`` after minus before where /proc is
missing). On CUDA it is ``torch.cuda.max_memory_allocated()`` minus the memory allocated before.

Loss memory: the losses alone, forward + backward on random (N, D) outputs at N = ``--loss-n``
(2,048), each in a fresh process as above, next to what one (N, N, D) float32 tensor would take: none
of them may grow as N²·D (a broadcast of every pair over every dimension); SimCLR and MoCo hold
(2N)² and N·(1 + K) similarities, BYOL/SimSiam N·D, Barlow Twins D².
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sslteach.barlow import barlow_twins_loss  # noqa: E402
from sslteach.contrastive import info_nce  # noqa: E402
from sslteach.moco import moco_loss  # noqa: E402
from sslteach.recipes import build_method, recipe_for  # noqa: E402
from sslteach.siamese import siamese_loss  # noqa: E402
from sslteach.train import amp_dtype  # noqa: E402
from sslteach.utils import set_seed  # noqa: E402

METHODS = ("simclr", "moco", "byol", "simsiam", "barlow")
NAMES = {"simclr": "SimCLR", "moco": "MoCo", "byol": "BYOL", "simsiam": "SimSiam", "barlow": "Barlow Twins"}
QUEUE = 4096


def make(method: str, batch: int, device: torch.device):
    """(model, step, optimizer, images) for one method at one batch size, the queue of MoCo full."""
    set_seed(0)
    recipe = recipe_for(method, batch_size=batch)
    model, step, _ = build_method(method, recipe)
    model.to(device).train()
    if method == "moco":
        model.queue.enqueue(torch.randn(QUEUE, model.queue.dim, device=device))
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, generator=g).to(device)
    return model, step, opt, x


def train_step(model, step, opt, x, device):
    """One step as st.fit runs it (mixed precision where fit uses it)."""
    dtype = amp_dtype(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        out = step(model, x)
    loss = out[0] if isinstance(out, tuple) else out
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(batch: int, device: torch.device, budget_s: float, max_steps: int = 30) -> dict:
    """Median seconds of one training step per method, over interleaved rounds."""
    built = {m: make(m, batch, device) for m in METHODS}
    for m, (model, step, opt, x) in built.items():   # warm-up
        for _ in range(2):
            train_step(model, step, opt, x, device)
    times = {m: [] for m in METHODS}
    while active := [m for m in METHODS if len(times[m]) < 3 or (len(times[m]) < max_steps and sum(times[m]) < budget_s)]:
        for m in active:
            model, step, opt, x = built[m]
            sync(device)
            t = time.perf_counter()
            train_step(model, step, opt, x, device)
            sync(device)
            times[m].append(time.perf_counter() - t)
    return {m: statistics.median(v) for m, v in times.items()}


def _rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _peak_of(fn) -> float:
    """Extra resident memory (MB) at the peak of ``fn()`` in this process."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _rss_kib("VmRSS")
        fn()
        return (_rss_kib("VmHWM") - before) / 1024
    except OSError:
        import resource
        scale = 1 if sys.platform != "darwin" else 1024
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
        fn()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale - before) / 1024


def loss_inputs(kind: str, n: int, d: int):
    g = torch.Generator().manual_seed(0)
    z = lambda: torch.randn(n, d, generator=g).requires_grad_()
    if kind == "simclr":
        return lambda a: info_nce(a[0], a[1], 0.2), (z(), z())
    if kind == "moco":
        queue = torch.randn(QUEUE, d, generator=g)
        return lambda a: moco_loss(a[0], a[1], queue, 0.2), (z(), z())
    if kind in ("byol", "simsiam"):
        return lambda a: siamese_loss(*a), (z(), z(), z(), z())
    return lambda a: barlow_twins_loss(a[0], a[1]), (z(), z())


LOSS_DIM = {"simclr": 128, "moco": 128, "byol": 256, "simsiam": 256, "barlow": 256}   # the recipes' out_dim


def child(args) -> dict:
    kind, what, n = args.child[0], args.child[1], int(args.child[2])
    device = torch.device("cpu")
    if what == "step":
        model, step, opt, x = make(kind, n, device)
        for _ in range(2):
            train_step(model, step, opt, x, device)
        return {"peak_mb": _peak_of(lambda: train_step(model, step, opt, x, device))}
    fn, inputs = loss_inputs(kind, 8, LOSS_DIM[kind])
    fn(inputs).backward()                                       # load the kernels
    fn, inputs = loss_inputs(kind, n, LOSS_DIM[kind])
    return {"peak_mb": _peak_of(lambda: fn(inputs).backward())}


def peak_mb(kind: str, what: str, n: int, device: torch.device) -> float:
    if device.type == "cuda":
        if what == "step":
            model, step, opt, x = make(kind, n, device)
            for _ in range(2):
                train_step(model, step, opt, x, device)
            run = lambda: train_step(model, step, opt, x, device)
        else:
            fn, inputs = loss_inputs(kind, n, LOSS_DIM[kind])
            inputs = tuple(t.detach().to(device).requires_grad_() for t in inputs)
            run = lambda: fn(inputs).backward()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    threads = ["--threads", str(torch.get_num_threads())]
    out = subprocess.run([sys.executable, __file__, "--child", kind, what, str(n), *threads],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 32], help="batch sizes N")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of steps per method and batch size")
    parser.add_argument("--loss-n", type=int, default=2048, help="N for the losses' memory")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is steadier on a busy machine)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args)))
        return
    device = torch.device(args.device)
    where = f"threads={torch.get_num_threads()}" if device.type == "cpu" else torch.cuda.get_device_name(device)
    dtype = amp_dtype(device)
    print(f"Training steps of notebook 08's methods (recipes' models, two views, AdamW), {device.type} ({where}), "
          f"{dtype or 'float32'}, torch {torch.__version__}; MoCo's queue {QUEUE} keys")
    print(f"{'method':13} {'N':>4} {'step ms':>9} {'× SimCLR':>9} {'peak MB':>9}  goal ≤ 1.3×")
    worst = {}
    for n in args.batches:
        times = time_steps(n, device, args.budget)
        for m in METHODS:
            ratio = times[m] / times["simclr"]
            mem = peak_mb(m, "step", n, device)
            ok = "" if m == "simclr" else ("PASS" if ratio <= 1.3 else "FAIL")
            worst[m, n] = ratio
            print(f"{NAMES[m]:13} {n:>4} {times[m] * 1e3:9.1f} {ratio:8.2f}× {mem:9.1f}  {ok}")
    n = args.loss_n
    print(f"\nLosses alone, forward + backward at N={n} (peak MB; one (N, N, D) float32 tensor would take "
          f"{n * n * 256 * 4 / 2**20:,.0f} MB at D=256)")
    print(f"{'loss':13} {'D':>4} {'peak MB':>9} {'N²D·4 bytes':>13}  goal: far below N²D")
    for m in METHODS:
        d = LOSS_DIM[m]
        mem = peak_mb(m, "loss", n, device)
        n2d = n * n * d * 4 / 2**20
        print(f"{NAMES[m]:13} {d:>4} {mem:9.1f} {n2d:12,.0f}  {'PASS' if mem < n2d / 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
