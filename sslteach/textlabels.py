"""Labelled sentences and word senses for notebook 09: polarity, subjectivity, authorship, Senseval.

* :func:`load_polarity` (movie-review sentiment), :func:`load_subjectivity`, :func:`load_authorship`
  (which author wrote a Gutenberg sentence), each a :class:`LabeledText`, with :func:`split_labeled`
  for a balanced, seeded few-label train set and a balanced test set.
* :func:`load_senseval` returns every occurrence of *hard*, *interest*, *line* or *serve* with its
  tokenised context, the position of the word and its sense.

Sizes: polarity 5,331 + 5,331; subjectivity 5,000 + 5,000; Senseval hard 4,333, interest 2,368,
line 4,146, serve 4,378 instances.

- Pang and Lee, A Sentimental Education (subjectivity), ACL 2004; Seeing Stars (polarity), ACL 2005.
- Kilgarriff, English Lexical Sample Task Description, SENSEVAL-2, 2001; Leacock, Towell and
  Voorhees, Corpus-based statistical sense resolution, 1993 (*line*); Bruce and Wiebe 1994 (*interest*).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from typing import NamedTuple

import torch

from .data import DataError, data_file, per_class_indices
from .textdata import _gutenberg_books, _read
from .utils import check_number

SENSEVAL_WORDS = ("hard", "interest", "line", "serve")


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
