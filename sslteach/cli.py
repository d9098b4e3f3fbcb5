"""Command line: ``python -m sslteach {pretrain,probe,notebooks} ...`` (``--help`` on each).

    python -m sslteach pretrain simclr --epochs 50 --out checkpoints/simclr_long.pt
    python -m sslteach probe checkpoints/simclr_long.pt
    python -m sslteach notebooks --mode quick

Pre-training (:func:`sslteach.pretrained.pretrain`, with the method's classroom recipe unless
flags change it) saves the encoder (``state_dict``), its ``config`` (``build_encoder(**config)``
rebuilds it), the method, the recipe, every argument, the seed, the wall time, the history and the
probe results, atomically with a ``.sha256``; ``probe`` reads it back with ``weights_only=True``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from .data import load_cifar10
from .probe import extract_features, format_table, probe_table
from .models import build_encoder
from .pretrained import METHODS, RECIPES, pretrain as pretrain_encoder, save_pretrained
from .train import load_checkpoint
from .utils import REPO_ROOT, get_device

# command-line flag -> recipe setting (a flag left out keeps the method's recipe value)
RECIPE_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "temperature", "strength", "colour", "min_scale",
                "kind", "n_per_class")
# --encoder -> the recipe's encoder config (left out: the method's classroom CNN)
ENCODERS = {"conv-stride": dict(name="conv", downsample="stride"), "conv-pool": dict(name="conv", downsample="pool"),
            "resnet18": dict(name="resnet18")}


def pretrain(args: argparse.Namespace) -> dict:
    overrides = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None}
    if args.encoder is not None:
        overrides["encoder"] = ENCODERS[args.encoder]  # recipe_for deep-copies it
    unknown = sorted(set(overrides) - set(RECIPES[args.method]))
    if unknown:
        raise SystemExit(f"--{unknown[0].replace('_', '-')} is not a setting of {args.method}; its "
                         f"settings are {', '.join(RECIPES[args.method])}")
    encoder, info = pretrain_encoder(args.method, seed=args.seed, device=args.device, **overrides)
    device, n = get_device(args.device), info["recipe"]["n_per_class"]
    train = load_cifar10("train", n_per_class=n)
    test = load_cifar10("test", n_per_class=n and max(2, n // 5))
    feats = {args.method: (extract_features(encoder, train.images, device=device),
                           extract_features(encoder, test.images, device=device))}
    budgets = (10, None) if n is None or n >= 10 else (None,)
    table = probe_table(feats, train.labels, test.labels, labels_per_class=budgets)
    print(format_table(table))
    save_pretrained(args.out, encoder, info, metrics=table[args.method],
                    args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "func"},
                    command=" ".join(["python -m sslteach"] + sys.argv[1:]))
    print(f"saved {args.out} ({info['seconds']:.0f} s of training on {device})")
    return table[args.method]


def probe(args: argparse.Namespace) -> dict:
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    if "config" not in ckpt:
        raise SystemExit(f"{args.checkpoint} has no encoder config: it was not written by "
                         f"`python -m sslteach pretrain`")
    encoder = build_encoder(**ckpt["config"])
    load_checkpoint(args.checkpoint, encoder)
    device = get_device(args.device)
    train, test = load_cifar10("train"), load_cifar10("test")
    block = None if args.block == -1 else args.block
    feats = {ckpt.get("method", "encoder"): (extract_features(encoder, train.images, device=device, block=block),
                                             extract_features(encoder, test.images, device=device, block=block))}
    budgets = tuple(None if k == "all" else int(k) for k in args.labels_per_class)
    table = probe_table(feats, train.labels, test.labels, labels_per_class=budgets)
    print(format_table(table))
    return next(iter(table.values()))


def notebooks(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or sorted((REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    env = dict(os.environ, SSLTEACH_QUICK="1" if args.mode == "quick" else "0")
    failed = 0
    for nb in paths:
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=1800"]
        cmd += ["--inplace"] if args.mode == "classroom" else ["--output-dir", str(Path(args.tmp))]
        code = subprocess.run(cmd + [str(nb)], env=env, capture_output=True, text=True)
        status = "ok" if code.returncode == 0 else "FAILED"
        failed += code.returncode != 0
        print(f"{nb.name:<36} {args.mode:>9} {time.perf_counter() - start:7.1f} s  {status}", flush=True)
        if code.returncode != 0:
            print(code.stderr[-3000:], file=sys.stderr)
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sslteach", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    pre = sub.add_parser("pretrain", help="pre-train an encoder on the shipped CIFAR-10 (no labels) and save it")
    pre.add_argument("method", choices=METHODS)
    pre.add_argument("--out", required=True, type=Path, help="checkpoint file to write")
    pre.add_argument("--epochs", type=int, default=None, help="default (like every setting left out): "
                     "the method's classroom recipe, sslteach.pretrained.RECIPES")
    pre.add_argument("--batch-size", type=int, default=None)
    pre.add_argument("--lr", type=float, default=None, help="AdamW learning rate (cosine schedule)")
    pre.add_argument("--weight-decay", type=float, default=None)
    pre.add_argument("--temperature", type=float, default=None, help="simclr: InfoNCE temperature")
    pre.add_argument("--strength", type=float, default=None, help="simclr: augmentation strength")
    pre.add_argument("--colour", type=float, default=None, help="simclr: colour-jitter strength (default 0.5)")
    pre.add_argument("--min-scale", type=float, default=None, help="simclr: smallest crop area fraction (default 0.2)")
    pre.add_argument("--kind", default=None, choices=("plain", "denoising", "masked"),
                     help="autoencoder: variant")
    pre.add_argument("--n-per-class", type=int, default=None, help="use only this many images per class")
    pre.add_argument("--encoder", default=None, choices=tuple(ENCODERS),
                     help="default: the recipe's small CNN (simclr: conv-pool, others: conv-stride); "
                          "resnet18 (11M weights) wants a GPU")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    pre.set_defaults(func=pretrain)

    pr = sub.add_parser("probe", help="linear probe and kNN of a saved encoder on CIFAR-10 10k/2k")
    pr.add_argument("checkpoint", type=Path)
    pr.add_argument("--labels-per-class", nargs="+", default=["10", "100", "all"])
    pr.add_argument("--block", type=int, default=-1, help="probe the pooled output of this block")
    pr.add_argument("--device", default=None)
    pr.set_defaults(func=probe)

    nb = sub.add_parser("notebooks", help="execute the notebooks and print each one's wall time")
    nb.add_argument("paths", nargs="*", help="notebooks (default: all of notebooks/)")
    nb.add_argument("--mode", choices=("quick", "classroom"), default="quick",
                    help="classroom saves the outputs in place; quick writes copies to --tmp")
    nb.add_argument("--tmp", default="/tmp/sslteach-notebooks")
    nb.set_defaults(func=notebooks)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    result = args.func(args)
    return result if isinstance(result, int) else 0
