"""Shipped text: the corpora of notebook 06, the word-similarity and analogy sets, and the
pre-training sentences of notebook 09, read from the sha256-checked files in ``data/``.

The NLTK zips are read directly with ``zipfile`` (no ``nltk`` needed). Text comes back as it is in
the files (mixed case in Brown, Gutenberg and the State of the Union, lower case elsewhere); the
tokenizers lower-case it.

* :func:`load_corpus` (Gutenberg books, Wikipedia articles), :func:`load_word_pairs` (WordSim-353,
  SimLex-999), :func:`load_analogies` (Google's analogy questions).
* :func:`load_pretraining_text` joins Brown, the State of the Union addresses, the Gutenberg books
  and (optionally) the Wikipedia articles, one sentence per line, with a held-out part chosen **by
  document** (a Brown sample, a speech, an article, a 100-sentence passage of a book), so held-out
  sentences are never neighbours of training sentences.
* Labelled sentences and word senses are in :mod:`sslteach.textlabels`.

Sizes: Brown 500 samples, 57,340 sentences, 1.16M tokens; State of the Union 65 addresses, 18,226
sentences, 350k words; Gutenberg 17 books (11 authors), 66,273 sentences.

- Francis and Kucera, Brown Corpus Manual, 1964/1979.
"""
from __future__ import annotations

import gzip
import re
import zipfile
from functools import lru_cache

import torch

from .data import DataError, data_file
from .utils import check_number

CORPORA = {"gutenberg": "text/gutenberg17_tokenized.txt.gz", "enwiki": "text/enwiki_mini.txt.gz"}
WORD_PAIRS = {"wordsim353": "eval/wordsim353.tsv", "simlex999": "eval/simlex999.txt"}
PRETRAIN_CORPORA = ("brown", "state_union", "gutenberg", "enwiki")
DEFAULT_CORPORA = ("brown", "state_union", "gutenberg")  # sentences with punctuation, like the labelled sets
PASSAGE = 100  # a Gutenberg "document" for the held-out split: 100 consecutive sentences of one book


