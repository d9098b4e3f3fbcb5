"""Evaluating word vectors: similarity benchmarks and analogy questions.

The vectors are an :class:`~sslteach.embeddings.Embeddings` (:mod:`sslteach.embeddings`): what
:func:`sslteach.word2vec.train_word2vec` returns, or a file in word2vec's text format. Intrinsic
evaluation, as in the papers:

* word similarity: Spearman's rho between human scores and cosine similarities, on WordSim-353
  (relatedness: "cup"/"coffee" score high) and SimLex-999 (similarity only); pairs with an
  unknown word are skipped and counted;
* analogies "a is to b as c is to ?" by 3CosAdd: ``argmax_d cos(d, b) - cos(d, a) + cos(d, c)``
  over the vocabulary minus a, b, c, on Google's 19,544 questions.

- Finkelstein et al., Placing Search in Context: The Concept Revisited, 2002.
- Hill, Reichart, Korhonen, SimLex-999: Evaluating Semantic Models with (Genuine) Similarity Estimation, 2015.
- Mikolov et al., Efficient Estimation of Word Representations in Vector Space, 2013.
- Levy and Goldberg, Linguistic Regularities in Sparse and Explicit Word Representations, 2014.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
from scipy.stats import spearmanr

from .textdata import load_analogies, load_word_pairs
from .embeddings import Embeddings
from .utils import check_number


class _NoScore(ValueError):
    """A benchmark gives no number: no pair or question is known, or rho is undefined."""


class SimilarityResult(NamedTuple):
    rho: float  # Spearman correlation between cosine similarities and human scores
    pairs: int  # pairs used
    oov: int    # pairs skipped because a word is not in the vocabulary


def _skip_zero(emb: Embeddings, words: set, zero: torch.Tensor) -> set:
    """The words of ``words`` whose vector is all zeros (``zero`` (V,) bool), with a warning: they are left out."""
    skipped = {w for w in words if zero[emb.index[w]]} if bool(zero.any()) else set()
    if skipped:
        warnings.warn(f"{len(skipped)} word(s) have all-zero vectors (no direction, cosine undefined), e.g. "
                      f"{sorted(skipped)[:5]}: the pairs or questions with them are skipped", UserWarning, stacklevel=3)
    return skipped


def evaluate_similarity(emb: Embeddings, pairs="wordsim353") -> SimilarityResult:
    """Spearman's rho between human similarity scores and cosine similarities.

    Pairs with a word not in the vocabulary (or with an all-zero vector) are skipped and counted in ``oov``.

    Args:
        emb: the word vectors.
        pairs: ``"wordsim353"``, ``"simlex999"`` or a list of ``(word1, word2, score)``.

    Raises:
        ValueError: fewer than 2 pairs are known (rho needs 2), or rho is undefined (all cosines equal).
    """
    if not isinstance(emb, Embeddings):
        raise TypeError(f"emb must be Embeddings, got {type(emb).__name__}; wrap gensim vectors with "
                        f"Embeddings.from_keyed_vectors(model.wv)")
    pairs = load_word_pairs(pairs) if isinstance(pairs, str) else list(pairs)
    for p in pairs:
        if not (isinstance(p, (tuple, list)) and len(p) == 3 and isinstance(p[0], str) and isinstance(p[1], str)):
            raise TypeError(f"pairs must be (word1, word2, score) triples, got {p!r:.60}")
        check_number(p[2], f"the score of {p[0]!r}, {p[1]!r}", hint="human scores are finite numbers")
    in_vocab = {w for a, b, _ in pairs for w in (a, b) if w in emb}
    zero = _skip_zero(emb, in_vocab, emb._zero_rows())
    known = [(a, b, s) for a, b, s in pairs if a in emb and b in emb and a not in zero and b not in zero]
    if len(known) < 2:
        raise _NoScore(
            f"only {len(known)} of the {len(pairs)} word pairs have both words in the vocabulary of "
            f"{len(emb):,} words, and Spearman's rho needs at least 2: train on a larger corpus or with a lower "
            f"min_count, or give pairs of vocabulary words")
    u = emb.unit_vectors()
    i = torch.tensor([emb.index[a] for a, _, _ in known])
    j = torch.tensor([emb.index[b] for _, b, _ in known])
    cos = (u[i] * u[j]).sum(1)  # (P,)
    scores = [s for _, _, s in known]
    if len(set(scores)) < 2 or bool((cos == cos[0]).all()):
        raise _NoScore(f"Spearman's rho is undefined on these {len(known)} pairs: all the "
                         f"{'human scores' if len(set(scores)) < 2 else 'cosine similarities'} are equal; "
                         f"use pairs with different scores, or vectors that differ (are they all the same?)")
    rho = spearmanr(scores, cos.cpu().numpy()).statistic
    return SimilarityResult(float(rho), len(known), len(pairs) - len(known))


class AnalogyResult(NamedTuple):
    accuracy: float  # correct / questions, over all sections
    correct: int
    questions: int   # questions whose four words are all among the ``restrict_vocab`` most frequent
    skipped: int     # the other questions
    sections: dict   # section -> (correct, questions)

    def part(self, syntactic: bool) -> float:
        """Accuracy over the syntactic ("gram...") or the semantic sections."""
        c, q = (sum(v[i] for s, v in self.sections.items() if s.startswith("gram") == syntactic) for i in (0, 1))
        return c / q if q else math.nan


def evaluate_analogies(emb: Embeddings, questions: dict | None = None, restrict_vocab: int = 30_000,
                       batch_size: int = 256) -> AnalogyResult:
    """Accuracy of 3CosAdd on analogy questions (a, b, c, d): is d the best answer to a : b :: c : ?

    Only the ``restrict_vocab`` most frequent words (the first rows of ``emb``) are candidate
    answers, and questions with a word outside them (or with an all-zero vector) are skipped, as in
    word2vec's ``compute-accuracy`` and gensim's ``evaluate_word_analogies``.

    Args:
        emb: the word vectors, most frequent word first.
        questions: ``{section: [(a, b, c, d), ...]}``; default :func:`sslteach.textdata.load_analogies`.

    Raises:
        ValueError: no question has its four words among the candidates.
    """
    if not isinstance(emb, Embeddings):
        raise TypeError(f"emb must be Embeddings, got {type(emb).__name__}; wrap gensim vectors with "
                        f"Embeddings.from_keyed_vectors(model.wv)")
    restrict_vocab = check_number(restrict_vocab, "restrict_vocab", low=1, integer=True,
                                  hint="the most frequent words that may answer, e.g. 30_000")
    batch_size = check_number(batch_size, "batch_size", low=1, integer=True, hint="questions scored at once, e.g. 256")
    questions = load_analogies() if questions is None else questions
    if not isinstance(questions, dict) or not all(
            isinstance(q, (tuple, list)) and len(q) == 4 and all(isinstance(w, str) for w in q)
            for quads in questions.values() for q in quads):
        raise TypeError("questions must be {section: [(a, b, c, d), ...]} with four words per question, "
                        "as load_analogies() returns")
    u = emb.unit_vectors()[:restrict_vocab]  # (R, D)
    zero_rows = emb._zero_rows()[:len(u)]   # (R,) words without a direction never answer
    zero = _skip_zero(emb, {w for quads in questions.values() for q in quads for w in q
                            if emb.index.get(w, len(u)) < len(u)}, zero_rows)
    index = {w: i for w, i in emb.index.items() if i < len(u) and w not in zero}
    sections, skipped = {}, 0
    for name, quads in questions.items():
        ok = [[index[w] for w in q] for q in quads if all(w in index for w in q)]
        skipped += len(quads) - len(ok)
        correct = 0
        for q in torch.tensor(ok, dtype=torch.long, device=u.device).view(-1, 4).split(batch_size):
            scores = (u[q[:, 1]] - u[q[:, 0]] + u[q[:, 2]]) @ u.T  # (B, R) 3CosAdd scores
            scores.scatter_(1, q[:, :3], -math.inf)  # never answer a question word
            scores[:, zero_rows] = -math.inf
            correct += int((scores.argmax(1) == q[:, 3]).sum())
        sections[name] = (correct, len(ok))
    c, n = sum(v[0] for v in sections.values()), sum(v[1] for v in sections.values())
    if n == 0:
        raise _NoScore(
            f"none of the {skipped} analogy questions has its four words among the {len(u):,} most frequent "
            f"words of the vocabulary: train on a larger corpus, raise restrict_vocab, or give other questions")
    return AnalogyResult(c / n, c, n, skipped, sections)


def evaluate(emb: Embeddings, restrict_vocab: int = 30_000) -> dict:
    """WordSim-353 and SimLex-999 rho (with the pairs used) and Google analogy accuracy, in one dict.

    A benchmark with nothing to evaluate (no known pair or question) gives NaN, with a warning.
    """
    out = {}
    for name in ("wordsim353", "simlex999"):
        try:
            r = evaluate_similarity(emb, name)
        except _NoScore as e:
            warnings.warn(f"{name}: {e}; its rho is NaN", UserWarning, stacklevel=2)
            r = SimilarityResult(math.nan, 0, len(load_word_pairs(name)))
        out[name], out[f"{name}_pairs"], out[f"{name}_oov"] = r.rho, r.pairs, r.oov
    try:
        a = evaluate_analogies(emb, restrict_vocab=restrict_vocab)
        out["analogy"], out["analogy_questions"] = a.accuracy, a.questions
    except _NoScore as e:
        warnings.warn(f"analogies: {e}; the accuracy is NaN", UserWarning, stacklevel=2)
        out["analogy"], out["analogy_questions"] = math.nan, 0
    return out
