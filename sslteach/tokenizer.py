"""Text -> token ids, and token ids -> the tensors a transformer trains on.

The package's tokenisation is a WordPiece vocabulary of 4,000 lower-cased subwords (BERT's scheme;
Wu et al. 2016), trained on the pre-training sentences with HuggingFace ``tokenizers`` and saved as
one JSON file next to the checkpoint. Common words are one token (``the``, ``served``), rare ones
split into pieces (``unforgettably`` -> ``un ##for ##get ##t ##ably``), so almost nothing is
unknown: [UNK] only stands for a word with a character never seen in training, and
:meth:`TextTokenizer.coverage` counts and lists those. Whole words leave every rare word, name and
number as [UNK]; characters need about five tokens a word, so a window of the same length sees
far less text (``kind="char"`` gives them, for the quick demo of next-token prediction).

Special tokens have fixed ids: ``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4``.

- Wu et al., Google's Neural Machine Translation System (WordPiece), 2016.
- Sennrich, Haddow and Birch, Neural Machine Translation of Rare Words with Subword Units (BPE), 2016.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .utils import cache_dir, check_number

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4
KINDS = ("wordpiece", "word", "char")


def _check_texts(texts, fn: str) -> list[str]:
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise TypeError(f"{fn} expects a list of strings, got a {type(texts).__name__}; for one text use [text]")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{fn} expects every text to be a string, but item {i} is a {type(t).__name__}: {t!r:.60}")
    if not texts:
        raise ValueError(f"{fn} got no text: pass a non-empty list of strings")
    return texts


class TextTokenizer:
    """A HuggingFace ``tokenizers.Tokenizer`` with the names this package uses.

    Build one with :meth:`train` or :meth:`load`; ``vocab_size``, ``pad_id``, ``unk_id``, ``cls_id``,
    ``sep_id``, ``mask_id`` and ``special_ids`` describe the vocabulary.
    """

    pad_id, unk_id, cls_id, sep_id, mask_id = range(5)
    special_ids = tuple(range(5))

    def __init__(self, hf_tokenizer):
        for i, token in enumerate(SPECIAL_TOKENS):
            if hf_tokenizer.token_to_id(token) != i:
                raise ValueError(f"the tokenizer must have {token} at id {i} (ids 0..4 are {SPECIAL_TOKENS}); "
                                 f"build it with TextTokenizer.train")
        self.hf = hf_tokenizer
        self.vocab_size = hf_tokenizer.get_vocab_size()
        self.kind = {"WordPiece": "wordpiece"}.get(type(hf_tokenizer.model).__name__,
                                                   "char" if "Split" in str(hf_tokenizer.pre_tokenizer) else "word")

    @classmethod
    def train(cls, sentences, vocab_size: int = 4000, kind: str = "wordpiece", min_frequency: int = 2) -> "TextTokenizer":
        """Learn a vocabulary from ``sentences`` (lower-cased, accents stripped).

        Args:
            sentences: a list of strings.
            vocab_size: tokens in the vocabulary, the 5 special tokens included (at most that many
                for ``"char"``: every character seen).
            kind: ``"wordpiece"`` (subwords, the default), ``"word"`` (whole words: the rest is [UNK])
                or ``"char"`` (single characters, spaces included).
            min_frequency: a merge or word must occur this often to enter the vocabulary.
        """
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        sentences = _check_texts(sentences, "TextTokenizer.train")
        check_number(vocab_size, "vocab_size", low=len(SPECIAL_TOKENS) + 1, integer=True, hint="e.g. 4000")
        check_number(min_frequency, "min_frequency", low=1, integer=True)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        common = dict(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False)
        if kind == "wordpiece":
            tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
            trainer = trainers.WordPieceTrainer(min_frequency=min_frequency, **common)
            tok.decoder = decoders.WordPiece()  # "serv ##ing" -> "serving"
        else:
            tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
            trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, **common)
        tok.normalizer = normalizers.Sequence([  # cafe == Café; typographic quotes and dashes -> ASCII
            normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
            normalizers.Replace(Regex("[\u2018\u2019\u201a]"), "'"), normalizers.Replace(Regex("[\u201c\u201d\u201e]"), '"'),
            normalizers.Replace(Regex("[\u2013\u2014\u2212]"), "-"), normalizers.Replace("\u2026", "..."),
            normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])
        if kind == "char":
            tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # every character a token
            tok.decoder = decoders.Fuse()
        else:
            tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split on spaces and punctuation
        tok.train_from_iterator(sentences, trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> "TextTokenizer":
        """Read a tokenizer saved with :meth:`save` (one JSON file)."""
        from tokenizers import Tokenizer

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file {path} does not exist; train one with TextTokenizer.train "
                                    f"and save it with .save(path)")
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as e:  # the Rust library raises plain Exceptions for bad JSON
            raise ValueError(f"{path} is not a tokenizer JSON file written by TextTokenizer.save ({e})") from e

    @classmethod
    def from_str(cls, text: str) -> "TextTokenizer":
        """The tokenizer from :meth:`to_str`, e.g. stored inside a checkpoint with
        ``save_checkpoint(path, model, config=model.config, tokenizer=tokenizer.to_str())``."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))

    def to_str(self) -> str:
        """The whole tokenizer as a JSON string."""
        return self.hf.to_str()

    def save(self, path: str | Path) -> Path:
        """Write the tokenizer as JSON, atomically (next to the checkpoint it belongs to)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(self.to_str(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def __repr__(self) -> str:
        return f"TextTokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"

    def encode(self, text: str) -> list[int]:
        """Token ids of one text (``"[MASK]"`` in the text becomes the mask token)."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects one string, got {type(text).__name__}; for many use encode_batch")
        return self.hf.encode(text).ids

    def encode_batch(self, texts) -> list[list[int]]:
        """Token ids of every text (a list of strings)."""
        return [e.ids for e in self.hf.encode_batch(_check_texts(texts, "encode_batch"))]

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text, as strings (to look at how it is cut)."""
        if not isinstance(text, str):
            raise TypeError(f"tokens expects one string, got {type(text).__name__}")
        return self.hf.encode(text).tokens

    def decode(self, ids, skip_special: bool = True) -> str:
        """Text of token ids (a list or a 1-D tensor); special tokens are left out unless ``skip_special=False``."""
        ids = torch.as_tensor(ids).tolist() if not isinstance(ids, list) else ids
        if not all(isinstance(i, int) and 0 <= i < self.vocab_size for i in ids):
            raise ValueError(f"decode expects token ids in 0..{self.vocab_size - 1}, got {ids!r:.80}")
        return self.hf.decode(ids, skip_special_tokens=skip_special)

    def id_to_token(self, i: int) -> str:
        check_number(i, "token id", low=0, high=self.vocab_size - 1, integer=True)
        return self.hf.id_to_token(int(i))

    def encode_words(self, words: list[str]) -> tuple[list[int], list[int]]:
        """Token ids of a text already split into words, and for every token the index of its word."""
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise TypeError(f"encode_words expects a list of words (strings), got {words!r:.60}")
        enc = self.hf.encode(list(words), is_pretokenized=True)
        return enc.ids, list(enc.word_ids)

    def coverage(self, texts) -> dict:
        """How well the vocabulary covers ``texts``: unknown tokens are counted, never hidden.

        Returns:
            ``{"texts", "tokens", "unk", "unk_rate", "tokens_per_word", "chars_per_token", "top_unknown"}``;
            ``tokens_per_word`` counts words split on white space, ``top_unknown`` the 10 most frequent
            pieces of text that became [UNK], with their counts.
        """
        texts = _check_texts(texts, "coverage")
        unknown, n_tokens = Counter(), 0
        for text, enc in zip(texts, self.hf.encode_batch(texts)):
            n_tokens += len(enc.ids)
            unknown.update(text[s:e] for i, (s, e) in zip(enc.ids, enc.offsets) if i == self.unk_id)
        n_words = sum(len(t.split()) for t in texts)
        n_unk = sum(unknown.values())
        return {"texts": len(texts), "tokens": n_tokens, "unk": n_unk, "unk_rate": n_unk / max(n_tokens, 1),
                "tokens_per_word": n_tokens / max(n_words, 1),
                "chars_per_token": sum(map(len, texts)) / max(n_tokens, 1), "top_unknown": unknown.most_common(10)}


def _check_tokenizer(tokenizer) -> TextTokenizer:
    if not isinstance(tokenizer, TextTokenizer):
        raise TypeError(f"tokenizer must be a TextTokenizer (TextTokenizer.train or .load), got {type(tokenizer).__name__}")
    return tokenizer


def _encode_cached(tokenizer: TextTokenizer, sentences: list[str]) -> list[np.ndarray]:
    """``encode_batch`` with a disk cache keyed by the tokenizer and the text (the corpus takes ~20 s).
    A cache file that cannot be read is rebuilt; one that cannot be written only costs time."""
    digest = hashlib.sha256(tokenizer.to_str().encode())
    for s in sentences:
        digest.update(s.encode() + b"\n")
    try:
        path = cache_dir() / f"tokens.{digest.hexdigest()[:24]}.npz"
    except OSError:  # no writable cache folder
        path = None
    if path is not None and path.is_file():
        try:
            with np.load(path) as f:
                flat, lengths = f["ids"], f["lengths"]
            if len(lengths) == len(sentences) and lengths.sum() == len(flat):
                return np.split(flat, np.cumsum(lengths)[:-1])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # a torn or foreign file: encode again
    encoded = [np.asarray(ids, dtype=np.int32) for ids in tokenizer.encode_batch(sentences)]
    if path is not None:
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
        try:
            np.savez(tmp, ids=np.concatenate(encoded), lengths=np.array([len(e) for e in encoded]))
            os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
        except OSError:
            tmp.unlink(missing_ok=True)
    return encoded


def pack_sequences(tokenizer: TextTokenizer, sentences, seq_len: int = 64) -> torch.Tensor:
    """Pre-training batches: every sentence followed by [SEP], all joined into one stream of tokens and
    cut into rows of ``seq_len`` (as GPT and RoBERTa do). No padding, so no compute is wasted; a row
    may start mid-sentence; the last incomplete row is dropped.

    Returns:
        (N, seq_len) int64 token ids; feed them to ``TensorLoader(ids, batch_size=...)``.
    """
    _check_tokenizer(tokenizer)
    sentences = _check_texts(sentences, "pack_sequences")
    seq_len = check_number(seq_len, "seq_len", low=2, integer=True, hint="e.g. the model's max_len, 64")
    sep = np.array([tokenizer.sep_id], dtype=np.int32)
    stream = np.concatenate([part for ids in _encode_cached(tokenizer, sentences) for part in (ids, sep)])
    n = len(stream) // seq_len
    if n == 0:
        raise ValueError(f"the {len(sentences)} sentences make {len(stream)} tokens, fewer than one row of "
                         f"seq_len={seq_len}; pass more text or a shorter seq_len")
    return torch.from_numpy(stream[:n * seq_len].astype(np.int64)).view(n, seq_len)


def pad_sequences(sequences, max_len: int, pad_id: int = 0, truncate: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences of different lengths as one padded batch (for classification and embeddings).

    Args:
        sequences: a list of token-id lists.
        max_len: the width of the batch (the model's ``max_len``).
        pad_id: the id written after each sequence.
        truncate: keep the first ``max_len`` tokens of longer sequences; if False (default) they are
            an error that says how many there are.

    Returns:
        ``(ids, pad_mask)``: (N, max_len) int64 and (N, max_len) bool, True at padding.
    """
    max_len = check_number(max_len, "max_len", low=1, integer=True)
    sequences = [list(s) for s in sequences]
    if not sequences or any(len(s) == 0 for s in sequences):
        raise ValueError("pad_sequences needs a non-empty list of non-empty token lists; an empty text has no "
                         "token to represent it: drop it first")
    too_long = [len(s) for s in sequences if len(s) > max_len]
    if too_long and not truncate:
        raise ValueError(f"{len(too_long)} of {len(sequences)} sequences are longer than max_len={max_len} (the "
                         f"longest has {max(too_long)} tokens): pass truncate=True to keep their first {max_len} "
                         f"tokens, or a larger max_len")
    ids = torch.full((len(sequences), max_len), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :min(len(s), max_len)] = torch.tensor(s[:max_len])
    lengths = torch.tensor([min(len(s), max_len) for s in sequences])
    return ids, torch.arange(max_len) >= lengths[:, None]