def _decode(raw: bytes) -> str:
    """Text of one file. NLTK's files are utf-8, except six addresses of the State of the Union:
    Nixon's 1970-74 write quotes and dashes in Big5 (a Chinese encoding: ``\\xa1\\xa6`` is ``'``),
    Eisenhower's 1954 has a latin-1 ``1/2`` sign."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("big5", errors="replace")
        if any(ord(c) > 127 and c not in "\u2014\u2019\u201c\u201d\u2026\u3000" for c in text):
            text = raw.decode("latin-1")
    # files converted from latin-1 to utf-8 kept cp1252 quotes and dashes as C1 controls: map them back
    return text.translate(_CP1252).replace("\u3000", " ")


_CP1252 = {c: bytes([c]).decode("cp1252", errors="replace") for c in range(0x80, 0xA0)}


def _read(zip_name: str, pattern: str, expected: int | None = None) -> dict[str, str]:
    """``{member: text}`` of the members of a shipped NLTK zip whose names match ``pattern`` (sorted),
    with a DataError when their number differs from ``expected``."""
    path = data_file(f"text/nltk/{zip_name}.zip")  # sha256 checked once per call
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if re.fullmatch(pattern, n))
        texts = {n: _decode(zf.read(n)) for n in names}
    if expected is not None and len(texts) != expected:
        raise DataError(f"{path} holds {len(texts)} files matching {pattern!r}, expected {expected}: is it "
                        f"the unchanged NLTK data package? Restore it with `git checkout -- data/text/nltk/{zip_name}.zip`")
    return texts


# ---- the shipped corpora and word-similarity sets (notebook 06) ----

def load_corpus(name: str = "gutenberg", max_lines: int | None = None) -> list[str]:
    """Raw lines of a shipped corpus: ``"gutenberg"`` (17 books, one sentence per line, mixed case,
    punctuation tokens) or ``"enwiki"`` (106 Wikipedia articles, lower-case, one per line);
    ``max_lines`` (an int >= 1) keeps only the first lines."""
    if not isinstance(name, str) or name not in CORPORA:
        raise ValueError(f"corpus must be one of {sorted(CORPORA)}, got {name!r}")
    if max_lines is not None:
        check_number(max_lines, "max_lines", low=1, integer=True, hint="or None for the whole corpus")
    with gzip.open(data_file(CORPORA[name]), "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return lines[:max_lines] if max_lines is not None else lines


def load_word_pairs(name: str = "wordsim353") -> list[tuple[str, str, float]]:
    """Human similarity judgements: ``"wordsim353"`` (Finkelstein et al. 2002, relatedness 0-10) or
    ``"simlex999"`` (Hill, Reichart, Korhonen 2015, similarity 0-10), as (word1, word2, score)."""
    if not isinstance(name, str) or name not in WORD_PAIRS:
        raise ValueError(f"word-pair set must be one of {sorted(WORD_PAIRS)}, got {name!r}")
    pairs = []
    for line in data_file(WORD_PAIRS[name]).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        w1, w2, score = line.split("\t")[:3]
        pairs.append((w1.lower(), w2.lower(), float(score)))
    return pairs


def load_analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """Google's analogy questions (Mikolov et al. 2013), lower-cased, by section:
    ``{"capital-common-countries": [("athens", "greece", "baghdad", "iraq"), ...], ...}``."""
    sections: dict[str, list] = {}
    current = None
    for line in data_file("eval/questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip():
            sections[current].append(tuple(line.lower().split()))
    return sections


# ---- pre-training text: a list of documents, each a list of sentences ----

def _brown_documents() -> list[list[str]]:
    """The 500 Brown samples (``brown/c[a-r]NN``): one sentence per line, ``word/tag`` tokens -> words."""
    docs = []
    for text in _read("brown", r"brown/c[a-r]\d\d", expected=500).values():
        lines = (line.split() for line in text.splitlines())
        docs.append([" ".join(tok.rsplit("/", 1)[0] for tok in toks) for toks in lines if toks])
    return docs


# a sentence ends at . ! or ? (and closing quotes) before a space and a capital, except after a title
_SENTENCE_END = re.compile(r'(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?:(?<=[.!?])|(?<=[.!?]["\')]))\s+(?=["(]?[A-Z])')


def split_sentences(paragraph: str) -> list[str]:
    """Split plain text into sentences, simply: after ``. ! ?`` followed by a capital letter (not after
    Mr./Mrs./Ms./Dr./St.). Good enough for speeches; abbreviations such as "U.S. Army" may split.

    Examples:
        >>> split_sentences("Mr. Speaker, thank you. We are here! Are we?")
        ['Mr. Speaker, thank you.', 'We are here!', 'Are we?']
    """
    if not isinstance(paragraph, str):
        raise TypeError(f"split_sentences expects a string, got {type(paragraph).__name__}")
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _state_union_documents() -> list[list[str]]:
    """The 65 addresses (``state_union/YYYY-Name.txt``), each split into sentences."""
    return [[s for line in text.splitlines() for s in split_sentences(line)]
            for text in _read("state_union", r"state_union/\d{4}-.*\.txt", expected=65).values()]


# a book starts with a header line "[ Emma by Jane Austen 1816 ]" (year optional, text may follow)
_BOOK_HEADER = re.compile(r"\[ (?P<title>[^\]]+?)(?: ,)? by (?P<author>[^\]]+?)(?: (?P<year>\d{4}))? \](?P<rest>.*)")


def _author(name: str) -> str:
    return re.sub(r"(?<=\b[A-Z]\.) (?=[A-Z]\.)", "", name)  # "G. K. Chesterton" == "G.K. Chesterton"


def _gutenberg_books() -> list[tuple[str, str, list[str]]]:
    """``(title, author, sentences)`` of the 17 books: a header line holds `` by `` (``[ Illustration ]``
    lines do not), every following sentence belongs to that book."""
    books = []
    for line in load_corpus("gutenberg"):
        m = _BOOK_HEADER.fullmatch(line)
        if m:
            books.append((m["title"], _author(m["author"]), []))
            line = m["rest"].strip()  # "[ Paradise Lost by John Milton 1667 ] Book I Of Man 's ..."
        if line and books:
            books[-1][2].append(line)
    if len(books) != 17:
        raise DataError(f"found {len(books)} book headers such as '[ Emma by Jane Austen 1816 ]' in "
                        f"data/text/gutenberg17_tokenized.txt.gz, expected 17; restore the file with "
                        f"`git checkout -- data/text/gutenberg17_tokenized.txt.gz`")
    return books


_SOURCES = {"brown": "text/nltk/brown.zip", "state_union": "text/nltk/state_union.zip",
            "gutenberg": CORPORA["gutenberg"], "enwiki": CORPORA["enwiki"]}


def _documents(corpus: str) -> tuple:
    """The documents of a corpus, each a tuple of sentences: parsed once per session and file, the
    file's sha256 checked at every call."""
    return _parsed_documents(corpus, data_file(_SOURCES[corpus]))


