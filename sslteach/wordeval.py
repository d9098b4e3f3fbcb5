"""Using and evaluating word vectors: neighbours, analogies, similarity benchmarks, file export.

:class:`Embeddings` holds a vocabulary and its vectors: what
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

import difflib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from .data import load_analogies, load_word_pairs
from .utils import check_finite, check_number

_EXPORT_FIX = ("re-export the file: emb.save_word2vec_format(path), or gensim's "
               "kv.save_word2vec_format(path) (binary=False)")


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary; the message suggests close vocabulary words."""

    def __init__(self, word: str, emb: "Embeddings"):
        close = difflib.get_close_matches(word, emb.words[:50_000], n=5)  # difflib is slow on huge lists
        if word.lower() in emb.index and word.lower() not in close:
            close.insert(0, word.lower())
        hint = f"Did you mean {', '.join(map(repr, close))}? " if close else ""
        super().__init__(f"{word!r} is not in the vocabulary of {len(emb):,} words. {hint}The vocabulary "
                         f"is lower-case and keeps only words seen at least min_count times: check the "
                         f"spelling, or train with a lower min_count.")
        self.word, self.suggestions = word, close

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.args[0]


@dataclass(eq=False)
class Embeddings:
    """A vocabulary and its word vectors.

    Attributes:
        words: V words, most frequent first; a word's index is its row in ``vectors``.
        vectors: (V, D) word vectors.
        counts: (V,) corpus counts, or None (e.g. vectors loaded from a file).
        history: training log (``loss`` per epoch, ``seconds``, ``words_per_s``).

    Examples:
        >>> emb = train_word2vec(tokenize(load_corpus("enwiki")), epochs=10)
        >>> emb.most_similar("king", k=3)       # [(word, cosine), ...]
        >>> emb.analogy("man", "king", "woman")  # man : king :: woman : ?
    """
    words: list[str]
    vectors: torch.Tensor
    counts: torch.Tensor | None = None
    history: dict = field(default_factory=dict)
    index: dict = field(init=False, repr=False)  # word -> row

    def __post_init__(self):
        if isinstance(self.words, str) or not all(isinstance(w, str) for w in self.words):
            raise TypeError(f"words must be a list of strings, got {self.words!r:.60}")
        self.words = list(self.words)
        if not isinstance(self.vectors, torch.Tensor) or not self.vectors.is_floating_point():
            raise TypeError(f"vectors must be a float tensor (V, D), got {type(self.vectors).__name__} "
                            f"{getattr(self.vectors, 'dtype', '')}; convert with torch.as_tensor(x).float()")
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(f"vectors must be (V, D) with V = len(words) = {len(self.words)}, "
                             f"got shape {tuple(self.vectors.shape)}")
        if len(self.words) == 0 or self.vectors.shape[1] == 0:
            raise ValueError(f"Embeddings need at least one word and one dimension, got {len(self.words)} "
                             f"words x {self.vectors.shape[1]} dims; train on a corpus that keeps some words "
                             f"(a lower min_count)")
        check_finite(self.vectors, "vectors", "a diverged training run gives NaN; retrain with a lower lr, "
                     "or re-export the file the vectors came from")
        if self.counts is not None and len(self.counts) != len(self.words):
            raise ValueError(f"counts must hold one count per word ({len(self.words)}), got {len(self.counts)}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            twice = next(w for i, w in enumerate(self.words) if self.index[w] != i)
            raise ValueError(f"words contains duplicates (e.g. {twice!r}); every word needs exactly one vector")

    def __repr__(self) -> str:
        return f"Embeddings({len(self):,} words x {self.dim} dims)"

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def id(self, word: str) -> int:
        """Row of ``word``; raises :class:`UnknownWordError` (a KeyError) with suggestions."""
        if not isinstance(word, str):
            raise TypeError(f"a word must be a string, got {word!r} ({type(word).__name__}); "
                            f"the word of row i is emb.words[i]")
        if word not in self.index:
            raise UnknownWordError(word, self)
        return self.index[word]

    def __getitem__(self, word: str) -> torch.Tensor:
        """The vector (D,) of ``word``."""
        return self.vectors[self.id(word)]

    def unit_vectors(self) -> torch.Tensor:
        """All vectors scaled to length 1 (V, D), so that dot products are cosines; all-zero rows stay 0."""
        return F.normalize(self.vectors.float(), dim=1)

    def _zero_rows(self) -> torch.Tensor:
        return self.vectors.float().norm(dim=1) < 1e-12  # (V,) no direction: cosine undefined

    def _direction(self, word: str) -> int:
        """Row of ``word``, or a ValueError if its vector is all zeros (no direction, no cosine)."""
        i = self.id(word)
        if float(self.vectors[i].float().norm()) < 1e-12:
            raise ValueError(f"the vector of {word!r} is all zeros, so its cosine with any word is undefined "
                             f"(0 / 0); a word that was never trained, or a file that zero-fills: leave it out")
        return i

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words; a ValueError if one vector is all zeros."""
        i, j = self._direction(word1), self._direction(word2)
        return F.cosine_similarity(self.vectors[i].float(), self.vectors[j].float(), dim=0).item()

    def _top(self, scores: torch.Tensor, k: int, exclude) -> list[tuple[str, float]]:
        """The ``k`` best-scoring words (fewer if the vocabulary is smaller), leaving out ``exclude``
        and all-zero vectors."""
        k = check_number(k, "k", low=1, integer=True, hint="the number of words to return, e.g. 10")
        if isinstance(exclude, str):
            exclude = (exclude,)
        scores = scores.clone()
        scores[[self.id(w) for w in exclude]] = -math.inf
        scores[self._zero_rows()] = -math.inf
        values, idx = scores.topk(min(k, len(self)))
        return [(self.words[i], v) for i, v in zip(idx.tolist(), values.tolist()) if v != -math.inf]

    def most_similar(self, query: str | torch.Tensor, k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to a word (itself excluded) or a vector (D,).

        Words with an all-zero vector (no direction) are never returned; ``k`` larger than the
        vocabulary returns every other word.

        Returns:
            ``[(word, cosine), ...]``, most similar first.
        """
        if isinstance(query, str):
            exclude = (query, *([exclude] if isinstance(exclude, str) else exclude))
            query = self.vectors[self._direction(query)]
        elif not isinstance(query, torch.Tensor) or query.shape != (self.dim,):
            raise TypeError(f"query must be a word or a vector of shape ({self.dim},), got "
                            f"{type(query).__name__} {tuple(getattr(query, 'shape', ()))}")
        else:
            check_finite(query, "the query vector")
            if float(query.float().norm()) < 1e-12:
                raise ValueError("the query vector is all zeros, so its cosine with any word is undefined")
        q = F.normalize(query.float().to(self.vectors.device), dim=0)  # (D,)
        return self._top(self.unit_vectors() @ q, k, exclude)  # (V,) cosines

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """"a is to b as c is to ?" by 3CosAdd: ``argmax_d cos(d, b) - cos(d, a) + cos(d, c)``, d not in {a, b, c}.

        Examples:
            >>> emb.analogy("man", "king", "woman")   # ideally [("queen", ...)]
        """
        ia, ib, ic = self._direction(a), self._direction(b), self._direction(c)
        if len(self) - len({a, b, c}) < 1:
            raise ValueError(f"the vocabulary has {len(self)} words, all of them in the question: an analogy "
                             f"needs at least one other word to answer with")
        u = self.unit_vectors()  # (V, D)
        return self._top(u @ (u[ib] - u[ia] + u[ic]), k, (a, b, c))

    def save_word2vec_format(self, path: str | Path) -> Path:
        """Write the word2vec text format (``V D`` header, then ``word x1 ... xD`` per line), which
        gensim's ``KeyedVectors.load_word2vec_format(path)`` reads."""
        path = Path(path)
        bad = [w for w in self.words if not w or any(ch.isspace() for ch in w)]
        if bad:
            raise ValueError(f"words with white space cannot be written in the text format: {bad[:5]}; "
                             f"replace the spaces, e.g. with '_'")
        check_finite(self.vectors, "vectors", "a file with NaN could not be read back; retrain with a lower lr")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{len(self)} {self.dim}\n")
            for word, row in zip(self.words, self.vectors.float().cpu().tolist()):
                f.write(word + " " + " ".join(f"{v:.7g}" for v in row) + "\n")
        return path

    @classmethod
    def load_word2vec_format(cls, path: str | Path) -> "Embeddings":
        """Read a word2vec text file (e.g. one written by :meth:`save_word2vec_format` or gensim).

        The file must be exactly a header line ``V D`` (two positive integers), then ``V`` lines of a
        word and ``D`` finite numbers separated by single spaces, each ending with a newline.

        Raises:
            ValueError: the file breaks the format; the message names the file, the line and the fault.
        """
        path = Path(path)

        def bad(line_no: int, what: str) -> ValueError:
            return ValueError(f"{path}, line {line_no}: {what}. A word2vec text file is a header 'V D' (number "
                              f"of words, vector size), then V lines 'word x1 ... xD'; {_EXPORT_FIX}")

        words, rows = [], []
        try:
            with open(path, encoding="utf-8") as f:
                header = f.readline()
                head = header.split()
                if len(head) != 2 or not all(h.isdigit() and int(h) > 0 for h in head):
                    raise bad(1, f"the header should be two positive integers 'V D', got {header.rstrip()!r:.60}")
                n, dim = map(int, head)
                line_no = 1
                for line_no, line in enumerate(f, start=2):
                    if not line.endswith("\n"):
                        raise bad(line_no, "the last line does not end with a newline: the file seems cut short "
                                           "(perhaps inside a number)")
                    if len(words) == n:
                        if line.strip():
                            raise bad(line_no, f"the header says {n} words, but the file holds more lines")
                        continue  # blank lines after the last word
                    parts = line.rstrip().split(" ")
                    if len(parts) != dim + 1 or not parts[0]:
                        raise bad(line_no, f"expected a word and {dim} numbers (header: {n} words x {dim} dims), "
                                           f"got {len(parts) - 1} fields after {parts[0]!r:.30}")
                    try:
                        rows.append([float(v) for v in parts[1:]])
                    except ValueError:
                        word = next(v for v in parts[1:] if not _is_float(v))
                        raise bad(line_no, f"{word!r:.30} is not a number") from None
                    words.append(parts[0])
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text (byte {e.start}); word2vec's binary format is read by "
                             f"gensim: Embeddings.from_keyed_vectors(KeyedVectors.load_word2vec_format(path, "
                             f"binary=True))") from None
        if len(words) != n:
            raise bad(line_no + 1, f"the header says {n} words, but the file ends after {len(words)}: it "
                                   f"seems cut short")
        vectors = torch.tensor(rows, dtype=torch.float32).view(n, dim)
        finite = torch.isfinite(vectors).all(1)
        if not bool(finite.all()):
            i = int((~finite).nonzero()[0])
            raise bad(i + 2, f"the vector of {words[i]!r} holds NaN or infinity")
        first = {}
        for i, w in enumerate(words):
            if first.setdefault(w, i) != i:
                raise bad(i + 2, f"{w!r} appears a second time (first on line {first[w] + 2})")
        return cls(words, vectors)

    @classmethod
    def from_keyed_vectors(cls, kv) -> "Embeddings":
        """Wrap gensim's ``KeyedVectors`` (``model.wv``) to evaluate it with the same functions."""
        if not (hasattr(kv, "index_to_key") and hasattr(kv, "vectors")):
            raise TypeError(f"from_keyed_vectors expects gensim KeyedVectors (model.wv), got {type(kv).__name__}")
        return cls(list(kv.index_to_key), torch.from_numpy(kv.vectors.copy()))


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


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
        questions: ``{section: [(a, b, c, d), ...]}``; default :func:`sslteach.data.load_analogies`.

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
