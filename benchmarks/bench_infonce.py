"""InfoNCE (NT-Xent) forward+backward: time and peak memory, ``sslteach`` against its peers.

    .venv/bin/python benchmarks/bench_infonce.py                    # float32 on the CPU
    .venv/bin/python benchmarks/bench_infonce.py --device cuda
    make bench                                        # also lightly (installed in build/peers)

Compared, with z1, z2 of shape (N, D), D = 128, N = 512 and 2048, τ = 0.5:

- ours: ``sslteach.contrastive.info_nce`` — one (2N, 2N) similarity matrix + ``F.cross_entropy``.
- loop: ``info_nce_loop``, the paper's formula one scalar at a time. It costs one Python-level
  similarity term per (anchor i, candidate k) pair, i.e. 2N(2N - 1) terms, so it is run whole
  (forward+backward) at small N only; the time per term is measured there, and the N = 512 time is
  that cost times 2N(2N - 1) = 1024·1023 (marked ``~``). Two small N are shown so the per-term
  cost can be seen to be constant.
- blog: the NT-Xent of a popular blog article (N. Adaloglou, "Self-supervised learning tutorial:
  Implementing SimCLR with PyTorch Lightning", theaisummer.com/simclr), copied faithfully below.
  Its ``F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=2)`` broadcasts to a
  (2N, 2N, D) tensor. When its estimated peak exceeds ``--max-gb`` (N = 2048 on a laptop: tens
  of GB) it is not run; time and memory are then extrapolated from N = 512 by (2048/512)² = 16,
  since its (2N, 2N, D) tensors grow as N², and marked ``~`` (``--sizes 256 512`` shows the growth).
- lightly: ``lightly.loss.NTXentLoss`` when ``import lightly`` works (``make bench`` installs it
  in build/peers, without its dependencies), otherwise skipped.

Every loss value is asserted equal to ours on the same inputs (and the loop at its own N).

Time: after one warm-up call, the median over interleaved rounds (one call of each method per
round, so a load spike from other processes hits all of them alike); each method is called until
it has spent 1.5 s (at least once, at most 30 times); a warm-up call over 1.5 s is the sample.

Peak memory: ``tracemalloc`` cannot see torch's allocations (they bypass Python's allocator).
On the CPU each measurement runs in a fresh child process: it imports torch, warms the loss up
on a tiny batch, makes the inputs, resets the kernel's resident-set high-water mark
(``/proc/self/clear_refs`` ← 5, Linux), runs one forward+backward and reports
``VmHWM - VmRSS before``: the extra resident memory the call needed at its peak. Where /proc is
missing, ``resource.getrusage(...).ru_maxrss`` after minus before is used instead (an
underestimate if the process was ever larger before). On CUDA the peak is
``torch.cuda.max_memory_allocated()`` minus the memory allocated before the call.
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
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sslteach.contrastive import info_nce, info_nce_loop  # noqa: E402


def blog_nt_xent(proj_1, proj_2, temperature=0.5):
    """theaisummer.com/simclr's ``ContrastiveLoss.forward``, as published (class state inlined)."""
    batch_size = proj_1.shape[0]
    mask = (~torch.eye(batch_size * 2, batch_size * 2, dtype=bool)).float()
    z_i = F.normalize(proj_1, p=2, dim=1)
    z_j = F.normalize(proj_2, p=2, dim=1)

    representations = torch.cat([z_i, z_j], dim=0)  # calc_similarity_batch
    similarity_matrix = F.cosine_similarity(representations.unsqueeze(1), representations.unsqueeze(0), dim=2)

    sim_ij = torch.diag(similarity_matrix, batch_size)
    sim_ji = torch.diag(similarity_matrix, -batch_size)
    positives = torch.cat([sim_ij, sim_ji], dim=0)

    nominator = torch.exp(positives / temperature)
    denominator = mask.to(similarity_matrix.device) * torch.exp(similarity_matrix / temperature)

    all_losses = -torch.log(nominator / torch.sum(denominator, dim=1))
    loss = torch.sum(all_losses) / (2 * batch_size)
    return loss


