"""Word embeddings from raw text: word2vec's skip-gram and CBOW with negative sampling.

The recipe (Mikolov et al. 2013), one function per step; steps 1-3 prepare the text and live in
:mod:`sslteach.vocab`, step 4 is this module:

1. :func:`~sslteach.vocab.tokenize` the lines, :func:`~sslteach.vocab.build_vocab` keeps words seen
   ``min_count`` times or more;
2. subsampling drops frequent words at random (:func:`~sslteach.vocab.keep_probability`);
3. every centre word gets an effective window ``b ~ U{1..window}``: its ``2b`` neighbours in the
   same sentence are its contexts (:func:`~sslteach.vocab.context_windows`);
4. logistic regression tells real (context, centre) pairs (label 1) from (context, random word)
   pairs (label 0), the random "negative" words drawn from unigram^0.75
   (:func:`~sslteach.vocab.negative_distribution`): binary contrastive learning with two embedding
   tables, ``W_in`` (the word vectors we keep) and ``W_out`` (output vectors), see :func:`sgns_loss`.

Speed on a laptop CPU: of the same order as gensim's words/s, with the same WordSim/SimLex rho;
``benchmarks/bench_word2vec.py`` measures it and the README's performance table gives the current
figures. How:

* the ``2b`` contexts of a window share its ``K`` negative words (Ji et al. 2016), so a batch of
  windows is one batched matrix product ``(N, 2W, D) @ (N, D, 1+K)`` instead of millions of tiny
  dot products, and each window gathers ``1+K`` output rows instead of ``2b(1+K)``;
* windows are sorted by how many context columns they use, and each batch drops the padding
  columns it does not need, instead of always padding to ``2 * window``;
* the gradients are written by hand (:func:`sgns_grads`, checked against autograd in the tests)
  and applied with ``index_add_``: plain SGD on the touched rows, as in word2vec.c. Same numbers
  as ``nn.Embedding(sparse=True)`` + autograd + ``optim.SGD``, but faster, as no sparse gradient
  tensors are built; ``SparseAdam`` was slower still and learned no better here;
* ``workers`` Python threads update the shared tables without locks (Hogwild, as word2vec.c and
  gensim do) while each PyTorch op runs single-threaded: OpenMP threads on these small ops stall
  whenever another program uses a core, which makes training many times slower on a busy machine.

One difference from word2vec.c: it applies the updates of a word one pair at a time, each seeing
the last, while a batch adds them up at once. A word repeated ``n`` times in a batch would move
``n`` steps in one go and overshoot, so a row's summed step is capped (:data:`ROW_STEP_LIMIT`, see
:func:`_train_batch`). A run that still diverges stops with a ``FloatingPointError``.

- Mikolov et al., Efficient Estimation of Word Representations in Vector Space, 2013.
- Mikolov et al., Distributed Representations of Words and Phrases and their Compositionality, 2013.
- Ji et al., Parallelizing Word2Vec in Shared and Distributed Memory, 2016.
- Recht et al., Hogwild!: A Lock-Free Approach to Parallelizing Stochastic Gradient Descent, 2011.
"""
from __future__ import annotations

import math
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .embeddings import Embeddings
from .utils import check_number, get_device
from .vocab import (build_vocab, check_sentences, context_windows, encode, keep_probability, negative_distribution,
                    sample_negatives)

ROW_STEP_LIMIT = 0.4  # lr x (updates of a row in one batch) is capped at this: see _train_batch
DIVERGED = 10.0       # a chunk whose mean loss exceeds 10x the untrained (1 + K) log 2 has diverged


def _check_batch(x, y, valid, fn: str) -> None:
    if not all(isinstance(t, torch.Tensor) for t in (x, y)) or x.ndim != 3 or y.ndim != 3:
        raise ValueError(f"{fn} expects x (N, C, D) and y (N, 1+K, D) tensors, got "
                         f"{tuple(getattr(x, 'shape', ()))} and {tuple(getattr(y, 'shape', ()))}; "
                         f"for one context per window use x[:, None, :]")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(f"{fn}: x (N, C, D) and y (N, 1+K, D) need the same N and D, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if valid is not None and (not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool
                              or valid.shape != x.shape[:2]):
        raise ValueError(f"{fn}: valid must be a bool tensor (N, C) = {tuple(x.shape[:2])}, got "
                         f"{getattr(valid, 'dtype', type(valid).__name__)} {tuple(getattr(valid, 'shape', ()))}")


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
    _check_batch(x, y, valid, "sgns_loss")
    if x.shape[0] * x.shape[1] == 0 or y.shape[1] == 0 or (valid is not None and not bool(valid.any())):
        raise ValueError(f"sgns_loss averages over the valid (context, centre) pairs, but there is none "
                         f"(x {tuple(x.shape)}, y {tuple(y.shape)}): the mean of nothing is undefined; "
                         f"pass at least one window with a context and a centre word")
    s = torch.bmm(x, y.transpose(1, 2))  # (N, C, 1+K) scores
    loss = -F.logsigmoid(s[..., 0]) - F.logsigmoid(-s[..., 1:]).sum(-1)  # (N, C)
    return loss.mean() if valid is None else loss[valid].mean()


