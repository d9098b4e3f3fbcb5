"""Word embeddings from raw text: word2vec's skip-gram and CBOW with negative sampling.

The recipe (Mikolov et al. 2013), one function per step:

1. :func:`tokenize` the lines, :func:`build_vocab` keeps words seen ``min_count`` times or more;
2. subsampling drops frequent words at random (:func:`keep_probability`);
3. every centre word gets an effective window ``b ~ U{1..window}``: its ``2b`` neighbours in the
   same sentence are its contexts (:func:`context_windows`);
4. logistic regression tells real (context, centre) pairs (label 1) from (context, random word)
   pairs (label 0), the random "negative" words drawn from unigram^0.75
   (:func:`negative_distribution`): binary contrastive learning with two embedding tables,
   ``W_in`` (the word vectors we keep) and ``W_out`` (output vectors), see :func:`sgns_loss`.

Speed on a laptop CPU: 0.6-0.7x gensim's words/s with 2 threads on gutenberg, 0.85-0.95x on
enwiki, with the same WordSim/SimLex rho (``benchmarks/bench_word2vec.py``). How:

* the ``2b`` contexts of a window share its ``K`` negative words (Ji et al. 2016), so a batch of
  windows is one batched matrix product ``(N, 2W, D) @ (N, D, 1+K)`` instead of millions of tiny
  dot products, and each window gathers ``1+K`` output rows instead of ``2b(1+K)``;
* windows are sorted by how many context columns they use, and each batch drops the padding
  columns it does not need (1.4x faster than always padding to ``2 * window``);
* the gradients are written by hand (:func:`sgns_grads`, checked against autograd in the tests)
  and applied with ``index_add_``: plain SGD on the touched rows, as in word2vec.c. Same numbers,
  1.4x faster than ``nn.Embedding(sparse=True)`` + autograd + ``optim.SGD`` (which builds sparse
  gradient tensors) and 2.2x faster than ``SparseAdam``, which also learned no better here;
* ``workers`` Python threads update the shared tables without locks (Hogwild, as word2vec.c and
  gensim do) while each PyTorch op runs single-threaded: OpenMP threads on these small ops stall
  whenever another program uses a core (up to 30x slower on a busy 2-core machine).

- Mikolov et al., Efficient Estimation of Word Representations in Vector Space, 2013.
- Mikolov et al., Distributed Representations of Words and Phrases and their Compositionality, 2013.
- Ji et al., Parallelizing Word2Vec in Shared and Distributed Memory, 2016.
- Recht et al., Hogwild!: A Lock-Free Approach to Parallelizing Stochastic Gradient Descent, 2011.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .utils import get_device
from .wordeval import Embeddings, UnknownWordError  # noqa: F401  (re-exported)

_WORD = re.compile(r"[^\W_]")  # a token is a word if it has a letter or a digit


def tokenize(lines: list[str]) -> list[list[str]]:
    """Lower-case, split on white space and drop punctuation tokens (no letter or digit).

    One line is one sentence (gutenberg) or one article (enwiki); contexts never cross lines.

    Examples:
        >>> tokenize(["He said , `` Hello ! ''", "-- ."])
        [['he', 'said', 'hello']]
    """
    sentences = ([t for t in line.lower().split() if _WORD.search(t)] for line in lines)
    return [s for s in sentences if s]


def build_vocab(sentences: list[list[str]], min_count: int = 5) -> tuple[list[str], torch.Tensor]:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical).

    Returns:
        ``(words, counts)``: a list of V words and their corpus counts (V,) int64.
    """
    freq = Counter(w for s in sentences for w in s)
    kept = sorted(((n, w) for w, n in freq.items() if n >= min_count), key=lambda nw: (-nw[0], nw[1]))
    if not kept:
        raise ValueError(f"no word occurs min_count={min_count} times in {sum(freq.values())} tokens; "
                         f"use a lower min_count or a larger corpus")
    return [w for _, w in kept], torch.tensor([n for n, _ in kept])


