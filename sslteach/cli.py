"""Command line: ``python -m sslteach {pretrain,probe,notebooks} ...`` (``--help`` on each).

    python -m sslteach pretrain simclr --epochs 50 --out checkpoints/simclr_long.pt
    python -m sslteach probe checkpoints/simclr_long.pt
    python -m sslteach pretrain gpt --out checkpoints/gpt.pt      # a language model: mlm or gpt (sslteach.textpretrain)
    python -m sslteach notebooks --mode quick
    torchrun --nproc_per_node=2 -m sslteach pretrain simclr --out checkpoints/simclr_2proc.pt
    python -m sslteach pretrain simclr --epochs 50 --out checkpoints/simclr_long.pt --resume   # after an interruption

Pre-training (:func:`sslteach.pretrained.pretrain`, with the method's classroom recipe unless
flags change it) saves the encoder (``state_dict``), its ``config`` (``build_encoder(**config)``
rebuilds it), the method, the recipe, every argument, the seed, the wall time, the history and the
probe results, atomically with a ``.sha256``; ``probe`` reads it back with ``weights_only=True``.

Every error is one line on stderr, ``<command>: error: <what is wrong and how to fix it>``, with
exit code 2 and no traceback; ``--debug`` shows the traceback. Arguments are checked before any
training, so a wrong ``--out`` or ``--device`` fails at once, not after the run.
"""
from __future__ import annotations

import argparse
import ast
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from .data import DataError, load_cifar10
from .probe import extract_features, format_table, probe_table
from .pretrained import load_encoder, pretrain as pretrain_encoder
from .recipes import METHODS, RECIPES
from .textpretrain import TEXT_RECIPES, pretrain_command as pretrain_text_command
from . import distributed
from .checkpoint import CheckpointError, checksum_path, load_checkpoint
from .utils import REPO_ROOT, check_number, check_out_path, get_device

PROG = "python -m sslteach"
# command-line flag -> recipe setting (a flag left out keeps the method's recipe value)
RECIPE_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "temperature", "strength", "colour", "min_scale",
                "kind", "n_per_class")
# --encoder -> the recipe's encoder config (left out: the method's classroom CNN)
ENCODERS = {"conv-stride": dict(name="conv", downsample="stride"), "conv-pool": dict(name="conv", downsample="pool"),
            "resnet18": dict(name="resnet18")}
NOT_SAVED = ("func", "debug", "argv")  # namespace entries that are not settings of the run