def lightly_nt_xent():
    """lightly's NTXentLoss as ``fn(z1, z2, tau)``, or None when lightly cannot be imported."""
    try:
        from lightly.loss import NTXentLoss
    except Exception:  # not installed, or its dependencies are missing
        return None
    return lambda z1, z2, tau: NTXentLoss(temperature=tau)(z1, z2)


METHODS = {"ours": info_nce, "loop": info_nce_loop, "blog": blog_nt_xent}


def load_lightly() -> bool:
    """Add lightly to METHODS (imported only where needed: it takes seconds)."""
    if "lightly" not in METHODS and (fn := lightly_nt_xent()) is not None:
        METHODS["lightly"] = fn
    return "lightly" in METHODS


def make_inputs(n, d, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g)  # correlated views, like a trained encoder's
    return z1.to(device).requires_grad_(), z2.to(device).requires_grad_()


def forward_backward(fn, z1, z2, tau):
    z1.grad = z2.grad = None
    loss = fn(z1, z2, tau)
    loss.backward()
    return loss.detach()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_methods(names, n, d, tau, device, budget_s=1.5, max_rounds=30):
    """Median seconds of one forward+backward per method, over interleaved rounds.

    Each method is called until it has used ``budget_s`` (at least once, at most ``max_rounds``);
    a warm-up call longer than ``budget_s`` counts as the one sample (lazy set-up is negligible).
    """
    z1, z2 = make_inputs(n, d, device)
    values, times = {}, {}
    for m in names:  # warm-up, and the values to check
        sync(device)
        t = time.perf_counter()
        values[m] = forward_backward(METHODS[m], z1, z2, tau).item()
        sync(device)
        t = time.perf_counter() - t
        times[m] = [t] if t > budget_s else []
    while active := [m for m in names if not times[m] or (len(times[m]) < max_rounds
                                                          and sum(times[m]) < budget_s)]:
        for m in active:
            sync(device)
            t = time.perf_counter()
            forward_backward(METHODS[m], z1, z2, tau)
            sync(device)
            times[m].append(time.perf_counter() - t)
    return {m: statistics.median(v) for m, v in times.items()}, values


def _rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child_peak_mb(method, n, d, tau):
    """Run in a fresh process: extra resident memory (MB) at the peak of one forward+backward."""
    fn = METHODS[method]
    forward_backward(fn, *make_inputs(4, d, "cpu"), tau)  # load kernels, allocate thread pools
    z1, z2 = make_inputs(n, d, "cpu")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS high-water mark to the current RSS
        before = _rss_kib("VmRSS")
        forward_backward(fn, z1, z2, tau)
        peak_kib = _rss_kib("VmHWM") - before
    except OSError:  # no /proc (macOS): the process's peak RSS, after minus before
        import resource
        scale = 1 if sys.platform != "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
        forward_backward(fn, z1, z2, tau)
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale - before
    return peak_kib / 1024


