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
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from .data import load_analogies, load_word_pairs


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
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(f"vectors must be (V, D) with V = len(words) = {len(self.words)}, "
                             f"got shape {tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words contains duplicates; every word needs exactly one vector")

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
        if word not in self.index:
            raise UnknownWordError(word, self)
        return self.index[word]

    def __getitem__(self, word: str) -> torch.Tensor:
        """The vector (D,) of ``word``."""
        return self.vectors[self.id(word)]

    def unit_vectors(self) -> torch.Tensor:
        """All vectors scaled to length 1 (V, D), so that dot products are cosines."""
        return F.normalize(self.vectors.float(), dim=1)

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return F.cosine_similarity(self[word1].float(), self[word2].float(), dim=0).item()

    def _top(self, scores: torch.Tensor, k: int, exclude) -> list[tuple[str, float]]:
        scores = scores.clone()
        scores[[self.id(w) for w in exclude]] = -math.inf
        values, idx = scores.topk(min(k, len(self) - len(set(exclude))))
        return [(self.words[i], v) for i, v in zip(idx.tolist(), values.tolist())]

    def most_similar(self, query: str | torch.Tensor, k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to a word (itself excluded) or a vector (D,).

        Returns:
            ``[(word, cosine), ...]``, most similar first.
        """
        if isinstance(query, str):
            exclude, query = (query, *exclude), self[query]
        q = F.normalize(query.float().to(self.vectors.device), dim=0)  # (D,)
        return self._top(self.unit_vectors() @ q, k, exclude)  # (V,) cosines

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """"a is to b as c is to ?" by 3CosAdd: ``argmax_d cos(d, b) - cos(d, a) + cos(d, c)``, d not in {a, b, c}.

        Examples:
            >>> emb.analogy("man", "king", "woman")   # ideally [("queen", ...)]
        """
        u = self.unit_vectors()  # (V, D)
        return self._top(u @ (u[self.id(b)] - u[self.id(a)] + u[self.id(c)]), k, (a, b, c))

    def save_word2vec_format(self, path: str | Path) -> Path:
        """Write the word2vec text format (``V D`` header, then ``word x1 ... xD`` per line), which
        gensim's ``KeyedVectors.load_word2vec_format(path)`` reads."""
        path = Path(path)
        bad = [w for w in self.words if not w or any(ch.isspace() for ch in w)]
        if bad:
            raise ValueError(f"words with white space cannot be written in the text format: {bad[:5]}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{len(self)} {self.dim}\n")
            for word, row in zip(self.words, self.vectors.float().cpu().tolist()):
                f.write(word + " " + " ".join(f"{v:.7g}" for v in row) + "\n")
        return path

    @classmethod
    def load_word2vec_format(cls, path: str | Path) -> "Embeddings":
        """Read a word2vec text file (e.g. one written by :meth:`save_word2vec_format` or gensim)."""
        with open(path, encoding="utf-8") as f:
            n, dim = map(int, f.readline().split())
            words, rows = [], []
            for line in f:
                parts = line.rstrip().split(" ")
                if len(parts) != dim + 1:
                    raise ValueError(f"{path}: line {len(words) + 2} has {len(parts) - 1} numbers, "
                                     f"expected {dim} (header says {n} words x {dim} dims)")
                words.append(parts[0])
                rows.append([float(v) for v in parts[1:]])
        if len(words) != n:
            raise ValueError(f"{path}: header says {n} words, the file has {len(words)}")
        return cls(words, torch.tensor(rows, dtype=torch.float32).view(n, dim))

    @classmethod
    def from_keyed_vectors(cls, kv) -> "Embeddings":
        """Wrap gensim's ``KeyedVectors`` (``model.wv``) to evaluate it with the same functions."""
        return cls(list(kv.index_to_key), torch.from_numpy(kv.vectors.copy()))


class SimilarityResult(NamedTuple):
    rho: float  # Spearman correlation between cosine similarities and human scores
    pairs: int  # pairs used
    oov: int    # pairs skipped because a word is not in the vocabulary


def evaluate_similarity(emb: Embeddings, pairs="wordsim353") -> SimilarityResult:
    """Spearman's rho between human similarity scores and cosine similarities.

    Args:
        emb: the word vectors.
        pairs: ``"wordsim353"``, ``"simlex999"`` or a list of ``(word1, word2, score)``.
    """
    pairs = load_word_pairs(pairs) if isinstance(pairs, str) else list(pairs)
    known = [(a, b, s) for a, b, s in pairs if a in emb and b in emb]
    if len(known) < 2:
        return SimilarityResult(math.nan, len(known), len(pairs) - len(known))
    u = emb.unit_vectors()
    i = torch.tensor([emb.index[a] for a, _, _ in known])
    j = torch.tensor([emb.index[b] for _, b, _ in known])
    cos = (u[i] * u[j]).sum(1)  # (P,)
    rho = spearmanr([s for _, _, s in known], cos.cpu().numpy()).statistic
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
    answers, and questions with a word outside them are skipped, as in word2vec's
    ``compute-accuracy`` and gensim's ``evaluate_word_analogies``.

    Args:
        emb: the word vectors, most frequent word first.
        questions: ``{section: [(a, b, c, d), ...]}``; default :func:`sslteach.data.load_analogies`.
    """
    questions = load_analogies() if questions is None else questions
    u = emb.unit_vectors()[:restrict_vocab]  # (R, D)
    index = {w: i for w, i in emb.index.items() if i < len(u)}
    sections, skipped = {}, 0
    for name, quads in questions.items():
        ok = [[index[w] for w in q] for q in quads if all(w in index for w in q)]
        skipped += len(quads) - len(ok)
        correct = 0
        for q in torch.tensor(ok, dtype=torch.long, device=u.device).view(-1, 4).split(batch_size):
            scores = (u[q[:, 1]] - u[q[:, 0]] + u[q[:, 2]]) @ u.T  # (B, R) 3CosAdd scores
            scores.scatter_(1, q[:, :3], -math.inf)  # never answer a question word
            correct += int((scores.argmax(1) == q[:, 3]).sum())
        sections[name] = (correct, len(ok))
    c, n = sum(v[0] for v in sections.values()), sum(v[1] for v in sections.values())
    return AnalogyResult(c / n if n else math.nan, c, n, skipped, sections)


def evaluate(emb: Embeddings, restrict_vocab: int = 30_000) -> dict:
    """WordSim-353 and SimLex-999 rho (with the pairs used) and Google analogy accuracy, in one dict."""
    out = {}
    for name in ("wordsim353", "simlex999"):
        r = evaluate_similarity(emb, name)
        out[name], out[f"{name}_pairs"], out[f"{name}_oov"] = r.rho, r.pairs, r.oov
    a = evaluate_analogies(emb, restrict_vocab=restrict_vocab)
    out["analogy"], out["analogy_questions"] = a.accuracy, a.questions
    return out
