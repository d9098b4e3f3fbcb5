"""t-SNE of 5,000 CIFAR-10 feature vectors on this machine: scikit-learn vs openTSNE, side by side.

Decides which library ``sslteach.viz.tsne`` uses (openTSNE with 2 jobs: the fastest here).
The speed-up column is relative to scikit-learn with one thread. Features are those of the random-init
``ConvEncoder`` (256-D, L2-normalised), the same kind of input the notebooks map.

    .venv/bin/python benchmarks/bench_tsne.py [--n 5000] [--repeats 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

import sslteach as st


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from sklearn.manifold import TSNE

    st.set_seed(0)
    images = st.load_cifar10("train", n_per_class=args.n // 10).images
    x = F.normalize(st.extract_features(st.ConvEncoder(), images, device="cpu"), dim=1).numpy()
    print(f"t-SNE of {x.shape[0]} x {x.shape[1]} features, perplexity 30, PCA init, "
          f"torch threads {torch.get_num_threads()}")

    def sklearn_run(threads):
        def run():
            with threadpool_limits(threads):
                return TSNE(2, perplexity=30, init="pca", learning_rate="auto", random_state=0).fit_transform(x)
        return run

    rows = [("scikit-learn, 1 thread", sklearn_run(1)),
            ("scikit-learn, 2 threads", sklearn_run(2))]
    try:
        from openTSNE import TSNE as OpenTSNE

        rows.append(("openTSNE, n_jobs=2 (sslteach.viz.tsne)", lambda: OpenTSNE(perplexity=30, initialization="pca", n_jobs=2,
                                                            random_state=0).fit(x)))
        rows.append(("openTSNE, n_jobs=1", lambda: OpenTSNE(perplexity=30, initialization="pca", n_jobs=1,
                                                            random_state=0).fit(x)))
    except ImportError:
        print("(openTSNE is not installed: pip install openTSNE to compare it)")

    base = None
    print(f"{'method':<44}{'seconds':>9}{'speed-up':>12}")
    for name, fn in rows:
        seconds, _ = timed(fn, args.repeats)
        base = base or seconds
        print(f"{name:<44}{seconds:>9.1f}{base / seconds:>11.2f}x")


if __name__ == "__main__":
    main()
