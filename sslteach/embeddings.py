"""Word vectors: :class:`Embeddings` (a vocabulary and its vectors), and word2vec's text format.

:class:`Embeddings` is what :func:`sslteach.word2vec.train_word2vec` returns, what
:meth:`Embeddings.load_word2vec_format` reads from a file (ours or gensim's), or gensim's vectors
wrapped by :meth:`Embeddings.from_keyed_vectors`. It looks words up (an unknown word raises
:class:`UnknownWordError` with close suggestions), finds neighbours and answers analogies by
cosine similarity. The benchmarks that score it (WordSim-353, SimLex-999, Google analogies) are
:mod:`sslteach.wordeval`.

Examples:
    >>> emb = Embeddings.load_word2vec_format("vectors.txt")
    >>> emb.most_similar("king", k=3)       # [(word, cosine), ...]
    >>> emb.analogy("man", "king", "woman")  # man : king :: woman : ?
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

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
