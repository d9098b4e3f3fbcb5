"""Text for notebook 09: pre-training sentences and small labelled sets, read from the shipped files.

Every file is sha256-checked by :func:`sslteach.data.data_file`; the NLTK zips are read directly
with ``zipfile`` (no ``nltk`` needed). Text comes back as it is in the files (mixed case in Brown,
Gutenberg and the State of the Union, lower case elsewhere); the tokenizer lower-cases it.

* Pre-training: :func:`load_pretraining_text` joins Brown, the State of the Union addresses, the
  Gutenberg books and (optionally) the Wikipedia articles, one sentence per line, with a held-out
  part chosen **by document** (a Brown sample, a speech, an article, a 100-sentence passage of a
  book), so held-out sentences are never neighbours of training sentences.
* Labels: :func:`load_polarity` (movie-review sentiment), :func:`load_subjectivity`,
  :func:`load_authorship` (which author wrote a Gutenberg sentence), each a :class:`LabeledText`,
  with :func:`split_labeled` for a balanced, seeded few-label train set and a balanced test set.
* Word senses: :func:`load_senseval` returns every occurrence of *hard*, *interest*, *line* or
  *serve* with its tokenised context, the position of the word and its sense.

Sizes: Brown 500 samples, 57,340 sentences, 1.16M tokens; State of the Union 65 addresses, 18,226
sentences, 350k words; Gutenberg 17 books (11 authors), 66,273 sentences; polarity 5,331 + 5,331;
subjectivity 5,000 + 5,000; Senseval hard 4,333, interest 2,368, line 4,146, serve 4,378 instances.

- Francis and Kucera, Brown Corpus Manual, 1964/1979.
- Pang and Lee, A Sentimental Education (subjectivity), ACL 2004; Seeing Stars (polarity), ACL 2005.
- Kilgarriff, English Lexical Sample Task Description, SENSEVAL-2, 2001; Leacock, Towell and
  Voorhees, Corpus-based statistical sense resolution, 1993 (*line*); Bruce and Wiebe 1994 (*interest*).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from functools import lru_cache
from typing import NamedTuple

import torch

from .data import CORPORA, DataError, data_file, load_corpus, per_class_indices
from .utils import check_number

PRETRAIN_CORPORA = ("brown", "state_union", "gutenberg", "enwiki")
DEFAULT_CORPORA = ("brown", "state_union", "gutenberg")  # sentences with punctuation, like the labelled sets
SENSEVAL_WORDS = ("hard", "interest", "line", "serve")
PASSAGE = 100  # a Gutenberg "document" for the held-out split: 100 consecutive sentences of one book


class LabeledText(NamedTuple):
    """Sentences with class labels; unpacks as ``texts, labels, classes = load_polarity()``."""
    texts: list      # N strings
    labels: torch.Tensor  # (N,) int64 in 0..C-1
    classes: list    # C class names


class SensevalSet(NamedTuple):
    """Occurrences of one ambiguous word: ``instances[i] = (tokens, head, sense)`` with ``tokens[head]``
    the word itself and ``sense`` an index into ``senses`` (the corpus' sense ids, e.g. ``"HARD1"``)."""
    instances: list
    senses: list


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


# ---- labelled sentences ----

def _two_files(zip_name: str, files: dict) -> LabeledText:
    texts, labels = [], []
    found = _read(zip_name, "|".join(re.escape(member) for member, _ in files.values()), expected=len(files))
    for label, (member, expected) in enumerate(files.values()):
        lines = [line.strip() for line in found[member].splitlines() if line.strip()]
        if len(lines) != expected:
            raise DataError(f"{member} in data/text/nltk/{zip_name}.zip holds {len(lines)} sentences, expected "
                            f"{expected}; restore it with `git checkout -- data/text/nltk/{zip_name}.zip`")
        texts += lines
        labels += [label] * len(lines)
    return LabeledText(texts, torch.tensor(labels), list(files))


def load_polarity() -> LabeledText:
    """10,662 movie-review sentences (Pang and Lee 2005), classes ``["negative", "positive"]``, 5,331
    each, lower case and tokenised (``"it's so laddish and juvenile , only ..."``)."""
    return _two_files("sentence_polarity", {"negative": ("sentence_polarity/rt-polarity.neg", 5331),
                                            "positive": ("sentence_polarity/rt-polarity.pos", 5331)})


def load_subjectivity() -> LabeledText:
    """10,000 sentences (Pang and Lee 2004), classes ``["objective", "subjective"]``, 5,000 each:
    IMDb plot summaries (objective) and Rotten Tomatoes review snippets (subjective)."""
    return _two_files("subjectivity", {"objective": ("subjectivity/plot.tok.gt9.5000", 5000),
                                       "subjective": ("subjectivity/quote.tok.gt9.5000", 5000)})


def load_authorship(min_words: int = 5) -> LabeledText:
    """Gutenberg sentences labelled with their author: 11 authors (sorted), as several books share
    one (Austen 3, Chesterton 3, Shakespeare 3). Book header lines are left out (they name the author).

    Args:
        min_words: keep sentences of at least this many tokens (short lines such as "CHAPTER I" or
            "Scene II ." say little about an author).
    """
    min_words = check_number(min_words, "min_words", low=1, integer=True, hint="e.g. 5")
    books = _gutenberg_books()
    classes = sorted({author for _, author, _ in books})
    texts, labels = [], []
    for _, author, sentences in books:
        keep = [s for s in sentences if len(s.split()) >= min_words]
        texts += keep
        labels += [classes.index(author)] * len(keep)
    return LabeledText(texts, torch.tensor(labels), classes)


def split_labeled(data: LabeledText, n_train: int, n_test: int | None = None,
                  seed: int = 0) -> tuple[LabeledText, LabeledText]:
    """A balanced few-label split: ``n_train`` examples of every class to train on, and ``n_test``
    other examples of every class to test on (default: as many as the smallest class has left).

    Args:
        data: a :class:`LabeledText` (from :func:`load_polarity` etc.).
        n_train: training examples per class, e.g. 10.
        n_test: test examples per class, or None for the largest balanced test set.
        seed: an int; the same seed gives the same split.

    Returns:
        ``(train, test)``, two :class:`LabeledText` that share no sentence index.
    """
    if not isinstance(data, LabeledText):
        raise TypeError(f"data must be a LabeledText (texts, labels, classes) from load_polarity(), "
                        f"load_subjectivity() or load_authorship(), got {type(data).__name__}")
    n_train = check_number(n_train, "n_train (training examples per class)", low=1, integer=True, hint="e.g. 10")
    seed = check_number(seed, "seed", integer=True)
    counts = torch.bincount(data.labels, minlength=len(data.classes))
    fewest = int(counts.min())
    if n_train >= fewest:
        raise ValueError(f"n_train={n_train} per class leaves nothing to test on: the smallest class "
                         f"({data.classes[int(counts.argmin())]!r}) has {fewest} examples; use n_train < {fewest}")
    n_test = fewest - n_train if n_test is None else check_number(
        n_test, "n_test (test examples per class)", low=1, high=fewest - n_train, integer=True,
        hint=f"the smallest class has {fewest} examples, {n_train} of them for training; or None")
    both = per_class_indices(data.labels, n_train + n_test, seed)  # (C * (n_train + n_test),) sorted
    order = torch.randperm(len(both), generator=torch.Generator().manual_seed(seed + 1))
    both = both[order]
    train, test = [], []
    for c in range(len(data.classes)):
        idx = both[data.labels[both] == c]
        train.append(idx[:n_train])
        test.append(idx[n_train:])
    pick = lambda idx: LabeledText([data.texts[i] for i in idx.tolist()], data.labels[idx], list(data.classes))  # noqa: E731
    return pick(torch.cat(train).sort().values), pick(torch.cat(test).sort().values)


# ---- word senses ----

def _words(text: str | None) -> list[str]:
    return [w for w in (text or "").split() if w != "FRASL"]  # FRASL: a marker left in the files


def _parse_instance(instance: ET.Element) -> tuple[list[str], int, str]:
    """(tokens, head index, sense id) of one ``<instance>``: ``<wf>`` words and any loose text, in order."""
    tokens, head = [], []

    def walk(element: ET.Element, in_head: bool) -> None:
        if element.tag == "wf":
            if in_head:
                head.append(len(tokens))
            tokens.extend(_words(element.text) or ["_"])  # an empty <wf/> keeps its place
        else:
            tokens.extend(_words(element.text))
            for child in element:
                walk(child, in_head or element.tag == "head")
        tokens.extend(_words(element.tail))

    answer, context = instance.find("answer"), instance.find("context")
    if answer is None or context is None or answer.get("senseid") is None:
        raise ValueError(f"instance {instance.get('id')!r} has no <answer senseid=...> or no <context>")
    context.tail = None
    walk(context, False)
    if len(head) != 1:
        raise ValueError(f"instance {instance.get('id')!r} marks {len(head)} head words, expected 1")
    return tokens, head[0], answer.get("senseid")


@lru_cache(maxsize=None)
def _senseval(word: str, path) -> tuple:
    """(instances, senses) of one word, parsed once per session and file."""
    member = f"senseval/{word}.pos"
    try:
        root = ET.fromstring(_read("senseval", re.escape(member), expected=1)[member])
        parsed = [_parse_instance(inst) for inst in root.iter("instance")]
    except (ET.ParseError, ValueError) as e:
        raise DataError(f"{member} in data/text/nltk/senseval.zip is not the expected sense-tagged XML "
                        f"({e}); restore it with `git checkout -- data/text/nltk/senseval.zip`") from e
    senses = sorted({s for _, _, s in parsed})
    return tuple((tuple(toks), head, senses.index(s)) for toks, head, s in parsed), tuple(senses)


def load_senseval(word: str) -> SensevalSet:
    """Every sense-tagged occurrence of ``word`` in Senseval-2 (as shipped by NLTK).

    Args:
        word: ``"hard"`` (adjective), ``"interest"`` (noun), ``"line"`` (noun) or ``"serve"`` (verb).

    Returns:
        ``SensevalSet(instances, senses)``: ``instances[i] = (tokens, head, sense)`` with ``tokens`` the
        context words (lower case, tokenised; usually the sentence and the one before it), ``tokens[head]``
        the occurrence of the word (possibly inflected: "lines", "served"), ``sense`` an index into
        ``senses``, the sorted sense ids of the corpus.

    Examples:
        >>> tokens, head, sense = load_senseval("line").instances[0]
        >>> tokens[head], load_senseval("line").senses[sense]
        ('lines', 'cord')
    """
    if word not in SENSEVAL_WORDS:
        raise ValueError(f"word must be one of {SENSEVAL_WORDS} (the words Senseval-2 tags here), got {word!r}")
    instances, senses = _senseval(word, data_file("text/nltk/senseval.zip"))  # sha256 checked at every call
    return SensevalSet([(list(t), h, s) for t, h, s in instances], list(senses))