def peak_mb(method, n, d, tau, device):
    if device.type == "cuda":
        forward_backward(METHODS[method], *make_inputs(4, d, device), tau)
        z1, z2 = make_inputs(n, d, device)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        forward_backward(METHODS[method], z1, z2, tau)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    threads = ["--threads", str(torch.get_num_threads())]
    out = subprocess.run([sys.executable, __file__, "--child", method, str(n), str(d), str(tau), *threads],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def loop_cost_per_term(sizes, d, tau, device):
    """Seconds per (i, k) term of the loop, from whole forward+backward runs at small N."""
    for n in sizes:
        z1, z2 = make_inputs(n, d, device)
        sync(device)
        t = time.perf_counter()
        value = forward_backward(info_nce_loop, z1, z2, tau)
        sync(device)
        per_term = (time.perf_counter() - t) / (2 * n * (2 * n - 1))
        torch.testing.assert_close(value, forward_backward(info_nce, z1, z2, tau), atol=1e-5, rtol=0)
        print(f"loop at N={n}: {per_term * 1e6:.1f} µs per (i, k) term; value equals ours")
    return per_term


def measure(args, device):
    """{(method, N): (seconds, peak MB, loss, note)}; a note starting with '~' marks an estimate."""
    d, tau, out = args.dim, args.tau, {}
    per_term = loop_cost_per_term(args.loop_sizes, d, tau, device)
    for n in args.sizes:
        blog_gb = 6 * (2 * n) ** 2 * d * 4 / 1e9  # about 6 float32 (2N, 2N, D) tensors at the peak
        names = [m for m in ("ours", "blog", "lightly")
                 if m in METHODS and not (m == "blog" and blog_gb > args.max_gb)]
        times, values = time_methods(names, n, d, tau, device)
        for m in names:
            torch.testing.assert_close(values[m], values["ours"], atol=1e-4, rtol=1e-5,
                                       msg=lambda s: f"{m} disagrees with ours at N={n}: {s}")
            out[m, n] = (times[m], peak_mb(m, n, d, tau, device), values[m], "")
        if n == args.sizes[0]:
            out["loop", n] = (per_term * 2 * n * (2 * n - 1), None, None,
                              f"~ {per_term * 1e6:.1f} µs/term × 2N(2N-1) terms, measured at N={args.loop_sizes[-1]}")
        ran = [k for (m, k) in out if m == "blog"]
        if "blog" not in names and ran:  # quadratic growth from the largest N where it ran
            t0, p0, _, _ = out["blog", max(ran)]
            f = (n / max(ran)) ** 2
            out["blog", n] = (t0 * f, p0 * f, None, f"~ ×{f:g} from N={max(ran)}: estimated "
                              f"{blog_gb:.1f} GB > --max-gb {args.max_gb:g}, not run")
    return out


def ratio_str(r):
    return f"{r:,.0f}" if r >= 100 else f"{r:.2f}"


def report(out, args, device):
    where = f"threads={torch.get_num_threads()}" if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"\nInfoNCE forward+backward, D={args.dim}, τ={args.tau}, float32, {device.type} ({where}), "
          f"torch {torch.__version__}  (~ = extrapolated, see the notes)")
    print(f"{'method':8} {'N':>5} {'time ms':>11} {'× ours':>8} {'peak MB':>10} {'× ours':>8} {'loss':>8}  note")
    for n in args.sizes:
        t_ours, p_ours = out["ours", n][:2]
        for m in ("ours", "loop", "blog", "lightly"):
            if (m, n) in out:
                t, p, v, note = out[m, n]
                mark = "~" if note.startswith("~") else " "
                mem = f"{mark}{p:9.1f} {p / p_ours:7.1f}×" if p is not None else f"{'—':>10} {'':8}"
                loss = f"{v:8.5f}" if v is not None else f"{'—':>8}"
                print(f"{m:8} {n:>5} {mark}{t * 1e3:10.1f} {ratio_str(t / t_ours):>7}× {mem} {loss}  "
                      f"{note.lstrip('~ ')}")

    def verdict(name, r, goal, n):
        est = " (extrapolated)" if out[name.split()[0], n][3].startswith("~") else ""
        print(f"  {name} at N={n}: {ratio_str(r)}×{est}, goal >= {goal}×: {'PASS' if r >= goal else 'FAIL'}")

    print("\nGoals (ratio = theirs / ours)")
    small, big = args.sizes[0], args.sizes[-1]
    verdict("loop time", out["loop", small][0] / out["ours", small][0], 100, small)
    if ("blog", big) in out:
        verdict("blog peak memory", out["blog", big][1] / out["ours", big][1], 20, big)
    for n in args.sizes:
        if ("lightly", n) in out:
            verdict("lightly time", out["lightly", n][0] / out["ours", n][0], 1, n)
    if "lightly" not in METHODS:
        print("  lightly: not importable, skipped (`make bench` installs it in build/peers)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048], help="batch sizes N")
    parser.add_argument("--dim", type=int, default=128, help="projection width D")
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--loop-sizes", type=int, nargs="+", default=[16, 32],
                        help="N at which the loop runs whole (its per-term cost is taken from the last)")
    parser.add_argument("--max-gb", type=float, default=6.0,
                        help="extrapolate the blog loss instead of running it when its estimated peak is larger")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is steadier on a busy machine)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:  # a fresh process measuring one peak (see peak_mb)
        method, n, d, tau = args.child
        if method == "lightly":
            load_lightly()
        print(json.dumps({"peak_mb": child_peak_mb(method, int(n), int(d), float(tau))}))
        return
    device = torch.device(args.device)
    load_lightly()
    report(measure(args, device), args, device)


if __name__ == "__main__":
    main()
