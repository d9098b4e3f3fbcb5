"""Self-supervised objectives for text, their baselines, and what a trained model is used for.

Two pretext tasks, one :class:`~sslteach.transformer.Transformer`:

* **Masked language model** (BERT): hide 15% of the tokens (:func:`mask_tokens`) and predict them
  from both sides; the loss is cross-entropy on the hidden positions only (:func:`mlm_loss`).
  Baseline: always guess the most frequent token (:func:`most_frequent_token_accuracy`).
* **Next-token prediction** (GPT): predict token ``t + 1`` from tokens ``0..t`` (causal model);
  measured by :func:`perplexity`, the exponential of the mean cross-entropy: the number of tokens
  the model hesitates between. Baselines on the same tokens: the n-gram models of
  :mod:`sslteach.ngram` (unigram, and bigram with one token of context).

``mlm_step`` and ``next_token_step`` plug into :func:`sslteach.train.fit` (``functools.partial``
fixes their extra arguments). Then :func:`generate` writes text, :func:`fill_mask` fills blanks,
and :func:`contextual_embeddings` / :func:`sentence_embeddings` turn text into vectors.

- Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers, 2019.
- Radford et al., Improving Language Understanding by Generative Pre-Training (GPT), 2018.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .utils import check_number, get_device

IGNORE = -100  # label of the positions that are not predicted (F.cross_entropy's ignore_index)


def _check_ids(ids, name: str = "ids", ndim: int = 2, hint: str = "see tokenizer.pack_sequences") -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        what = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be an integer tensor of token ids, got {what}; {hint}")
    if ids.ndim != ndim or ids.numel() == 0:
        raise ValueError(f"{name} must be a non-empty {'(N, T)' if ndim == 2 else '(T,)'} tensor of token ids, "
                         f"got shape {tuple(ids.shape)}")
    return ids


def _batch_ids(batch) -> torch.Tensor:
    return _check_ids(batch[0] if isinstance(batch, (tuple, list)) else batch, "the batch")


def mask_tokens(ids: torch.Tensor, mask_id: int, vocab_size: int, special_ids=(), p: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: choose a fraction ``p`` of the non-special positions to predict; of those,
    80% become [MASK], 10% a random (non-special) token, 10% stay unchanged (so the model cannot
    learn that only [MASK] needs predicting).

    Each position is chosen independently with probability ``p``; a sequence that would get none gets
    one (every sequence predicts at least one token when it has a non-special one).

    Args:
        ids: (N, T) token ids.
        mask_id: id of [MASK].
        vocab_size: ids are in 0..vocab_size-1; random replacements too.
        special_ids: ids never chosen nor drawn ([PAD], [CLS], [SEP], ...); nor is ``mask_id``.
        p: fraction of positions to predict, in (0, 1).
        generator: a ``torch.Generator`` on ``ids.device`` for reproducible masks.

    Returns:
        ``(inputs, labels)``, both (N, T): the corrupted ids, and the original id at every chosen
        position, ``-100`` elsewhere (ignored by ``F.cross_entropy``).
    """
    ids = _check_ids(ids)
    vocab_size = check_number(vocab_size, "vocab_size", low=2, integer=True)
    check_number(mask_id, "mask_id", low=0, high=vocab_size - 1, integer=True)
    p = check_number(p, "p (masking probability)", low=0, high=1, low_open=True, high_open=True, hint="BERT uses 0.15")
    special = torch.as_tensor(list(special_ids), dtype=torch.long, device=ids.device).reshape(-1)
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}, got {int(ids.min())}..{int(ids.max())}")
    allowed = torch.ones(vocab_size, dtype=torch.bool, device=ids.device)
    allowed[special[(special >= 0) & (special < vocab_size)]] = False
    allowed[mask_id] = False
    if not allowed.any():
        raise ValueError("every id is special: there is no ordinary token to draw as a random replacement")
    candidate = allowed[ids]                                           # (N, T) ordinary tokens
    rand = lambda: torch.rand(ids.shape, generator=generator, device=ids.device)  # noqa: E731
    chosen = (rand() < p) & candidate                                  # (N, T)
    lonely = ~chosen.any(1) & candidate.any(1)                         # rows with nothing chosen
    if lonely.any():
        pick = torch.where(candidate, rand(), -1.0).argmax(1)         # one random candidate per row
        chosen[lonely, pick[lonely]] = True
    labels = torch.where(chosen, ids, IGNORE)                          # (N, T)
    r = rand()
    inputs = torch.where(chosen & (r < 0.8), mask_id, ids)             # 80% [MASK]
    ordinary = allowed.nonzero().squeeze(1)                            # (V',) ids allowed as replacements
    draw = ordinary[torch.randint(len(ordinary), ids.shape, generator=generator, device=ids.device)]
    inputs = torch.where(chosen & (r >= 0.8) & (r < 0.9), draw, inputs)  # 10% random, 10% unchanged
    return inputs, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Masked-LM loss: mean cross-entropy over the chosen positions (``labels != -100``) only.

    Args:
        logits: (N, T, V); labels: (N, T) from :func:`mask_tokens`.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3 or not isinstance(labels, torch.Tensor) \
            or labels.shape != logits.shape[:2]:
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in (logits, labels)]
        raise ValueError(f"mlm_loss expects logits (N, T, V) and labels (N, T), got {shapes[0]} and {shapes[1]}")
    if not (labels != IGNORE).any():
        raise ValueError("no position is chosen (every label is -100): nothing to predict; use mask_tokens")
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE)


