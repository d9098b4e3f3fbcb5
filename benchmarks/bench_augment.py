"""Two SimCLR views of a CIFAR-10 batch: images per second, ``sslteach.augment`` against its peers.

    .venv/bin/python benchmarks/bench_augment.py                  # CPU, as many threads as cores
    .venv/bin/python benchmarks/bench_augment.py --device cuda

Compared, on the first ``--batch`` (256) shipped CIFAR-10 training images (float32 in [0, 1]),
each making two views (x1, x2) with the same recipe: RandomResizedCrop(32, scale (0.08, 1)),
horizontal flip p = 0.5, colour jitter (0.8, 0.8, 0.8, 0.2) with p = 0.8, grayscale p = 0.2.

- ours: ``TwoViews(simclr_augment(32))``, one call on the whole batch, per-image parameters.
- torchvision: ``v2.Compose([RandomResizedCrop, RandomHorizontalFlip, RandomApply([ColorJitter],
  p=0.8), RandomGrayscale])`` applied image by image in a Python loop (a v2 transform given a
  batch tensor would draw one crop for the whole batch).
- kornia: ``kornia.augmentation.AugmentationSequential`` of the same four ops on the batch, when
  ``import kornia`` works (``make bench`` installs it in build/peers); otherwise skipped with a note.

Time: after a warm-up call, the median of ``--reps`` interleaved rounds (one call of each method
per round, so a load spike from other processes hits all of them alike). images/s counts views:
2 x batch per call. The last column is the speed-up over torchvision's per-image loop.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sslteach.augment import TwoViews, simclr_augment  # noqa: E402
from sslteach.data import load_cifar10  # noqa: E402


def torchvision_views(size: int = 32):
    """Per-image loop over torchvision's v2 pipeline, the way a Dataset's transform runs."""
    from torchvision.transforms import v2

    t = v2.Compose([v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True), v2.RandomHorizontalFlip(0.5),
                    v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8), v2.RandomGrayscale(0.2)])
    return lambda x: (torch.stack([t(im) for im in x]), torch.stack([t(im) for im in x]))


def kornia_views(size: int = 32):
    """kornia's batched pipeline, or a string saying why it is skipped."""
    try:
        import kornia.augmentation as K
    except ImportError as e:
        return f"kornia skipped: `import kornia` failed ({e}); `make bench` installs it in build/peers"
    aug = K.AugmentationSequential(K.RandomResizedCrop((size, size), scale=(0.08, 1.0)), K.RandomHorizontalFlip(),
                                   K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8), K.RandomGrayscale(p=0.2))
    return lambda x: (aug(x), aug(x))


def sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    parser.add_argument("--batch", type=int, default=256, help="images per batch (default 256)")
    parser.add_argument("--reps", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else os.cpu_count(), help="torch CPU threads (default: the cores this process may use)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    x = load_cifar10("train", dtype=torch.float32).images[:args.batch].to(device)  # (B, 3, 32, 32)
    ours = TwoViews(simclr_augment(32))
    methods = {"ours (batched)": lambda x: ours(x), "torchvision v2 per image": torchvision_views(32)}
    kornia = kornia_views(32)
    if isinstance(kornia, str):
        print(kornia)
    else:
        methods["kornia (batched)"] = kornia

    times = {name: [] for name in methods}
    with torch.no_grad():
        for name, fn in methods.items():  # warm-up, and a check that every method gives two views
            x1, x2 = fn(x)
            assert x1.shape == x2.shape == x.shape, (name, x1.shape)
        for _ in range(args.reps):
            for name, fn in methods.items():
                sync(device)
                start = time.perf_counter()
                fn(x)
                sync(device)
                times[name].append(time.perf_counter() - start)

    import torchvision
    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    if not isinstance(kornia, str):
        import kornia as kornia_module
        versions += f", kornia {kornia_module.__version__}"
    print(f"two views of {args.batch} CIFAR-10 images (32x32) on {device}, {torch.get_num_threads()} threads; "
          f"median of {args.reps} rounds; {versions}")
    base = statistics.median(times["torchvision v2 per image"])
    print(f"{'method':<26} {'ms / call':>10} {'images/s':>10} {'vs torchvision':>15}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:<26} {1e3 * t:>10.1f} {2 * args.batch / t:>10.0f} {base / t:>14.1f}x")


if __name__ == "__main__":
    main()