def sgns_grads(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, wx: torch.Tensor | None = None,
               wy: torch.Tensor | None = None):
    """Hand-written gradients of the *summed* :func:`sgns_loss` over the valid pairs.

    With ``s = x . y`` and label 1 for the centre, 0 for negatives: ``dL/ds = sigmoid(s) - label``,
    ``dL/dx = sum_k dL/ds_k y_k`` and ``dL/dy_k = sum_c dL/ds_ck x_c``. word2vec.c applies exactly
    these updates, one pair at a time.

    Args:
        x: (N, C, D); y: (N, 1+K, D); valid: (N, C) bool.
        wx, wy: optional factors (N, C) and (N, 1+K) applied to the gradient of each row of ``x``
            and ``y`` (training uses them to cap the step of a repeated word, see :func:`_train_batch`).

    Returns:
        ``(loss, gx, gy)``: summed loss (scalar), gradients (N, C, D) and (N, 1+K, D).
    """
    _check_batch(x, y, valid, "sgns_grads")
    s = torch.bmm(x, y.transpose(1, 2))  # (N, C, 1+K)
    m = valid.unsqueeze(2).to(s.dtype)   # (N, C, 1)
    loss = F.softplus(-s[..., :1]) + F.softplus(s[..., 1:]).sum(-1, keepdim=True)  # (N, C, 1) = -log sigmoid(...)
    g = torch.sigmoid(s)
    g[..., 0] -= 1                       # dL/ds = sigmoid(s) - label
    g *= m
    gx = torch.bmm(g if wx is None else g * wx.unsqueeze(2), y)                   # (N, C, D)
    gy = torch.bmm((g if wy is None else g * wy.unsqueeze(1)).transpose(1, 2), x)  # (N, 1+K, D)
    return (loss * m).sum(), gx, gy


def _repeat_factor(rows: torch.Tensor, used: torch.Tensor | None, lr: float,
                   limit: float = ROW_STEP_LIMIT) -> torch.Tensor | None:
    """Factor (rows.shape) for the gradient of every entry of ``rows``, so that a row repeated ``r``
    times in the batch moves by ``lr * (sum of its r gradients)`` while ``lr * r <= limit``, else by
    ``limit * (their mean)`` (``limit`` at least ``lr``): a row seen once always gets its plain SGD
    step. ``used`` (bool, like ``rows``) marks the entries that count (not padding). None when no
    row can repeat that often."""
    limit = max(limit, lr)
    if lr * rows.numel() <= limit:
        return None
    flat = rows.flatten()
    r = torch.bincount(flat, weights=None if used is None else used.flatten().float())[flat]  # repeats
    return ((limit / lr) / r).clamp_(max=1).view(rows.shape)  # r = 0 (padding): inf -> 1