def mlm_step(model, batch, tokenizer, p: float = 0.15, generator: torch.Generator | None = None):
    """Training step for ``fit``: mask a batch of packed ids, predict the chosen tokens.

    Only the chosen positions go through the LM head (same loss as :func:`mlm_loss`, about 7x less
    work in the head). Use ``step = functools.partial(mlm_step, tokenizer=tokenizer)``.

    Returns:
        ``(loss, {"acc": accuracy on the chosen tokens})``.
    """
    ids = _batch_ids(batch)
    inputs, labels = mask_tokens(ids, tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids, p, generator)
    pad = ids == tokenizer.pad_id
    h = model.hidden(inputs, pad if pad.any() else None)  # (N, T, D)
    chosen = labels != IGNORE                             # (N, T)
    logits = model.head(h[chosen]).float()                # (M, V): M chosen positions
    target = labels[chosen]                               # (M,)
    return F.cross_entropy(logits, target), {"acc": (logits.argmax(1) == target).float().mean()}


def next_token_step(model, batch, pad_id: int | None = None):
    """Training step for ``fit``: predict every token from the ones before it (causal model).

    Rows of T ids give T - 1 predictions: inputs ``ids[:, :-1]``, targets ``ids[:, 1:]``.
    ``pad_id``: targets equal to it are ignored (padded batches).
    """
    ids = _batch_ids(batch)
    if not model.cfg.causal:
        raise ValueError("next_token_step needs a causal model (Transformer(causal=True)); a bidirectional "
                         "model would see the token it has to predict")
    x, y = ids[:, :-1], ids[:, 1:]                                     # (N, T-1) each
    pad = (x == pad_id) if pad_id is not None else None
    logits = model(x, pad if pad is not None and pad.any() else None)  # (N, T-1, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE if pad_id is None else pad_id)


def _eval_batches(model, ids: torch.Tensor, batch_size: int, device):
    """Yield (device batch, slice) in eval mode without gradients, restoring the model's mode."""
    check_number(batch_size, "batch_size", low=1, integer=True)
    device = get_device(device)
    was_training = model.training
    model.eval().to(device)
    try:
        with torch.no_grad():
            for i in range(0, len(ids), batch_size):
                yield ids[i:i + batch_size].to(device), slice(i, i + batch_size)
    finally:
        model.train(was_training)


def perplexity(model, ids: torch.Tensor, batch_size: int = 64, pad_id: int | None = None, device=None) -> float:
    """``exp(mean cross-entropy)`` of next-token prediction on held-out rows ``ids`` (N, T): the
    T - 1 targets of every row, as in :func:`next_token_step` (a causal model)."""
    ids = _check_ids(ids)
    if ids.shape[1] < 2:
        raise ValueError(f"rows need at least 2 tokens (one to read, one to predict), got shape {tuple(ids.shape)}")
    total, count = 0.0, 0
    for x, _ in _eval_batches(model, ids, batch_size, device):
        loss = next_token_step(model, x, pad_id)
        n = int((x[:, 1:] != pad_id).sum()) if pad_id is not None else x[:, 1:].numel()
        if n:  # a batch of padding only has nothing to predict
            total, count = total + float(loss) * n, count + n
    if count == 0:
        raise ValueError(f"every target is padding (pad_id={pad_id}): there is nothing to predict")
    return math.exp(total / count)