def encode_around(tokenizer: TextTokenizer, words_list, heads, max_len: int = 64):
    """Contexts around one word each (Senseval): the ids of a window of at most ``max_len`` tokens
    centred on the word, and the position of the word's **first** sub-token in that window (a split
    word is represented by its first piece, as in BERT's token classification).

    Args:
        words_list: N lists of words.
        heads: N indices, ``words_list[i][heads[i]]`` is the word of interest.

    Returns:
        ``(ids, pad_mask, positions)``: (N, max_len) int64, (N, max_len) bool, (N,) int64.
    """
    _check_tokenizer(tokenizer)
    max_len = check_number(max_len, "max_len", low=1, integer=True)
    words_list, heads = list(words_list), list(heads)
    if len(words_list) != len(heads) or not heads:
        raise ValueError(f"need one head index per word list, got {len(words_list)} word lists and {len(heads)} heads")
    windows, positions = [], []
    for i, (words, head) in enumerate(zip(words_list, heads)):
        if not isinstance(head, int) or not 0 <= head < len(words):
            raise ValueError(f"heads[{i}]={head!r} is not an index into its {len(words)} words")
        ids, word_of = tokenizer.encode_words(words)
        if head not in word_of:
            raise ValueError(f"word {words[head]!r} (heads[{i}]={head}) gives no token at all; drop that example")
        first = word_of.index(head)
        start = min(max(0, first - max_len // 2), max(0, len(ids) - max_len))  # centred, inside the text
        windows.append(ids[start:start + max_len])
        positions.append(first - start)
    ids, pad_mask = pad_sequences(windows, max_len, tokenizer.pad_id)
    return ids, pad_mask, torch.tensor(positions)