def _train_batch(W_in, W_out, contexts, valid, targets, lr: float, cbow: bool,
                 limit: float = ROW_STEP_LIMIT) -> tuple[float, int]:
    """One SGD step on a batch of windows, in place; returns the summed loss and the number of pairs.

    word2vec.c applies the updates pair by pair, so a word in ``r`` pairs moves ``r`` small steps,
    each seeing the last. Added up in one go, the ``r`` steps overshoot when ``lr * r`` is
    large (a small vocabulary repeats every word dozens of times per batch) and training diverges,
    so :func:`_repeat_factor` caps ``lr * r`` at ``limit``: rare repeats get the plain summed step.
    Threads that update the tables at the same time (Hogwild) add their steps to the same frequent
    rows, so training gives each of W threads ``ROW_STEP_LIMIT / W``.
    """
    f_in, f_out = _repeat_factor(contexts, valid, lr, limit), _repeat_factor(targets, None, lr, limit)  # (N, C), (N, 1+K)
    if cbow:
        m = valid.unsqueeze(2).to(W_in.dtype)  # (N, C, 1)
        x = (W_in[contexts] * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)  # (N, 1, D) mean context
        loss, gx, gy = sgns_grads(x, W_out[targets], valid[:, :1] | True, wy=f_out)
        # as in word2vec.c, each context word gets the whole gradient of the mean: (N, C, D)
        gx = gx * (m if f_in is None else m * f_in.unsqueeze(2))
    else:
        loss, gx, gy = sgns_grads(W_in[contexts], W_out[targets], valid, f_in, f_out)  # (N, C, D), (N, 1+K, D)
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
        sample: subsampling threshold t (:func:`keep_probability`); 0 keeps every word. On a small
            corpus (a few thousand tokens, a few dozen words) every word is "frequent" and
            ``1e-4`` drops nearly all of them: use ``sample=0`` there (a warning says so).
        epochs: passes over the corpus; the learning rate decays linearly to 0 over all of them.
        lr: starting learning rate; default 0.025 (skip-gram) or 0.05 (CBOW), as in word2vec.c.
        batch_size: windows per SGD step. Updates of a word repeated within a batch add up
            (word2vec.c applies them one by one), so a row's summed step is capped at
            ``ROW_STEP_LIMIT`` times its mean gradient; large batches then learn the words they
            repeat more slowly. 256 is as fast as 1024 on a CPU. If the loss still blows up,
            training stops with a ``FloatingPointError``: lower ``lr`` or ``batch_size``.
        workers: threads updating the shared tables (Hogwild); 1 is reproducible bit for bit.
        chunk_words: corpus tokens turned into windows at once (a few MB of tensors).
        device: default :func:`sslteach.utils.get_device`.
        seed: seed of initialisation, subsampling, windows and negatives.
        progress: show a tqdm progress bar with words/s, loss and learning rate.

    Returns:
        :class:`Embeddings` (vectors on the CPU) whose ``history`` holds the mean ``loss`` of every
        epoch (NaN for an epoch that formed no training pair, with a warning), ``seconds`` and
        ``words_per_s`` (in-vocabulary tokens per second of training).

    Raises:
        TypeError: ``sentences`` are not token lists (call :func:`~sslteach.vocab.tokenize` first) or a
            number is not one.
        ValueError: an argument is out of range, or the corpus gives no (context, centre) pair.
        FloatingPointError: training diverged (the loss became non-finite or far above its start).
    """
    if method not in ("skipgram", "cbow"):
        raise (ValueError if isinstance(method, str) else TypeError)(
            f"method must be 'skipgram' or 'cbow', got {method!r}")
    sentences = check_sentences(sentences, "train_word2vec")
    dim, window, negatives, epochs, batch_size, workers, chunk_words = (
        check_number(v, name, low=1, integer=True, hint=hint) for v, name, hint in [
            (dim, "dim", "the vector size, e.g. 100"), (window, "window", "the largest window, e.g. 5"),
            (negatives, "negatives", "negative words per window, e.g. 5"),
            (epochs, "epochs", "passes over the corpus, e.g. 5"),
            (batch_size, "batch_size", "windows per SGD step, e.g. 256"),
            (workers, "workers", "threads; 1 is reproducible, 2 uses two cores"),
            (chunk_words, "chunk_words", "tokens turned into windows at once, e.g. 100_000")])
    sample = check_number(sample, "sample", low=0, hint="the subsampling threshold, e.g. 1e-4; 0 keeps every word")
    seed = check_number(seed, "seed", low=0, integer=True)
    cbow, lr = method == "cbow", lr if lr is not None else (0.05 if method == "cbow" else 0.025)
    lr = check_number(lr, "lr", low=0, low_open=True, hint="the starting learning rate, e.g. 0.025 (skip-gram) "
                      "or 0.05 (CBOW); None takes these defaults")
    device = get_device(device)
    words, counts = build_vocab(sentences, min_count)
    ids, sentence = encode(sentences, words)
    if len(ids) < 2 or int(torch.bincount(sentence).max()) < 2:
        raise ValueError(f"no sentence has two words of the vocabulary ({len(ids)} tokens), so there is no "
                         f"(context, centre) pair to learn from; contexts never cross lines: give sentences "
                         f"of several words, or lower min_count={min_count}")
    ids, sentence = ids.to(device), sentence.to(device)
    p_keep = keep_probability(counts, sample).to(device)  # (V,)
    kept = float((p_keep.cpu().double() * counts).sum() / counts.sum())
    if kept < 0.1:
        warnings.warn(f"subsampling with sample={sample:g} keeps only {kept:.1%} of the {len(ids):,} tokens: "
                      f"on a small corpus every word is frequent. Use sample=0 (keep every word) or a larger "
                      f"threshold, e.g. sample=1e-2", UserWarning, stacklevel=2)
    p_neg = negative_distribution(counts).to(device)      # (V,)
    gen = torch.Generator(device).manual_seed(seed)
    W_in = (torch.rand(len(words), dim, generator=gen, device=device) - 0.5) / dim  # word2vec.c init
    W_out = torch.zeros(len(words), dim, device=device)

    jobs = [(epoch, start) for epoch in range(epochs) for start in range(0, len(ids), chunk_words)]
    total = epochs * len(ids)
    start_loss = (1 + negatives) * math.log(2)  # all scores 0 (W_out starts at 0)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "loss": [0.0] * epochs, "pairs": [0] * epochs, "stop": False}
    bar = tqdm(total=total, unit="word", unit_scale=True, desc=method, disable=not progress)

    def record(epoch: int, words: int, loss: float, pairs: int, rate: float) -> None:
        with lock:
            state["done"] += words
            state["loss"][epoch] += loss
            state["pairs"][epoch] += pairs
            bar.update(words)
            bar.set_postfix(loss=f"{loss / max(1, pairs):.3f}", lr=f"{rate:.4f}", refresh=False)

    def diverged(epoch: int, loss: float, vectors: bool = False) -> FloatingPointError:
        state["stop"] = True  # the other workers stop too
        what = (f"some word vectors became NaN or infinite (the chunk's mean loss per pair was still {loss:.3g})"
                if vectors else f"the mean loss per pair reached {loss:.3g}, while an untrained model starts at "
                f"(1 + K) log 2 = {start_loss:.2f} and training should lower it")
        threads = f", or fewer threads (workers={workers} now: their unlocked updates add up)" if workers > 1 else ""
        return FloatingPointError(
            f"training diverged in epoch {epoch + 1}: {what}. The steps are too large for this corpus: lower the "
            f"learning rate (lr={lr:g} now, try lr={lr / 4:g}) or the batch size (batch_size={batch_size} now, try "
            f"batch_size={max(1, batch_size // 4)}){threads}")

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
        chunk_loss, chunk_pairs = 0.0, 0
        for i in range(n_batches):
            if state["stop"]:
                return
            b = slice(i * batch_size, (i + 1) * batch_size)
            w = int(width[b][-1])  # the widest window of the batch (sorted)
            rate = lr * max(1e-4, 1 - state["done"] / total)  # linear decay, as word2vec.c
            loss, pairs = _train_batch(W_in, W_out, contexts[b, :w], valid[b, :w], targets[b], rate, cbow,
                                       ROW_STEP_LIMIT / workers)   # concurrent steps on a row add up
            if not math.isfinite(loss):
                raise diverged(epoch, loss / max(1, pairs))
            chunk_loss, chunk_pairs = chunk_loss + loss, chunk_pairs + pairs
            record(epoch, n_words * (i + 1) // n_batches - n_words * i // n_batches, loss, pairs, rate)
        if n_batches == 0:  # nothing left after subsampling
            record(epoch, n_words, 0.0, 0, lr)
        elif chunk_loss > DIVERGED * start_loss * chunk_pairs:
            raise diverged(epoch, chunk_loss / max(1, chunk_pairs))
        elif not bool(torch.isfinite(W_in).all()):
            raise diverged(epoch, chunk_loss / max(1, chunk_pairs), vectors=True)

    def worker(k: int) -> None:
        gen_k = torch.Generator(device).manual_seed(seed + 1 + k)
        while True:
            with lock:
                if state["next"] == len(jobs) or state["stop"]:
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
    empty = [e + 1 for e, n in enumerate(state["pairs"]) if n == 0]
    if len(empty) == epochs:
        raise ValueError(f"no (context, centre) pair was formed in any epoch: subsampling (sample={sample:g}) "
                         f"left no two words of a sentence. Use sample=0 on a small corpus")
    if empty:
        warnings.warn(f"epoch(s) {empty} formed no (context, centre) pair after subsampling, so their loss "
                      f"is NaN in history; on a small corpus use sample=0", UserWarning, stacklevel=2)
    history = {"loss": [l / n if n else math.nan for l, n in zip(state["loss"], state["pairs"])],
               "seconds": seconds, "words_per_s": total / seconds}
    return Embeddings(words, W_in.cpu(), counts, history=history)
