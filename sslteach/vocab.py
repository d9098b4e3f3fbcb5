"""From raw text to word ids: tokens, vocabulary, subsampling, negative words, context windows.

Steps 1-3 of word2vec's recipe (Mikolov et al. 2013), one function per step; step 4, the
negative-sampling loss and the training loop, is :mod:`sslteach.word2vec`:

1. :func:`tokenize` the lines, :func:`build_vocab` keeps words seen ``min_count`` times or more,
   and :func:`encode` turns the text into one long tensor of word ids;
2. subsampling drops frequent words at random (:func:`keep_probability`);
3. every centre word gets an effective window ``b ~ U{1..window}``: its ``2b`` neighbours in the
   same sentence are its contexts (:func:`context_windows`); the "negative" words are drawn from
   unigram^0.75 (:func:`negative_distribution`, :func:`sample_negatives`).

Examples:
    >>> sentences = tokenize(load_corpus("gutenberg"))       # [['the', 'king', ...], ...]
    >>> words, counts = build_vocab(sentences, min_count=5)  # V words, (V,) counts
    >>> ids, sentence = encode(sentences, words)             # (T,) word ids, (T,) sentence ids

- Mikolov et al., Efficient Estimation of Word Representations in Vector Space, 2013.
- Mikolov et al., Distributed Representations of Words and Phrases and their Compositionality, 2013.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import torch

from .utils import check_number

_WORD = re.compile(r"[^\W_]")  # a token is a word if it has a letter or a digit


def _check_lines(lines) -> list:
    if isinstance(lines, (str, bytes)):
        raise TypeError(f"tokenize expects a list of lines (strings), got one {type(lines).__name__}; "
                        f"for a single line use tokenize([line])")
    lines = list(lines)
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            what = " (already tokenized? then skip tokenize)" if isinstance(line, (list, tuple)) else ""
            raise TypeError(f"tokenize expects every line to be a string, but line {i} is a "
                            f"{type(line).__name__}{what}: {line!r:.60}")
    return lines


def check_sentences(sentences, fn: str) -> list[list[str]]:
    """``sentences`` as a list of token lists, or a TypeError that says to call :func:`tokenize`."""
    fix = "call tokenize(lines) first, which turns each line into a list of words"
    if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
        raise TypeError(f"{fn} expects a list of token lists, e.g. [['the', 'king'], ...], got a "
                        f"{type(sentences).__name__}: {fix}")
    sentences = list(sentences)  # a generator would be used up by the first pass
    for i, s in enumerate(sentences):
        if isinstance(s, str):
            raise TypeError(f"{fn} expects token lists, but sentence {i} is a string ({s!r:.40}), which "
                            f"would make a vocabulary of single characters: {fix}")
        if not isinstance(s, (list, tuple)) or not set(map(type, s)) <= {str}:
            raise TypeError(f"{fn} expects every sentence to be a list of word strings, but sentence {i} "
                            f"is {s!r:.60} ({type(s).__name__}): {fix}")
    return sentences


def _check_counts(counts, name: str) -> torch.Tensor:
    if not isinstance(counts, torch.Tensor) or counts.ndim != 1 or counts.dtype == torch.bool:
        raise TypeError(f"{name} must be a 1-D tensor of word counts (V,), as build_vocab returns, got "
                        f"{type(counts).__name__} {tuple(getattr(counts, 'shape', ()))}")
    if not bool(torch.isfinite(counts.double()).all()) or bool((counts < 0).any()) or not counts.sum() > 0:
        raise ValueError(f"{name} must hold finite counts >= 0 with a positive total, got {counts.tolist()[:8]}...; "
                         f"use the counts of build_vocab(sentences)")
    return counts


def tokenize(lines: list[str]) -> list[list[str]]:
    """Lower-case, split on white space and drop punctuation tokens (no letter or digit).

    One line is one sentence (gutenberg) or one article (enwiki); contexts never cross lines.

    Examples:
        >>> tokenize(["He said , `` Hello ! ''", "-- ."])
        [['he', 'said', 'hello']]
    """
    sentences = ([t for t in line.lower().split() if _WORD.search(t)] for line in _check_lines(lines))
    return [s for s in sentences if s]


def build_vocab(sentences: list[list[str]], min_count: int = 5) -> tuple[list[str], torch.Tensor]:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical).

    Returns:
        ``(words, counts)``: a list of V words and their corpus counts (V,) int64.
    """
    sentences = check_sentences(sentences, "build_vocab")
    min_count = check_number(min_count, "min_count", low=1, integer=True,
                             hint="rarer words are dropped; 1 keeps every word, 5 is word2vec's default")
    freq = Counter(w for s in sentences for w in s)
    if not freq:
        raise ValueError(f"the {len(sentences)} sentences hold no word: pass tokenize(lines) of a non-empty text")
    kept = sorted(((n, w) for w, n in freq.items() if n >= min_count), key=lambda nw: (-nw[0], nw[1]))
    if not kept:
        raise ValueError(f"no word occurs min_count={min_count} times in {sum(freq.values())} tokens "
                         f"(the most frequent occurs {max(freq.values())} times); use a lower min_count "
                         f"or a larger corpus")
    return [w for _, w in kept], torch.tensor([n for n, _ in kept])


