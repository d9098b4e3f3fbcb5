"""Images per second of the small ``ConvEncoder`` against torchvision's ResNet-18 (CIFAR stem).

Inference (no grad) and a training step (forward + backward + SGD update) on 32x32 batches of
256, side by side in one run: each encoder in the channels_last layout it uses and in PyTorch's
default NCHW layout, the ``ConvEncoder`` also in its ``downsample="pool"`` form (notebook 03's
SimCLR encoder) and, where :func:`sslteach.train.amp_dtype` picks one on this device, with the
mixed precision that ``st.fit`` uses. The README's performance section quotes this script.

    .venv/bin/python benchmarks/bench_encoder.py [--device cpu] [--batch 256] [--reps 5]
"""
from __future__ import annotations

import argparse
import functools
import statistics
import time

import torch

import sslteach as st


def images_per_second(fn, batch, reps, device):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    device = st.get_device(args.device)
    st.set_seed(0)
    x = st.load_cifar10("train", dtype=torch.float32).images[:args.batch].to(device)
    print(f"{args.batch} CIFAR-10 images 32x32 on {device} ({torch.get_num_threads()} threads), "
          f"median of {args.reps}")
    print(f"{'encoder':<22}{'params':>10}{'infer img/s':>14}{'train img/s':>14}")
    amp = st.train.amp_dtype(device)
    pool_encoder = functools.partial(st.ConvEncoder, downsample="pool")
    variants = [("ConvEncoder", st.ConvEncoder, torch.channels_last, None),
                ("ConvEncoder NCHW", st.ConvEncoder, torch.contiguous_format, None),
                ("ConvEncoder pool", pool_encoder, torch.channels_last, None),
                ("ResNet-18", st.ResNet18Encoder, torch.channels_last, None),
                ("ResNet-18 NCHW", st.ResNet18Encoder, torch.contiguous_format, None)]
    if amp is not None:
        variants[3:3] = [("ConvEncoder amp", st.ConvEncoder, torch.channels_last, amp),
                         ("ConvEncoder pool amp", pool_encoder, torch.channels_last, amp)]
    rows = {}
    for name, make, layout, dtype in variants:
        enc = make().to(device)
        enc.memory_format = layout  # an instance attribute overrides Encoder.memory_format
        enc.to(memory_format=layout)
        opt = torch.optim.SGD(enc.parameters(), lr=0.01)

        @torch.no_grad()
        def infer():
            enc.eval()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                enc(x)

        def train():
            enc.train()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = enc(x).float().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        reps = args.reps if not name.startswith("ResNet") or device.type != "cpu" else max(1, args.reps // 2)
        rows[name] = (images_per_second(infer, args.batch, reps, device),
                      images_per_second(train, args.batch, reps, device))
        params = sum(p.numel() for p in enc.parameters())
        print(f"{name:<22}{params:>10,}{rows[name][0]:>14,.0f}{rows[name][1]:>14,.0f}")
    small, big = rows["ConvEncoder"], rows["ResNet-18"]
    print(f"ConvEncoder is {small[0] / big[0]:.0f}x faster at inference and "
          f"{small[1] / big[1]:.0f}x faster to train than ResNet-18 here.")
    for name in ("ConvEncoder", "ResNet-18"):
        cl, nchw = rows[name], rows[name + " NCHW"]
        print(f"{name}: channels_last is {cl[0] / nchw[0]:.2f}x (inference) and {cl[1] / nchw[1]:.2f}x "
              f"(training) the speed of NCHW.")
    pool = rows["ConvEncoder pool"]
    print(f"ConvEncoder pool trains at {pool[1] / small[1]:.2f}x the speed of the strided form.")
    if amp is not None:
        for name in ("ConvEncoder", "ConvEncoder pool"):
            print(f"{name}: {amp} mixed precision is {rows[name + ' amp'][0] / rows[name][0]:.2f}x (inference) "
                  f"and {rows[name + ' amp'][1] / rows[name][1]:.2f}x (training) the speed of float32.")


if __name__ == "__main__":
    main()
