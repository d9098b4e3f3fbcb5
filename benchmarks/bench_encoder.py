"""Images per second of the small ``ConvEncoder`` against torchvision's ResNet-18 (CIFAR stem).

Inference (no grad) and a training step (forward + backward + SGD update) on 32x32 batches of
256, side by side in one run, each encoder in the channels_last layout it uses and in PyTorch's
default NCHW layout. The README's performance section quotes this script.

    .venv/bin/python benchmarks/bench_encoder.py [--device cpu] [--batch 256] [--reps 5]
"""
from __future__ import annotations

import argparse
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
    print(f"{'encoder':<20}{'params':>10}{'infer img/s':>14}{'train img/s':>14}")
    rows = {}
    for name, make in [("ConvEncoder", st.ConvEncoder), ("ResNet-18", st.ResNet18Encoder)]:
        for layout, suffix in ((torch.channels_last, ""), (torch.contiguous_format, " NCHW")):
            enc = make().to(device)
            enc.memory_format = layout  # an instance attribute overrides Encoder.memory_format
            enc.to(memory_format=layout)
            opt = torch.optim.SGD(enc.parameters(), lr=0.01)

            @torch.no_grad()
            def infer():
                enc.eval()
                enc(x)

            def train():
                enc.train()
                loss = enc(x).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

            reps = args.reps if name == "ConvEncoder" or device.type != "cpu" else max(1, args.reps // 2)
            rows[name + suffix] = (images_per_second(infer, args.batch, reps, device),
                                   images_per_second(train, args.batch, reps, device))
            params = sum(p.numel() for p in enc.parameters())
            print(f"{name + suffix:<20}{params:>10,}{rows[name + suffix][0]:>14,.0f}"
                  f"{rows[name + suffix][1]:>14,.0f}")
    small, big = rows["ConvEncoder"], rows["ResNet-18"]
    print(f"ConvEncoder is {small[0] / big[0]:.0f}x faster at inference and "
          f"{small[1] / big[1]:.0f}x faster to train than ResNet-18 here.")
    for name in ("ConvEncoder", "ResNet-18"):
        cl, nchw = rows[name], rows[name + " NCHW"]
        print(f"{name}: channels_last is {cl[0] / nchw[0]:.2f}x (inference) and {cl[1] / nchw[1]:.2f}x "
              f"(training) the speed of NCHW.")


if __name__ == "__main__":
    main()