def encode(sentences: list[list[str]], words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The corpus as one long tensor of word ids; out-of-vocabulary tokens are dropped (word2vec.c).

    Returns:
        ``(ids, sentence)``: word ids (T,) and the sentence each token comes from (T,), int64.
    """
    sentences = check_sentences(sentences, "encode")
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError(f"words must be a list of word strings, as build_vocab returns, got {words!r:.60}")
    index = {w: i for i, w in enumerate(words)}
    if len(index) != len(words):
        raise ValueError("words holds duplicates, so a word would have two ids; use the words of build_vocab")
    encoded = [[index[w] for w in s if w in index] for s in sentences]
    lengths = torch.tensor([len(s) for s in encoded], dtype=torch.long)
    ids = torch.tensor([i for s in encoded for i in s], dtype=torch.long)
    return ids, torch.repeat_interleave(torch.arange(len(encoded)), lengths)


def keep_probability(counts: torch.Tensor, sample: float = 1e-4) -> torch.Tensor:
    """Probability of keeping each occurrence of a word in subsampling: frequent words are dropped.

    With ``f = count / total`` and threshold ``t = sample``, word2vec.c (and gensim) keep a word with
    ``p = (sqrt(f / t) + 1) * t / f = sqrt(t / f) + t / f`` (clipped to 1). The paper writes the
    discard probability ``1 - sqrt(t / f)``, i.e. keeps ``sqrt(t / f)``; the code's extra ``t / f``
    keeps a little more of the mid-frequency words. ``sample=0`` keeps everything.

    Args:
        counts: (V,) corpus counts.

    Returns:
        (V,) float keep probabilities in (0, 1].
    """
    counts = _check_counts(counts, "counts")
    sample = check_number(sample, "sample", low=0, hint="the subsampling threshold, e.g. 1e-4; 0 keeps every word")
    if sample == 0:
        return torch.ones(len(counts))
    f = counts.double() / counts.sum()  # (V,) relative frequencies
    return ((f / sample).sqrt() + 1).mul(sample / f).clamp(max=1).float()  # f = 0 (unseen): kept


def negative_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """Noise distribution for negative words: unigram counts raised to ``power``, normalised (V,).

    The 3/4 power flattens the unigram distribution so rare words are drawn more often than their
    frequency (Mikolov et al. 2013, "Distributed Representations...").
    """
    counts = _check_counts(counts, "counts")
    power = check_number(power, "power", low=0, hint="0.75 as in word2vec; 1 is the unigram distribution")
    p = counts.double() ** power
    return (p / p.sum()).float()


def sample_negatives(probs: torch.Tensor, shape: tuple, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw word ids of the given ``shape`` i.i.d. from ``probs`` (V,)."""
    _check_counts(probs, "probs")
    shape = tuple(check_number(n, "every size in shape", low=0, integer=True) for n in shape)
    n = math.prod(shape)
    if n == 0:  # torch.multinomial refuses to draw nothing
        return torch.zeros(shape, dtype=torch.long, device=probs.device)
    return torch.multinomial(probs, n, replacement=True, generator=generator).view(shape)


def context_windows(ids: torch.Tensor, sentence: torch.Tensor, window: int,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every token's context words, with a dynamic window ``b ~ U{1..window}`` per token.

    Column ``j`` holds the neighbour at offset ``-1, +1, -2, +2, ...`` (nearest first), so the
    first ``2b`` columns are the window of size ``b``; ``valid`` is False beyond ``b``, past the
    ends of the text and across sentence boundaries.

    Args:
        ids: (n,) word ids of a stretch of (subsampled) text.
        sentence: (n,) sentence id of every token.

    Returns:
        ``(contexts, valid)``: (n, 2 * window) word ids and (n, 2 * window) bool.
    """
    window = check_number(window, "window", low=1, integer=True, hint="the largest window, e.g. 5")
    for name, t in (("ids", ids), ("sentence", sentence)):
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be a 1-D integer tensor, as encode returns, got "
                            f"{type(t).__name__} {getattr(t, 'dtype', '')} {tuple(getattr(t, 'shape', ()))}")
    if len(ids) != len(sentence):
        raise ValueError(f"ids and sentence must have one entry per token, got {len(ids)} and {len(sentence)}")
    n, device = len(ids), ids.device
    dist = torch.arange(1, window + 1, device=device).repeat_interleave(2)  # (2W,) 1, 1, 2, 2, ...
    offsets = dist * torch.tensor([-1, 1], device=device).repeat(window)   # (2W,) -1, 1, -2, 2, ...
    b = torch.randint(1, window + 1, (n, 1), generator=generator, device=device)  # (n, 1) effective window
    pos = torch.arange(n, device=device)[:, None] + offsets  # (n, 2W) positions of the neighbours
    valid = (dist <= b) & (pos >= 0) & (pos < n)
    pos = pos.clamp(0, max(n - 1, 0))
    valid &= sentence[pos] == sentence[:, None]
    return ids[pos], valid