def setting(text: str) -> tuple[str, object]:
    """``--set name=value``: any recipe setting; the value is read as a Python literal (``0.99``,
    ``True``, ``None``, ``'masked'``), anything else as a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value (e.g. --set queue_size=1024), got {text!r}")
    try:
        parsed = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        parsed = value.strip()
    return name.strip().replace("-", "_"), parsed


def pretrain(args: argparse.Namespace) -> dict:
    if args.method in TEXT_RECIPES:              # mlm, gpt: a language model (sslteach.textpretrain)
        return pretrain_text_command(args)
    overrides = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None}
    for name, value in args.set or ():
        if name in overrides:
            raise ValueError(f"{name} is given twice (--{name.replace('_', '-')} and --set {name}=...); give it once")
        overrides[name] = value
    if args.encoder is not None:
        overrides["encoder"] = ENCODERS[args.encoder]  # recipe_for deep-copies it
    unknown = sorted(set(overrides) - set(RECIPES[args.method]))
    if unknown:
        raise ValueError(f"--{unknown[0].replace('_', '-')} is not a setting of {args.method}; its "
                         f"settings are {', '.join(RECIPES[args.method])}")
    device = get_device(args.device)             # all checked before training, not after it
    check_out_path(args.out, "--out")
    state = args.out.with_name(f"{args.out.stem}.state.pt")   # the training state after every epoch, for --resume
    group = distributed.setup()                  # under torchrun: join its processes (one process otherwise)
    try:
        run = pretrain_encoder(args.method, seed=args.seed, device=None if group.distributed else device,
                               quick=args.quick, checkpoint=state, resume=args.resume, accumulate=args.accumulate,
                               images=_full_images(args.data, group), **overrides)
        if group.is_main:                        # one process probes, prints and writes the checkpoint
            return _probe_and_save(args, run, group.device if group.distributed else device, state)
        return {}
    finally:
        distributed.cleanup()


FULL = {"cifar10-full": ("cifar10", "train"), "stl10": ("stl10", "train+unlabeled")}   # --data: opt-in downloads


def _full_images(data: str, group):
    """The images of ``--data`` (None: the shipped subset); under torchrun rank 0 downloads first."""
    if data == "shipped":
        return None
    from .online import load_torchvision
    if group.distributed and not group.is_main:
        torch.distributed.barrier()              # wait for rank 0's download
    images = load_torchvision(*FULL[data]).images
    if group.distributed and group.is_main:
        torch.distributed.barrier()
    return images


def _probe_and_save(args: argparse.Namespace, run, device, state: Path) -> dict:
    encoder, n = run.encoder, run.recipe["n_per_class"]
    train = load_cifar10("train", n_per_class=n)
    test = load_cifar10("test", n_per_class=n and max(2, n // 5))
    feats = {args.method: (extract_features(encoder, train.images, device=device),
                           extract_features(encoder, test.images, device=device))}
    budgets = (10, None) if n is None or n >= 10 else (None,)
    table = probe_table(feats, train.labels, test.labels, labels_per_class=budgets)
    print(format_table(table))
    run.save(args.out, metrics=table[args.method],
             args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in NOT_SAVED},
             command=f"{PROG} {shlex.join(args.argv)}")
    for done in (state, checksum_path(state)):  # finished: nothing left to resume
        done.unlink(missing_ok=True)
    procs = run.info["processes"]
    print(f"saved {args.out} ({run.info['seconds']:.0f} s of training on {device}"
          f"{f', {procs} processes' if procs > 1 else ''})")
    return table[args.method]


def probe(args: argparse.Namespace) -> dict:
    device = get_device(args.device)
    ckpt = load_checkpoint(args.checkpoint)      # sha256 checked; a missing or broken file fails here
    if "config" not in ckpt:
        raise CheckpointError(f"{args.checkpoint} has no encoder config: it was not written by "
                              f"`{PROG} pretrain` (or PretrainRun.save()), so its encoder cannot be rebuilt")
    encoder = load_encoder(args.checkpoint)
    train, test = load_cifar10("train"), load_cifar10("test")
    block = None if args.block == -1 else args.block
    feats = {ckpt.get("method", "encoder"): (extract_features(encoder, train.images, device=device, block=block),
                                             extract_features(encoder, test.images, device=device, block=block))}
    budgets = tuple(args.labels_per_class)
    table = probe_table(feats, train.labels, test.labels, labels_per_class=budgets)
    print(format_table(table))
    return next(iter(table.values()))


def notebooks(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or sorted((REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no notebook file {', '.join(missing)}; check the path (e.g. "
                                f"notebooks/01_why_self_supervised.ipynb), or leave it out to run all of notebooks/")
    if not paths:
        raise FileNotFoundError(f"no notebooks named like 01_*.ipynb in {REPO_ROOT / 'notebooks'}")
    not_notebooks = [str(p) for p in paths if p.suffix != ".ipynb"]
    if not_notebooks:
        raise ValueError(f"{', '.join(not_notebooks)} is not a notebook (.ipynb); pass notebook files")
    if args.mode == "quick":
        check_out_path(args.tmp, "--tmp", folder=True)
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


# ---- argument types: a bad value is a one-line usage error before anything runs

def number(kind: type = float, **limits) -> Callable[[str], float | int]:
    """An argparse ``type``: the text as a ``kind`` (int or float) within ``limits`` (the keywords of
    :func:`sslteach.utils.check_number`); NaN and infinities are refused."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        try:
            return check_number(value, "the value", integer=kind is int, **limits)
        except (TypeError, ValueError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def labels_per_class(text: str) -> int | None:
    """``all`` (every label) or a number of labels per class >= 1."""
    if text == "all":
        return None
    try:
        return number(int, low=1)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'all' or a number of labels per class >= 1, got {text!r}") from None


class Parser(argparse.ArgumentParser):
    """argparse, with each usage error on one line: ``prog: error: message (see prog --help)``, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text) -> str:
    return " ".join(str(text).split())


def exit_code(stop: SystemExit) -> int:
    """The exit code a ``SystemExit`` carries (None is 0, a message is 2)."""
    return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2


def run(prog: str, call: Callable[[], int | None], debug: bool = False) -> int:
    """``call()``'s exit code (None and non-int results are 0); an error becomes one line on stderr,
    ``prog: error: message``, and exit code 2, or is re-raised with its traceback when ``debug``."""
    try:
        result = call()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every error, expected or not, is one line without --debug
        if debug:
            raise
        expected = isinstance(err, (ValueError, TypeError, OSError, FloatingPointError, DataError))
        tail = "" if expected else f" ({type(err).__name__}; run again with --debug for the traceback)"
        print(f"{prog}: error: {one_line(err) or type(err).__name__}{tail}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def sweep(args: argparse.Namespace) -> int:
    from . import sweeps

    if args.list:
        for name, exp in sorted(sweeps.experiments().items()):
            print(f"{name:<22} notebook {exp.notebook}: {exp.description} [{len(exp.conditions)} conditions x "
                  f"{len(exp.seeds)} {exp.what}]")
        return 0
    if not args.name:
        raise ValueError("name the experiment to run, e.g. `python -m sslteach sweep simclr-ablations` "
                         "(--list shows them all)")
    if args.out is not None:
        check_out_path(args.out, "--out")
    sweeps.run_sweep(args.name, args.seeds, quick=args.quick, device=get_device(args.device), out=args.out,
                     conditions=args.conditions, command=" ".join(["python -m sslteach"] + args.argv))
    return 0


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    common = argparse.ArgumentParser(add_help=False)  # --debug after the command works too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    positive, at_least_0 = dict(low=0, low_open=True), dict(low=0)

    pre = sub.add_parser("pretrain", parents=[common], help="pre-train an encoder on the shipped CIFAR-10 (no labels), "
                         "or a language model on the shipped text (mlm, gpt), and save it")
    pre.add_argument("method", choices=METHODS + tuple(TEXT_RECIPES))
    pre.add_argument("--quick", action="store_true", help="tiny settings, only to check the code runs")
    pre.add_argument("--out", required=True, type=Path, help="checkpoint file to write")
    pre.add_argument("--epochs", type=number(int, low=1), default=None, help="default (like every setting left "
                     "out): the method's classroom recipe, sslteach.recipes.RECIPES")
    pre.add_argument("--batch-size", type=number(int, low=1), default=None)
    pre.add_argument("--lr", type=number(**positive), default=None, help="AdamW learning rate (cosine schedule)")
    pre.add_argument("--weight-decay", type=number(**at_least_0), default=None)
    pre.add_argument("--temperature", type=number(**positive), default=None, help="simclr: InfoNCE temperature")
    pre.add_argument("--strength", type=number(**at_least_0), default=None, help="simclr: augmentation strength")
    pre.add_argument("--colour", type=number(**at_least_0), default=None,
                     help="simclr: colour-jitter strength (default 0.5)")
    pre.add_argument("--min-scale", type=number(low=0, low_open=True, high=1), default=None,
                     help="simclr: smallest crop area fraction (default 0.2)")
    pre.add_argument("--kind", default=None, choices=("plain", "denoising", "masked"),
                     help="autoencoder: variant")
    pre.add_argument("--n-per-class", type=number(int, low=1), default=None,
                     help="use only this many images per class")
    pre.add_argument("--encoder", default=None, choices=tuple(ENCODERS),
                     help="default: the recipe's small CNN (simclr: conv-pool, others: conv-stride); "
                          "resnet18 (11M weights) wants a GPU")
    pre.add_argument("--set", type=setting, action="append", metavar="NAME=VALUE",
                     help="any other recipe setting, e.g. --set queue_size=1024 --set stop_gradient=False "
                          "(sslteach.recipes.RECIPES lists each method's settings)")
    pre.add_argument("--seed", type=number(int, low=0, high=2**32 - 1), default=0)
    pre.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available; under torchrun "
                     "each process's own GPU, or the CPU)")
    pre.add_argument("--resume", action="store_true", help="continue an interrupted run from OUT's training state "
                     "(OUT with .state.pt, written after every epoch) with the same settings")
    pre.add_argument("--data", choices=("shipped", *FULL), default="shipped", help="shipped: the 10,000 CIFAR-10 "
                     "images in data/ (offline); cifar10-full (50,000) and stl10 (105,000 at 96x96, with the unlabelled "
                     "split) are downloaded once by torchvision (online, opt-in); the probe afterwards is the shipped one")
    pre.add_argument("--accumulate", type=number(int, low=1), default=1, help="split each batch into this many "
                     "whose gradients add up before one step: the same batch size in less memory")
    pre.set_defaults(func=pretrain)

    pr = sub.add_parser("probe", parents=[common], help="linear probe and kNN of a saved encoder on CIFAR-10 10k/2k")
    pr.add_argument("checkpoint", type=Path)
    pr.add_argument("--labels-per-class", nargs="+", type=labels_per_class, default=[10, 100, None],
                    help="labels per class for the probes: numbers, or 'all' (default: 10 100 all)")
    pr.add_argument("--block", type=number(int, low=-1), default=-1,
                    help="probe the pooled output of this block (-1: the encoder's output)")
    pr.add_argument("--device", default=None)
    pr.set_defaults(func=probe)

    sw = sub.add_parser("sweep", parents=[common], help="run a notebook's multi-seed experiment and write its results "
                        "file (data/results/NAME.json)")
    sw.add_argument("name", nargs="?", help="the experiment (see --list)")
    sw.add_argument("--list", action="store_true", help="describe every experiment and exit")
    sw.add_argument("--seeds", nargs="+", type=number(int, low=0), default=None,
                    help="seeds or label draws (default: the experiment's, usually 0 1 2)")
    sw.add_argument("--conditions", nargs="+", default=None, help="only these conditions (default: all)")
    sw.add_argument("--quick", action="store_true", help="tiny settings, only to check the code runs (written to a "
                    "temporary folder unless --out is given)")
    sw.add_argument("--out", type=Path, default=None, help="results file (default data/results/NAME.json)")
    sw.add_argument("--device", default=None)
    sw.set_defaults(func=sweep)

    nb = sub.add_parser("notebooks", parents=[common], help="execute the notebooks and print each one's wall time")
    nb.add_argument("paths", nargs="*", help="notebooks (default: all of notebooks/)")
    nb.add_argument("--mode", choices=("quick", "classroom"), default="quick",
                    help="classroom saves the outputs in place; quick writes copies to --tmp")
    nb.add_argument("--tmp", default="/tmp/sslteach-notebooks")
    nb.set_defaults(func=notebooks)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns its exit code: 0 done, 1 a notebook failed, 2 an error (one line on stderr)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or a usage error already printed on one line (2)
        return exit_code(stop)
    args.argv = argv
    return run(f"{PROG} {args.command}", lambda: args.func(args), debug=args.debug)
