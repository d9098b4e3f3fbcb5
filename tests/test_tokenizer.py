"""sslteach.tokenizer: WordPiece (and word, char) vocabularies, coverage, packing and padding."""
import pytest
import torch

from sslteach.textlabels import load_polarity
from sslteach.tokenizer import SPECIAL_TOKENS, TextTokenizer, encode_around, pack_sequences, pad_sequences


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP stalls when another program uses a core

TEXTS = load_polarity().texts[::4]  # 2,666 lower-case sentences: trains in about a second


@pytest.fixture(scope="module")
def tok():
    return TextTokenizer.train(TEXTS, vocab_size=600)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_path / "cache"))


def test_special_tokens_have_fixed_ids(tok):
    assert [tok.hf.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.vocab_size == 600 and tok.kind == "wordpiece" and repr(tok) == "TextTokenizer(kind='wordpiece', vocab_size=600)"


def test_encode_decode_round_trip_and_subwords(tok):
    text = "the film is a charming , funny story ."
    assert tok.decode(tok.encode(text)) == "the film is a charming, funny story."  # WordPiece's decoder glues punctuation
    assert tok.tokens("The FILM") == ["the", "film"]                              # lower-cased
    pieces = tok.tokens("unforgettably")
    assert len(pieces) > 1 and all(p.startswith("##") for p in pieces[1:])
    assert tok.encode("a [MASK] film") == [tok.encode("a")[0], tok.mask_id, tok.encode("film")[0]]
    assert tok.encode_batch(["a film", "good"]) == [tok.encode("a film"), tok.encode("good")]
    assert tok.decode(torch.tensor(tok.encode("a film"))) == "a film"
    assert tok.tokens("café") == tok.tokens("cafe")                               # accents stripped


def test_coverage_counts_unknown_characters(tok):
    report = tok.coverage(["the film is good", "a \u20ac5 film \u6f22"])
    # a word with a character never seen in training becomes one [UNK] as a whole
    assert report["unk"] == 2 and report["top_unknown"] == [("\u20ac5", 1), ("\u6f22", 1)]
    assert report["unk_rate"] == 2 / report["tokens"] and report["texts"] == 2
    assert report["tokens_per_word"] >= 1


def test_word_and_char_kinds():
    words = TextTokenizer.train(TEXTS, vocab_size=300, kind="word")
    assert words.kind == "word" and words.tokens("the film") == ["the", "film"]
    report = words.coverage(TEXTS[:200])
    assert report["unk_rate"] > 0.1 and report["tokens_per_word"] == pytest.approx(1, abs=0.15)  # "it's" -> it ' s
    chars = TextTokenizer.train(TEXTS, vocab_size=1000, kind="char")
    assert chars.kind == "char" and chars.vocab_size < 100            # every character seen, no more
    assert chars.tokens("a film") == ["a", " ", "f", "i", "l", "m"]
    assert chars.decode(chars.encode("a  film .")) == "a film ."


def test_save_load_and_string_round_trip(tok, tmp_path):
    path = tok.save(tmp_path / "sub" / "tokenizer.json")
    again = TextTokenizer.load(path)
    assert again.encode("a charming film") == tok.encode("a charming film") and again.kind == "wordpiece"
    assert TextTokenizer.from_str(tok.to_str()).encode("sad") == tok.encode("sad")


def test_encode_words_maps_tokens_to_words(tok):
    ids, word_of = tok.encode_words(["the", "unforgettably", "film"])
    assert word_of[0] == 0 and word_of[-1] == 2 and word_of.count(1) == len(tok.tokens("unforgettably"))
    assert len(ids) == len(word_of)


def test_pack_sequences_joins_sentences_with_sep_and_caches(tok, tmp_path):
    sentences = TEXTS[:50]
    rows = pack_sequences(tok, sentences, seq_len=32)
    stream = [i for s in sentences for i in tok.encode(s) + [tok.sep_id]]
    assert rows.dtype == torch.int64 and rows.shape == (len(stream) // 32, 32)
    assert rows.flatten().tolist() == stream[:rows.numel()]
    assert list((tmp_path / "cache").glob("tokens.*.npz"))            # cached for the next call
    assert torch.equal(pack_sequences(tok, sentences, seq_len=32), rows)


def test_pad_sequences():
    ids, pad = pad_sequences([[5, 6, 7], [8]], 4, pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]]
    assert pad.tolist() == [[False, False, False, True], [False, True, True, True]]
    ids, pad = pad_sequences([[1, 2, 3, 4, 5]], 3, truncate=True)
    assert ids.tolist() == [[1, 2, 3]] and not pad.any()


def test_encode_around_centres_the_window_on_the_first_piece(tok):
    words = ["the"] * 40 + ["unforgettably"] + ["film"] * 40
    short = ["a", "sad", "film"]
    ids, pad, pos = encode_around(tok, [words, short], [40, 2], max_len=16)
    assert ids.shape == (2, 16)
    assert tok.id_to_token(int(ids[0, pos[0]])) == tok.tokens("unforgettably")[0]
    assert pos[0] == 8 and not pad[0].any()                            # centred
    n = len(tok.encode_words(short)[0])
    assert pos[1] == n - 1 and pad[1].tolist() == [False] * n + [True] * (16 - n)
    ids, _, pos = encode_around(tok, [words], [0], max_len=16)         # near the start: window starts at 0
    assert pos.tolist() == [0]
