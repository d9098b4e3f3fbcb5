"""Our skip-gram (sslteach.word2vec) against gensim's Word2Vec(sg=1) on the same tokens.

Both train with the same settings on the same tokenised corpus; both are evaluated with
sslteach.wordeval (WordSim-353 and SimLex-999 Spearman rho, Google analogies over the top-30k
words). Words/s = corpus tokens x epochs / training seconds (vocabulary building excluded for both).

    .venv/bin/python benchmarks/bench_word2vec.py                      # gutenberg, 10 epochs
    .venv/bin/python benchmarks/bench_word2vec.py --corpus enwiki --epochs 5

Goal: >= 0.5x gensim's words/s with rho within 0.03 of gensim's. On the small shipped corpora,
3 epochs leave both models near rho = 0 (too few updates), so the default is 10 epochs.
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from sslteach.textdata import load_corpus
from sslteach.embeddings import Embeddings
from sslteach.vocab import tokenize
from sslteach.word2vec import train_word2vec
from sslteach.wordeval import evaluate


def train_gensim(sentences, args):
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negatives,
                     min_count=args.min_count, sample=args.sample, sg=1, workers=args.workers,
                     alpha=args.lr, seed=args.seed)
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    return Embeddings.from_keyed_vectors(model.wv), time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="gutenberg", choices=["gutenberg", "enwiki"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-4)
    p.add_argument("--workers", type=int, default=2, help="threads, for both implementations")
    p.add_argument("--batch-size", type=int, default=256, help="ours: windows per SGD step")
    p.add_argument("--lr", type=float, default=0.025, help="starting learning rate (gensim: alpha)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-gensim", action="store_true")
    args = p.parse_args()

    sentences = tokenize(load_corpus(args.corpus))
    n_tokens = sum(map(len, sentences))
    emb = train_word2vec(sentences, dim=args.dim, window=args.window, negatives=args.negatives,
                         min_count=args.min_count, sample=args.sample, epochs=args.epochs, lr=args.lr,
                         batch_size=args.batch_size, workers=args.workers, device="cpu", seed=args.seed)
    results = {"sslteach": (evaluate(emb), emb.history["seconds"])}
    if not args.skip_gensim:
        try:
            g_emb, g_seconds = train_gensim(sentences, args)
            results["gensim"] = (evaluate(g_emb), g_seconds)
        except ImportError:
            print("gensim is not installed (.venv/bin/pip install gensim): showing sslteach only")

    print(f"\n{args.corpus}: {len(sentences):,} sentences, {n_tokens:,} tokens, V={len(emb):,}; dim {args.dim}, "
          f"window {args.window}, negatives {args.negatives}, min_count {args.min_count}, sample {args.sample:g}, "
          f"epochs {args.epochs}, {args.workers} workers, torch {torch.__version__}")
    ours = results["sslteach"][0]
    rows = [("train seconds", lambda r, s: s, ".1f"),
            ("words/s", lambda r, s: n_tokens * args.epochs / s, ",.0f"),
            (f"WordSim-353 rho ({ours['wordsim353_pairs']} pairs)", lambda r, s: r["wordsim353"], ".3f"),
            (f"SimLex-999 rho ({ours['simlex999_pairs']} pairs)", lambda r, s: r["simlex999"], ".3f"),
            (f"analogy acc ({ours['analogy_questions']} q)", lambda r, s: r["analogy"], ".3f")]
    names = list(results)
    print(f"{'':34}" + "".join(f"{n:>12}" for n in names) + ("   ours/gensim" if len(names) == 2 else ""))
    for label, get, fmt in rows:
        values = [get(*results[n]) for n in names]
        line = f"{label:34}" + "".join(f"{format(v, fmt):>12}" for v in values)
        if len(names) == 2:
            a, b = values
            if label.startswith("words"):
                line += f"   {a / b:.2f}x"
            elif label.startswith("train"):
                line += f"   {a / b:.2f}x time"
            else:
                line += f"   {a - b:+.3f}" if not (math.isnan(a) or math.isnan(b)) else ""
        print(line)


if __name__ == "__main__":
    main()