def _eval_masks(ids: torch.Tensor, tokenizer, p: float, seed: int):
    gen = torch.Generator().manual_seed(check_number(seed, "seed", integer=True))
    return mask_tokens(_check_ids(ids).cpu(), tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids, p, gen)


def masked_token_accuracy(model, ids: torch.Tensor, tokenizer, p: float = 0.15, seed: int = 0,
                          batch_size: int = 64, device=None) -> float:
    """Fraction of the masked tokens of held-out rows ``ids`` (N, T) that the model predicts exactly
    (top-1). The mask is drawn with ``seed``: the same positions as :func:`most_frequent_token_accuracy`."""
    inputs, labels = _eval_masks(ids, tokenizer, p, seed)
    correct = 0
    for x, rows in _eval_batches(model, inputs, batch_size, device):
        y = labels[rows].to(x.device)
        correct += int((model(x).argmax(-1)[y != IGNORE] == y[y != IGNORE]).sum())
    return correct / int((labels != IGNORE).sum())


def most_frequent_token_accuracy(train_ids: torch.Tensor, ids: torch.Tensor, tokenizer, p: float = 0.15,
                                 seed: int = 0) -> float:
    """Baseline for :func:`masked_token_accuracy`: always predict the most frequent non-special token
    of ``train_ids`` at the same masked positions of ``ids``."""
    counts = torch.bincount(_check_ids(train_ids, "train_ids").flatten().cpu(), minlength=tokenizer.vocab_size)
    counts[list(tokenizer.special_ids)] = 0
    _, labels = _eval_masks(ids, tokenizer, p, seed)
    return float((labels[labels != IGNORE] == counts.argmax()).float().mean())


# ---- using a trained model ----