@lru_cache(maxsize=None)
def _parsed_documents(corpus: str, path) -> tuple:
    return tuple(tuple(doc) for doc in _parse_documents(corpus))


def _parse_documents(corpus: str) -> list[list[str]]:
    if corpus == "brown":
        return _brown_documents()
    if corpus == "state_union":
        return _state_union_documents()
    if corpus == "gutenberg":  # 17 books are too few to hold out: passages of PASSAGE sentences
        return [s[i:i + PASSAGE] for _, _, s in _gutenberg_books() for i in range(0, len(s), PASSAGE)]
    return [[line] for line in load_corpus("enwiki")]  # one article per line (lower case, no punctuation)


def _check_corpora(corpora) -> tuple:
    if isinstance(corpora, str):
        corpora = (corpora,)
    try:
        corpora = tuple(corpora)
    except TypeError:
        raise TypeError(f"corpora must be a list of corpus names from {PRETRAIN_CORPORA}, got "
                        f"{type(corpora).__name__}") from None
    unknown = [c for c in corpora if c not in PRETRAIN_CORPORA]
    if unknown or not corpora:
        raise ValueError(f"corpora must be a non-empty list of names from {PRETRAIN_CORPORA}, got "
                         f"{list(corpora)!r}; e.g. corpora=('brown', 'state_union', 'gutenberg')")
    return tuple(dict.fromkeys(corpora))  # drop repeats, keep order


def load_pretraining_text(corpora=DEFAULT_CORPORA, split: str = "train", held_out: float = 0.1,
                          seed: int = 0) -> list[str]:
    """Sentences for pre-training, one string each, with a held-out part chosen by document.

    In every corpus, ``round(held_out * n_documents)`` documents (at least one) drawn with ``seed``
    form the ``"test"`` part; the others are ``"train"``. Documents are Brown samples, State of the
    Union addresses, Wikipedia articles and passages of :data:`PASSAGE` sentences of a Gutenberg book.

    Args:
        corpora: names from :data:`PRETRAIN_CORPORA`; by default the three with sentences, case
            and punctuation (``"enwiki"`` is lower case without punctuation, one article per line).
        split: ``"train"``, ``"test"`` or ``"all"``.
        held_out: fraction of documents held out, in (0, 0.5].
        seed: an int; the same seed always holds out the same documents.

    Returns:
        The sentences of the split, corpus after corpus, in document order.
    """
    corpora = _check_corpora(corpora)
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    held_out = check_number(held_out, "held_out", low=0, high=0.5, low_open=True,
                            hint="the fraction of documents held out, e.g. 0.1")
    seed = check_number(seed, "seed", integer=True)
    sentences = []
    for corpus in corpora:
        docs = _documents(corpus)
        n_test = max(1, round(held_out * len(docs)))
        test = set(torch.randperm(len(docs), generator=torch.Generator().manual_seed(seed))[:n_test].tolist())
        for i, doc in enumerate(docs):
            if split == "all" or (i in test) == (split == "test"):
                sentences.extend(doc)
    return sentences


