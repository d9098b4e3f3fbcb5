"""The baselines a language model must beat: n-gram models on the same tokens.

A unigram model knows only how often each token occurs; a bigram model also knows the token before.
A transformer trained by next-token prediction (:mod:`sslteach.language`) earns its keep only when
its perplexity goes below these, measured on the same held-out targets.

- Kneser and Ney, Improved Backing-off for M-gram Language Modeling, 1995.
"""
from __future__ import annotations

import math

import torch

from .language import _check_ids
from .utils import check_number


def _pairs(ids: torch.Tensor, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(previous token, next token) of every position 1..T-1 of every row, flattened."""
    ids = _check_ids(ids).cpu()
    if ids.shape[1] < 2 or int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"rows need >= 2 tokens with ids in 0..{vocab_size - 1}, got shape {tuple(ids.shape)} "
                         f"and ids {int(ids.min())}..{int(ids.max())}")
    return ids[:, :-1].flatten(), ids[:, 1:].flatten()


def unigram_perplexity(train_ids: torch.Tensor, ids: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of the token frequencies alone (no context), add-one smoothed:
    ``P(w) = (c(w) + 1) / (n + V)``, on the same T - 1 targets per row as :func:`perplexity`."""
    vocab_size = check_number(vocab_size, "vocab_size", low=2, integer=True)
    _, w_train = _pairs(train_ids, vocab_size)
    _, w = _pairs(ids, vocab_size)
    prob = (torch.bincount(w_train, minlength=vocab_size).double() + 1) / (len(w_train) + vocab_size)  # (V,)
    return math.exp(-prob[w].log().mean())


def bigram_perplexity(train_ids: torch.Tensor, ids: torch.Tensor, vocab_size: int, discount: float = 0.75) -> float:
    """Perplexity of a bigram model (one token of context) with interpolated Kneser-Ney smoothing:

    ``P(w | v) = max(c(v, w) - d, 0) / c(v) + d * n(v) / c(v) * P_cont(w)``

    with ``c`` counts in ``train_ids``, ``n(v)`` the number of different tokens seen after ``v``, and
    ``P_cont(w)`` proportional to the number of different tokens seen before ``w`` (+1, so unseen pairs
    keep some probability). A context never seen falls back to ``P_cont``. Same targets as :func:`perplexity`.
    """
    vocab_size = check_number(vocab_size, "vocab_size", low=2, integer=True)
    d = check_number(discount, "discount", low=0, high=1, low_open=True, high_open=True, hint="0.75 is usual")
    v_train, w_train = _pairs(train_ids, vocab_size)
    pairs, c_vw = torch.unique(v_train * vocab_size + w_train, return_counts=True)  # distinct (v, w), counts
    pv, pw = pairs // vocab_size, pairs % vocab_size
    c_v = torch.bincount(pv, weights=c_vw.double(), minlength=vocab_size)            # (V,) c(v)
    n_v = torch.bincount(pv, minlength=vocab_size).double()                           # (V,) n(v)
    cont = torch.bincount(pw, minlength=vocab_size).double() + 1                      # (V,)
    p_cont = cont / cont.sum()                                                        # (V,)
    v, w = _pairs(ids, vocab_size)
    key = v * vocab_size + w
    at = torch.searchsorted(pairs, key).clamp(max=len(pairs) - 1)
    c = torch.where(pairs[at] == key, c_vw[at], 0).double()                           # c(v, w) of each target
    seen = c_v[v] > 0
    p = torch.where(seen, ((c - d).clamp(min=0) + d * n_v[v] * p_cont[w]) / c_v[v].clamp(min=1), p_cont[w])
    return math.exp(-p.log().mean())
