"""Pre-training a small language model, the way :mod:`sslteach.pretrained` pre-trains an encoder.

One recipe per objective, one function that trains it through :func:`sslteach.train.fit`, one file
that holds the result (weights, architecture and tokenizer, with its sha256)::

    run = pretrain_text("gpt")                  # next-token prediction, the classroom recipe (~2-3 min)
    run.info["metrics"]                         # held-out perplexity next to the n-gram baselines
    run.save("checkpoints/gpt.pt")              # + checkpoints/gpt.pt.sha256
    model, tokenizer = load_language_model("checkpoints/gpt.pt")

Both objectives share everything but the attention mask and the loss: ``"mlm"`` is BERT's masked
language model (bidirectional, 15% of the tokens to predict), ``"gpt"`` is next-token prediction
(causal). The text is the shipped pre-training sentences (:func:`sslteach.textdata.load_pretraining_text`),
cut by a WordPiece tokenizer trained on the training split and packed into rows of ``seq_len``
tokens (:func:`sslteach.tokenizer.pack_sequences`). The held-out metrics use the held-out documents
with the same tokenizer, next to the baselines a model has to beat: always guessing the most
frequent token (mlm), and unigram / bigram models counted on the same training tokens (gpt).

- Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers, 2019.
- Radford et al., Improving Language Understanding by Generative Pre-Training (GPT), 2018.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .batches import TensorLoader
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .language import masked_token_accuracy, mlm_step, most_frequent_token_accuracy, next_token_step, perplexity
from .ngram import bigram_perplexity, unigram_perplexity
from .textdata import DEFAULT_CORPORA, PRETRAIN_CORPORA, load_pretraining_text
from .tokenizer import KINDS, TextTokenizer, pack_sequences
from .train import History, cosine_schedule, fit
from .transformer import Transformer, TransformerConfig
from .utils import cache_dir, check_number, check_out_path, get_device, set_seed

# Classroom settings (notebook 09), sized for 2-3 minutes on a 2-core CPU in bfloat16. Measured on a
# 2-core CPU shared with another job: one step of 16 rows x 64 tokens took 0.27 s (mlm) and 0.37 s (gpt),
# the whole run (tokenizer and tokens from the cache, 1,024 held-out rows) 3.7-3.9 min, of which
# 225-230 s of CPU time: about 2.5 min with both cores free. Small batches learn more per second here
# (gpt at 600 x 16 rows: perplexity 190, at 300 x 32 rows: 223); with the same time, mlm gets more
# steps, since only its masked 15% of the positions go through the output layer.
_COMMON = dict(
    corpora=DEFAULT_CORPORA,  # shipped text (sslteach.textdata.PRETRAIN_CORPORA)
    n_sentences=None,         # use only the first n sentences of each split (None: all of them)
    kind="wordpiece",         # tokenizer: "wordpiece", "word" or "char" (sslteach.tokenizer)
    vocab_size=4000,          # tokens in the vocabulary, the 5 special ones included
    seq_len=64,               # tokens per row, also the model's max_len
    d_model=128, n_heads=4, n_layers=2, d_ff=512, dropout=0.0,  # the Transformer (sslteach.transformer)
    batch_size=16,            # rows per step
    lr=2e-3, weight_decay=0.01,  # AdamW; a linear warm-up of warmup_steps, then cosine decay to 0
    eval_rows=2048,           # held-out rows for the metrics, drawn once (None: the whole held-out split)
)
TEXT_RECIPES = {
    # BERT: 15% of the tokens chosen (80% [MASK], 10% random, 10% kept); 800 steps read ~820k tokens
    "mlm": dict(_COMMON, steps=800, warmup_steps=80, mask_p=0.15),
    # next-token prediction, causal attention; 600 steps read ~610k tokens (a sixth of the training text)
    "gpt": dict(_COMMON, steps=600, warmup_steps=60),
}
OBJECTIVES = tuple(TEXT_RECIPES)
QUICK_TEXT_RECIPE = dict(n_sentences=300, steps=4, batch_size=8, warmup_steps=1, eval_rows=32)  # code runs, no more

# what each numeric setting accepts (check_number's keywords); those in _MAY_BE_NONE take None too
_RANGES = dict(n_sentences=dict(low=1, integer=True), vocab_size=dict(low=6, integer=True),
               seq_len=dict(low=2, integer=True), steps=dict(low=1, integer=True), batch_size=dict(low=1, integer=True),
               lr=dict(low=0, low_open=True), weight_decay=dict(low=0), warmup_steps=dict(low=0, integer=True),
               eval_rows=dict(low=1, integer=True), mask_p=dict(low=0, high=1, low_open=True, high_open=True))
_MAY_BE_NONE = {"n_sentences", "eval_rows"}
EVAL_SEED = 0  # the held-out rows and their masks: the same for every run, so runs compare


def text_recipe(objective: str, quick: bool = False, **overrides) -> dict:
    """``TEXT_RECIPES[objective]``, with :data:`QUICK_TEXT_RECIPE` on top when ``quick``, then ``overrides``.

    Raises:
        ValueError: unknown objective, an override the objective has no setting for, or a value
            out of range (``steps=0``, ``lr=-1``, ``d_model=100`` with ``n_heads=3``, ...).
        TypeError: a value of the wrong type (``steps="3"``, ``batch_size=True``).
    """
    if not isinstance(objective, str) or objective not in TEXT_RECIPES:
        raise ValueError(f"objective must be one of {OBJECTIVES} (masked language model or next-token "
                         f"prediction), got {objective!r}")
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False, got {quick!r}")
    unknown = sorted(set(overrides) - set(TEXT_RECIPES[objective]))
    if unknown:
        raise ValueError(f"{objective!r} has no setting {', '.join(unknown)}; its settings are "
                         f"{', '.join(TEXT_RECIPES[objective])}")
    recipe = copy.deepcopy({**TEXT_RECIPES[objective], **(QUICK_TEXT_RECIPE if quick else {}), **overrides})
    for name, value in recipe.items():
        if name in _RANGES and not (value is None and name in _MAY_BE_NONE):
            check_number(value, name, **_RANGES[name], hint=f"e.g. {name}={TEXT_RECIPES[objective][name]!r}, the "
                         f"{objective} recipe's value{' (or None)' if name in _MAY_BE_NONE else ''}")
    if recipe["warmup_steps"] >= recipe["steps"]:
        raise ValueError(f"warmup_steps={recipe['warmup_steps']} must be less than steps={recipe['steps']}: the "
                         f"warm-up ends before the training does; e.g. warmup_steps={recipe['steps'] // 10}")
    if recipe["kind"] not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (how text is cut into tokens), got {recipe['kind']!r}")
    corpora = (recipe["corpora"],) if isinstance(recipe["corpora"], str) else recipe["corpora"]
    if not isinstance(corpora, (list, tuple)) or not corpora or any(c not in PRETRAIN_CORPORA for c in corpora):
        raise ValueError(f"corpora must be a non-empty list of names from {PRETRAIN_CORPORA}, got "
                         f"{recipe['corpora']!r}; e.g. corpora={DEFAULT_CORPORA!r}")
    recipe["corpora"] = tuple(corpora)
    _model_config(recipe, recipe["vocab_size"], objective)  # d_model / n_heads, dropout...: TransformerConfig checks
    return recipe


def _model_config(recipe: dict, vocab_size: int, objective: str) -> dict:
    """The Transformer's settings of a recipe (``vocab_size``: the trained tokenizer's), checked:
    causal attention for ``"gpt"``, bidirectional for ``"mlm"``."""
    config = dict(vocab_size=vocab_size, max_len=recipe["seq_len"], causal=objective == "gpt",
                  **{k: recipe[k] for k in ("d_model", "n_heads", "n_layers", "d_ff", "dropout")})
    TransformerConfig(**config)  # raises a clear error for d_model=100 with n_heads=3, dropout=1, ...
    return config


class StepLoader:
    """Exactly ``steps`` batches of ``rows``, reshuffled (with ``seed``) at each pass over them: the
    loader for ``fit(..., epochs=1)`` when a recipe counts optimiser steps rather than epochs."""

    def __init__(self, rows: torch.Tensor, batch_size: int, steps: int, seed: int = 0):
        if len(rows) < batch_size:
            raise ValueError(f"batch_size={batch_size} is larger than the {len(rows)} rows of training text: use a "
                             f"batch_size <= {len(rows)}, or more sentences (n_sentences)")
        self.rows = TensorLoader(rows, batch_size=batch_size, drop_last=True, seed=seed)
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        done = 0
        while done < self.steps:
            for batch in self.rows:  # (batch_size, seq_len) token ids
                if done == self.steps:
                    return
                yield batch
                done += 1


@dataclass
class TextPretrainRun:
    """What :func:`pretrain_text` returns: the model, its tokenizer, fit's history and a plain-dict
    record of the run (objective, recipe, seed, seconds, device, torch version, held-out metrics)."""
    model: Transformer
    tokenizer: TextTokenizer
    history: History
    info: dict

    @property
    def recipe(self) -> dict:
        return self.info["recipe"]

    def save(self, path: str | Path, **extra) -> Path:
        """Write the weights, ``config`` (``Transformer(**config)`` rebuilds the model), the tokenizer
        (its JSON, inside the same file) and ``info`` (plus ``extra`` plain values) atomically, with
        its ``.sha256``; read it back with :func:`load_language_model`."""
        return save_checkpoint(path, self.model, config=self.model.config, tokenizer=self.tokenizer.to_str(),
                               **self.info, **extra)


def pretrain_text(objective: str, *, seed: int = 0, device: torch.device | str | None = None, progress: bool = True,
                  quick: bool = False, **overrides) -> TextPretrainRun:
    """Pre-train a small transformer on the shipped text with a masked (``"mlm"``) or next-token
    (``"gpt"``) objective, then measure it on the held-out documents.

    Args:
        objective: ``"mlm"`` or ``"gpt"``.
        seed: seeds the initial weights, the order of the rows and the masks of training.
        device: default :func:`sslteach.utils.get_device`; bfloat16 where it is fast (``fit``).
        progress: show a progress bar.
        quick: apply :data:`QUICK_TEXT_RECIPE` (300 sentences, 4 steps): only to check code runs.
        **overrides: recipe settings to change (see :data:`TEXT_RECIPES`), e.g. ``steps=600``.

    Returns:
        A :class:`TextPretrainRun`; ``info["metrics"]`` holds, on the held-out rows, the masked-token
        accuracy and the most-frequent-token baseline (mlm), or the perplexity and the unigram and
        bigram perplexities (gpt).
    """
    recipe = text_recipe(objective, quick=quick, **overrides)
    check_number(seed, "seed", low=0, high=2**32 - 1, integer=True, hint="e.g. seed=0")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    device, begun = get_device(device), time.perf_counter()
    n = recipe["n_sentences"]
    train = load_pretraining_text(recipe["corpora"], split="train")[:n]
    test = load_pretraining_text(recipe["corpora"], split="test")[:n]
    tokenizer = trained_tokenizer(train, vocab_size=recipe["vocab_size"], kind=recipe["kind"])
    rows = pack_sequences(tokenizer, train, recipe["seq_len"])            # (N, T) training rows
    held_out = pack_sequences(tokenizer, test, recipe["seq_len"])         # (M, T) held-out rows, same tokens
    if recipe["eval_rows"] is not None and recipe["eval_rows"] < len(held_out):
        pick = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(EVAL_SEED))
        held_out = held_out[pick[:recipe["eval_rows"]].sort().values]     # (eval_rows, T), in document order
    set_seed(seed)
    model = Transformer(**_model_config(recipe, tokenizer.vocab_size, objective))
    if objective == "mlm":
        step = functools.partial(mlm_step, tokenizer=tokenizer, p=recipe["mask_p"])
    else:
        step = next_token_step
    loader = StepLoader(rows, recipe["batch_size"], recipe["steps"], seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = cosine_schedule(opt, recipe["steps"], warmup_steps=recipe["warmup_steps"])
    start = time.perf_counter()
    history = fit(model, step, loader, opt, 1, scheduler=sched, device=device, progress=progress,
                  desc=f"{objective} pre-training")
    seconds = time.perf_counter() - start
    metrics = held_out_metrics(model, tokenizer, rows, held_out, objective, recipe.get("mask_p"), device)
    info = dict(objective=objective, recipe=recipe, seed=seed, seconds=seconds, device=str(device),
                seconds_total=time.perf_counter() - begun,  # with the tokenizer, the packing and the metrics
                torch_version=str(torch.__version__), quick=quick, history=history.epoch, step_history=history.step,
                metrics=metrics, train_rows=len(rows), held_out_rows=len(held_out),
                tokens_seen=recipe["steps"] * recipe["batch_size"] * recipe["seq_len"])
    return TextPretrainRun(model.eval(), tokenizer, history, info)


def trained_tokenizer(sentences: list[str], vocab_size: int, kind: str) -> TextTokenizer:
    """``TextTokenizer.train(sentences, vocab_size, kind)``, kept in the cache folder and read back for the
    same text and settings. HuggingFace's WordPiece trainer breaks ties between equally frequent merges
    in hash-map order, so two trainings on the same text can give different vocabularies
    (huggingface/tokenizers#1794); with the cache, runs on one machine share one tokenizer: the same
    seed gives the same model, and the packed tokens are read from their cache (~15 s saved)."""
    from tokenizers import __version__ as version

    digest = hashlib.sha256(f"{kind} {vocab_size} {version}\n".encode())
    for s in sentences:
        digest.update(s.encode() + b"\n")
    try:
        path = cache_dir() / f"tokenizer.{digest.hexdigest()[:24]}.json"
    except OSError:  # no writable cache folder: train every time
        path = None
    if path is not None and path.is_file():
        try:
            return TextTokenizer.load(path)
        except ValueError:
            pass  # a torn or foreign file: train again
    tokenizer = TextTokenizer.train(sentences, vocab_size=vocab_size, kind=kind)
    if path is not None:
        try:
            tokenizer.save(path)  # atomic
        except OSError:
            pass  # only costs time
    return tokenizer


def held_out_metrics(model: Transformer, tokenizer: TextTokenizer, train_rows: torch.Tensor, rows: torch.Tensor,
                     objective: str, mask_p: float | None = None, device=None) -> dict:
    """The objective's held-out metric on ``rows`` (M, T) and its baselines (counted on ``train_rows``),
    in float32: ``masked_token_accuracy`` and ``most_frequent_token_accuracy`` (mlm, the same masked
    positions, drawn with :data:`EVAL_SEED`), or ``perplexity``, ``unigram_perplexity`` and
    ``bigram_perplexity`` (gpt, the same targets)."""
    if objective == "mlm":
        return {"masked_token_accuracy": masked_token_accuracy(model, rows, tokenizer, p=mask_p, seed=EVAL_SEED,
                                                               device=device),
                "most_frequent_token_accuracy": most_frequent_token_accuracy(train_rows, rows, tokenizer, p=mask_p,
                                                                             seed=EVAL_SEED)}
    return {"perplexity": perplexity(model, rows, device=device),
            "unigram_perplexity": unigram_perplexity(train_rows, rows, tokenizer.vocab_size),
            "bigram_perplexity": bigram_perplexity(train_rows, rows, tokenizer.vocab_size)}


def load_language_model(path: str | Path) -> tuple[Transformer, TextTokenizer]:
    """The model and tokenizer of a file written by :meth:`TextPretrainRun.save` (or ``python -m
    sslteach pretrain mlm/gpt``), sha256 checked; the model on the CPU, in eval mode.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a checkpoint (:func:`sslteach.checkpoint.load_checkpoint`), or one without
            a language model's ``config`` and ``tokenizer``, or whose parts do not fit together.
    """
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("config"), dict) or not isinstance(ckpt.get("tokenizer"), str):
        raise CheckpointError(f"{path} holds no language model (a 'config' dict and a 'tokenizer' JSON string): it "
                              f"was not written by pretrain_text(...).save() or `python -m sslteach pretrain mlm/gpt`; "
                              f"an image encoder loads with load_encoder({str(path)!r})")
    try:
        tokenizer = TextTokenizer.from_str(ckpt["tokenizer"])
        with torch.random.fork_rng(devices=[]):  # building the model leaves the caller's random state alone
            model = Transformer(**ckpt["config"])
        model.load_state_dict(ckpt["model"])
    except Exception as e:  # noqa: BLE001 - a bad config, tokenizer JSON or weights all mean a damaged file
        raise CheckpointError(f"{path}: its config, tokenizer and weights do not make a language model "
                              f"({type(e).__name__}: {' '.join(str(e).split())[:200]}); the file was written by "
                              f"another version of sslteach, or edited: train it again") from None
    if tokenizer.vocab_size != model.cfg.vocab_size:
        raise CheckpointError(f"{path}: its tokenizer has {tokenizer.vocab_size} tokens but its model "
                              f"{model.cfg.vocab_size}; the file was edited or mixed up: train it again")
    return model.eval(), tokenizer


# ---- the command line: `python -m sslteach pretrain mlm|gpt` (sslteach.cli dispatches here) ----

IMAGE_ONLY = {"encoder": None, "resume": False, "data": "shipped", "accumulate": 1}  # flags left at these values


def pretrain_command(args) -> dict:
    """``python -m sslteach pretrain mlm|gpt``: train, print the held-out metrics, save ``--out``."""
    from .cli import NOT_SAVED, PROG, RECIPE_FLAGS  # here: cli imports this module

    for name, default in IMAGE_ONLY.items():
        if getattr(args, name, default) != default:
            raise ValueError(f"--{name} is for the image methods; {args.method} does not take it")
    overrides = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k, None) is not None}
    for name, value in args.set or ():
        if name in overrides:
            raise ValueError(f"{name} is given twice (--{name.replace('_', '-')} and --set {name}=...); give it once")
        overrides[name] = value
    unknown = sorted(set(overrides) - set(TEXT_RECIPES[args.method]))
    if unknown:
        hint = " (it counts steps, not epochs: e.g. --set steps=600)" if unknown[0] == "epochs" else ""
        raise ValueError(f"--{unknown[0].replace('_', '-')} is not a setting of {args.method}{hint}; its settings "
                         f"are {', '.join(TEXT_RECIPES[args.method])} (--set name=value changes any of them)")
    text_recipe(args.method, quick=args.quick, **overrides)   # all checked before training, not after it
    device = get_device(args.device)
    check_out_path(args.out, "--out")
    run = pretrain_text(args.method, seed=args.seed, device=device, quick=args.quick, **overrides)
    m, rows = run.info["metrics"], f"{run.info['held_out_rows']} held-out rows of {run.recipe['seq_len']} tokens"
    if args.method == "mlm":
        print(f"{args.method} on {rows}: masked-token accuracy {m['masked_token_accuracy']:.3f} "
              f"(baseline, always the most frequent token: {m['most_frequent_token_accuracy']:.3f})")
    else:
        print(f"{args.method} on {rows}: perplexity {m['perplexity']:.1f} (baselines: bigram "
              f"{m['bigram_perplexity']:.1f}, unigram {m['unigram_perplexity']:.1f})")
    run.save(args.out, args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                             if k not in NOT_SAVED}, command=f"{PROG} {shlex.join(args.argv)}")
    print(f"saved {args.out} ({run.info['seconds']:.0f} s of training on {device})")
    return m