@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             generator: torch.Generator | None = None, stop_id: int | None = None) -> torch.Tensor:
    """Continue a prompt with a causal model, one sampled token at a time.

    Each step reads the last ``max_len`` tokens, divides the next-token logits by ``temperature``
    (< 1: safer, > 1: wilder), keeps the ``top_k`` most likely tokens if given, and samples.

    Args:
        prompt_ids: (T0,) ids (a list or tensor, at least one token).
        max_new_tokens: tokens to add.
        generator: a CPU ``torch.Generator`` for reproducible samples (sampling runs on the CPU).
        stop_id: stop after sampling this token (e.g. ``tokenizer.sep_id``, the end of a sentence).

    Returns:
        (T0 + new,) int64 CPU tensor: the prompt and its continuation.
    """
    if not model.cfg.causal:
        raise ValueError("generate needs a causal model (Transformer(causal=True), trained with next_token_step)")
    if isinstance(prompt_ids, (list, tuple)) and len(prompt_ids) == 0:
        raise ValueError("prompt_ids must be a non-empty (T,) list of token ids: the model needs a first token "
                         "to continue, e.g. tokenizer.encode('the')")
    ids = _check_ids(torch.as_tensor(prompt_ids).cpu(), "prompt_ids", ndim=1, hint="use tokenizer.encode(text)")
    check_number(max_new_tokens, "max_new_tokens", low=0, integer=True)
    check_number(temperature, "temperature", low=0, low_open=True, hint="1 samples the model as it is; try 0.7")
    if top_k is not None:
        check_number(top_k, "top_k", low=1, integer=True, hint="or None to sample from every token")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            context = ids[-model.cfg.max_len:].to(device)[None]             # (1, <= max_len)
            logits = model(context)[0, -1].float().cpu() / temperature       # (V,)
            if top_k is not None:
                kth = logits.topk(min(top_k, len(logits))).values[-1]
                logits = logits.masked_fill(logits < kth, -math.inf)
            nxt = torch.multinomial(logits.softmax(0), 1, generator=generator)  # (1,)
            ids = torch.cat([ids, nxt])
            if stop_id is not None and int(nxt) == stop_id:
                break
    finally:
        model.train(was_training)
    return ids


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``k`` most likely tokens, with their probabilities, at each ``[MASK]`` of ``text``
    (a masked model; special tokens are never proposed).

    Examples:
        >>> fill_mask(model, tokenizer, "he opened the [MASK] and walked in .", k=2)
        [[('door', 0.2...), ('window', 0.0...)]]    # one list of (token, probability) per [MASK]
    """
    if model.cfg.causal:
        raise ValueError("fill_mask needs a masked (bidirectional) model, Transformer(causal=False); a causal "
                         "model cannot see the words after the blank")
    if not isinstance(text, str) or "[MASK]" not in text:
        raise ValueError(f"text must be a string with at least one [MASK] where a word is to be guessed, e.g. "
                         f"'the [MASK] sat on the mat .', got {text!r:.80}")
    k = check_number(k, "k", low=1, integer=True, hint="e.g. 5")
    ids = torch.tensor([tokenizer.encode(text)])                              # (1, T)
    if ids.shape[1] > model.cfg.max_len:
        raise ValueError(f"the text makes {ids.shape[1]} tokens, more than the model's max_len={model.cfg.max_len}; shorten it")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = model(ids.to(device))[0].float().cpu()                       # (T, V)
    finally:
        model.train(was_training)
    logits[:, list(tokenizer.special_ids)] = -math.inf
    probs = logits[ids[0] == tokenizer.mask_id].softmax(-1)                   # (n_masks, V)
    top = probs.topk(min(k, probs.shape[1] - len(tokenizer.special_ids)))
    return [[(tokenizer.id_to_token(int(i)), float(p)) for p, i in zip(ps, ix)] for ps, ix in zip(top.values, top.indices)]


def _hidden_all(model, ids, pad_mask, layer, batch_size, device) -> torch.Tensor:
    ids = _check_ids(ids)
    if pad_mask is not None and (not isinstance(pad_mask, torch.Tensor) or pad_mask.shape != ids.shape):
        raise ValueError(f"pad_mask must be a bool tensor shaped like ids {tuple(ids.shape)} (True at padding)")
    outs = []
    for x, rows in _eval_batches(model, ids, batch_size, device):
        pad = pad_mask[rows].to(x.device) if pad_mask is not None else None
        outs.append(model.hidden(x, pad, layer=layer).float())
    return torch.cat(outs)  # (N, T, D) on the device


def contextual_embeddings(model, ids: torch.Tensor, positions, pad_mask: torch.Tensor | None = None,
                          layer: int | None = None, batch_size: int = 256, device=None) -> torch.Tensor:
    """The vector of one token per row, in its context: ``hidden(ids)[i, positions[i]]`` (N, D), float32 CPU.

    Unlike word2vec, the same word gets a different vector in every sentence. Use
    :func:`sslteach.tokenizer.encode_around` to get ``ids, pad_mask, positions`` from words.
    """
    ids = _check_ids(ids)
    positions = torch.as_tensor(positions, dtype=torch.long).cpu()
    if positions.shape != (len(ids),) or int(positions.min()) < 0 or int(positions.max()) >= ids.shape[1]:
        raise ValueError(f"positions must hold one index in 0..{ids.shape[1] - 1} per row of ids ({len(ids)} rows), "
                         f"got shape {tuple(positions.shape)} and values {positions.tolist()[:8]}")
    h = _hidden_all(model, ids, pad_mask, layer, batch_size, device)   # (N, T, D)
    return h[torch.arange(len(ids), device=h.device), positions.to(h.device)].cpu()


def sentence_embeddings(model, ids: torch.Tensor, pad_mask: torch.Tensor | None = None, layer: int | None = None,
                        batch_size: int = 256, device=None) -> torch.Tensor:
    """One vector per sentence: the mean of its token vectors, padding left out (N, D), float32 CPU."""
    h = _hidden_all(model, ids, pad_mask, layer, batch_size, device)   # (N, T, D)
    keep = (~pad_mask if pad_mask is not None else torch.ones(ids.shape, dtype=torch.bool)).to(h.device)
    return ((h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)).cpu()