def encode(sentences: list[list[str]], words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The corpus as one long tensor of word ids; out-of-vocabulary tokens are dropped (word2vec.c).

    Returns:
        ``(ids, sentence)``: word ids (T,) and the sentence each token comes from (T,), int64.
    """
    index = {w: i for i, w in enumerate(words)}
    encoded = [[index[w] for w in s if w in index] for s in sentences]
    lengths = torch.tensor([len(s) for s in encoded])
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
    if sample <= 0:
        return torch.ones(len(counts))
    f = counts.double() / counts.sum()  # (V,) relative frequencies
    return ((f / sample).sqrt() + 1).mul(sample / f).clamp(max=1).float()


def negative_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """Noise distribution for negative words: unigram counts raised to ``power``, normalised (V,).

    The 3/4 power flattens the unigram distribution so rare words are drawn more often than their
    frequency (Mikolov et al. 2013, "Distributed Representations...").
    """
    p = counts.double() ** power
    return (p / p.sum()).float()


def sample_negatives(probs: torch.Tensor, shape: tuple, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw word ids of the given ``shape`` i.i.d. from ``probs`` (V,)."""
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
    n, device = len(ids), ids.device
    dist = torch.arange(1, window + 1, device=device).repeat_interleave(2)  # (2W,) 1, 1, 2, 2, ...
    offsets = dist * torch.tensor([-1, 1], device=device).repeat(window)   # (2W,) -1, 1, -2, 2, ...
    b = torch.randint(1, window + 1, (n, 1), generator=generator, device=device)  # (n, 1) effective window
    pos = torch.arange(n, device=device)[:, None] + offsets  # (n, 2W) positions of the neighbours
    valid = (dist <= b) & (pos >= 0) & (pos < n)
    pos = pos.clamp(0, max(n - 1, 0))
    valid &= sentence[pos] == sentence[:, None]
    return ids[pos], valid


def sgns_loss(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Negative-sampling loss of a batch of windows, averaged over the valid (context, centre) pairs.

    For an input vector ``x`` (a context word), the centre word's output vector ``y_0`` and the
    window's ``K`` negative words ``y_1..y_K``:
    ``loss = -log sigmoid(x . y_0) - sum_k log sigmoid(-x . y_k)``.

    Args:
        x: (N, C, D) input vectors of the C contexts of each window (CBOW: C=1, their mean).
        y: (N, 1+K, D) output vectors of the centre word, then the K negatives.
        valid: (N, C) bool, False for padding; default all valid.

    Returns:
        Scalar mean loss.
    """
    s = torch.bmm(x, y.transpose(1, 2))  # (N, C, 1+K) scores
    loss = -F.logsigmoid(s[..., 0]) - F.logsigmoid(-s[..., 1:]).sum(-1)  # (N, C)
    return loss.mean() if valid is None else loss[valid].mean()


def sgns_grads(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor):
    """Hand-written gradients of the *summed* :func:`sgns_loss` over the valid pairs.

    With ``s = x . y`` and label 1 for the centre, 0 for negatives: ``dL/ds = sigmoid(s) - label``,
    ``dL/dx = sum_k dL/ds_k y_k`` and ``dL/dy_k = sum_c dL/ds_ck x_c``. word2vec.c applies exactly
    these updates, one pair at a time.

    Args:
        x: (N, C, D); y: (N, 1+K, D); valid: (N, C) bool.

    Returns:
        ``(loss, gx, gy)``: summed loss (scalar), gradients (N, C, D) and (N, 1+K, D).
    """
    s = torch.bmm(x, y.transpose(1, 2))  # (N, C, 1+K)
    m = valid.unsqueeze(2).to(s.dtype)   # (N, C, 1)
    loss = F.softplus(-s[..., :1]) + F.softplus(s[..., 1:]).sum(-1, keepdim=True)  # (N, C, 1) = -log sigmoid(...)
    g = torch.sigmoid(s)
    g[..., 0] -= 1                       # dL/ds = sigmoid(s) - label
    g *= m
    gx = torch.bmm(g, y)                 # (N, C, D)
    gy = torch.bmm(g.transpose(1, 2), x)  # (N, 1+K, D)
    return (loss * m).sum(), gx, gy


def _train_batch(W_in, W_out, contexts, valid, targets, lr: float, cbow: bool) -> tuple[float, int]:
    """One SGD step on a batch of windows, in place; returns the summed loss and the number of pairs."""
    if cbow:
        m = valid.unsqueeze(2).to(W_in.dtype)  # (N, C, 1)
        x = (W_in[contexts] * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)  # (N, 1, D) mean context
        loss, gx, gy = sgns_grads(x, W_out[targets], valid[:, :1] | True)
        gx = gx * m  # (N, C, D): as in word2vec.c, each context word gets the whole gradient of the mean
    else:
        loss, gx, gy = sgns_grads(W_in[contexts], W_out[targets], valid)  # (N, C, D), (N, 1+K, D)
    W_in.index_add_(0, contexts.flatten(), gx.flatten(0, 1), alpha=-lr)
    W_out.index_add_(0, targets.flatten(), gy.flatten(0, 1), alpha=-lr)
    return loss.item(), len(targets) if cbow else int(valid.sum())


def train_word2vec(sentences: list[list[str]], *, method: str = "skipgram", dim: int = 100,
                   window: int = 5, negatives: int = 5, min_count: int = 5, sample: float = 1e-4,
                   epochs: int = 5, lr: float | None = None, batch_size: int = 256, workers: int = 2,
                   chunk_words: int = 100_000, device: torch.device | str | None = None,
                   seed: int = 0, progress: bool = True) -> Embeddings:
    """Train word vectors with skip-gram or CBOW and negative sampling (Mikolov et al. 2013).

    Args:
        sentences: token lists, e.g. ``tokenize(load_corpus("gutenberg"))``.
        method: ``"skipgram"`` (each context word predicts the centre word) or ``"cbow"`` (the mean
            of the context words predicts it).
        dim: vector size D.
        window: largest window; each centre word samples its own ``b ~ U{1..window}``.
        negatives: K negative words per window, drawn from unigram^0.75.
        min_count: rarer words are dropped from the vocabulary and the text.
        sample: subsampling threshold t (:func:`keep_probability`); 0 keeps every word.
        epochs: passes over the corpus; the learning rate decays linearly to 0 over all of them.
        lr: starting learning rate; default 0.025 (skip-gram) or 0.05 (CBOW), as in word2vec.c.
        batch_size: windows per SGD step. Updates of a word repeated within a batch add up
            (word2vec.c applies them one by one), so large batches with a large ``lr`` can blow up
            the rows of bursty words: 256 is safe up to lr=0.05 and as fast as 1024 on a CPU.
        workers: threads updating the shared tables (Hogwild); 1 is reproducible bit for bit.
        chunk_words: corpus tokens turned into windows at once (a few MB of tensors).
        device: default :func:`sslteach.utils.get_device`.
        seed: seed of initialisation, subsampling, windows and negatives.
        progress: show a tqdm progress bar with words/s, loss and learning rate.

    Returns:
        :class:`Embeddings` (vectors on the CPU) whose ``history`` holds the mean ``loss`` of every
        epoch, ``seconds`` and ``words_per_s`` (in-vocabulary tokens per second of training).
    """
    if method not in ("skipgram", "cbow"):
        raise ValueError(f"method must be 'skipgram' or 'cbow', got {method!r}")
    for name, value in dict(dim=dim, window=window, negatives=negatives, epochs=epochs,
                            batch_size=batch_size, workers=workers, chunk_words=chunk_words).items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    cbow, lr = method == "cbow", lr if lr is not None else (0.05 if method == "cbow" else 0.025)
    device = get_device(device)
    words, counts = build_vocab(sentences, min_count)
    ids, sentence = (t.to(device) for t in encode(sentences, words))
    p_keep = keep_probability(counts, sample).to(device)  # (V,)
    p_neg = negative_distribution(counts).to(device)      # (V,)
    gen = torch.Generator(device).manual_seed(seed)
    W_in = (torch.rand(len(words), dim, generator=gen, device=device) - 0.5) / dim  # word2vec.c init
    W_out = torch.zeros(len(words), dim, device=device)

    jobs = [(epoch, start) for epoch in range(epochs) for start in range(0, len(ids), chunk_words)]
    total = epochs * len(ids)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "loss": [0.0] * epochs, "pairs": [0] * epochs}
    bar = tqdm(total=total, unit="word", unit_scale=True, desc=method, disable=not progress)

    def record(epoch: int, words: int, loss: float, pairs: int, rate: float) -> None:
        with lock:
            state["done"] += words
            state["loss"][epoch] += loss
            state["pairs"][epoch] += pairs
            bar.update(words)
            bar.set_postfix(loss=f"{loss / max(1, pairs):.3f}", lr=f"{rate:.4f}", refresh=False)

    def run_chunk(epoch: int, start: int, gen: torch.Generator) -> None:
        x, s = ids[start:start + chunk_words], sentence[start:start + chunk_words]
        n_words = len(x)
        keep = torch.rand(n_words, generator=gen, device=device) < p_keep[x]  # subsampling
        x, s = x[keep], s[keep]
        contexts, valid = context_windows(x, s, window, gen)  # (n, 2W), (n, 2W)
        # sort the windows by the columns they use (0: no context), so a batch can drop padding
        width = (valid * torch.arange(1, 2 * window + 1, device=device)).amax(1)  # (n,)
        order = width.argsort()[int((width == 0).sum()):]
        centre, contexts, valid, width = x[order], contexts[order], valid[order], width[order]
        targets = torch.cat([centre[:, None], sample_negatives(p_neg, (len(centre), negatives), gen)], 1)
        n_batches = math.ceil(len(centre) / batch_size)
        for i in range(n_batches):
            b = slice(i * batch_size, (i + 1) * batch_size)
            w = int(width[b][-1])  # the widest window of the batch (sorted)
            rate = lr * max(1e-4, 1 - state["done"] / total)  # linear decay, as word2vec.c
            loss, pairs = _train_batch(W_in, W_out, contexts[b, :w], valid[b, :w], targets[b], rate, cbow)
            record(epoch, n_words * (i + 1) // n_batches - n_words * i // n_batches, loss, pairs, rate)
        if n_batches == 0:  # nothing left after subsampling
            record(epoch, n_words, 0.0, 0, lr)

    def worker(k: int) -> None:
        gen_k = torch.Generator(device).manual_seed(seed + 1 + k)
        while True:
            with lock:
                if state["next"] == len(jobs):
                    return
                epoch, start = jobs[state["next"]]
                state["next"] += 1
            run_chunk(epoch, start, gen_k)

    threads = torch.get_num_threads()
    start_time = time.perf_counter()
    try:
        if device.type == "cpu":
            torch.set_num_threads(1)  # parallelism comes from the workers
        if workers == 1:
            worker(0)
        else:
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(worker, k) for k in range(workers)]:
                    future.result()  # re-raises a worker's exception here
    finally:
        torch.set_num_threads(threads)
        bar.close()
    seconds = time.perf_counter() - start_time
    history = {"loss": [l / max(1, n) for l, n in zip(state["loss"], state["pairs"])],
               "seconds": seconds, "words_per_s": total / seconds}
    return Embeddings(words, W_in.cpu(), counts, history=history)
