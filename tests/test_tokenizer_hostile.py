"""Hostile inputs for sslteach.tokenizer."""
import pytest
import torch

from sslteach.tokenizer import TextTokenizer, encode_around, pack_sequences, pad_sequences


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP stalls when another program uses a core

TEXTS = ["the cat sat on the mat .", "a dog ran in the park ."] * 20


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tok():
    return TextTokenizer.train(TEXTS, vocab_size=60)


@pytest.mark.parametrize("texts,error,match", [("one string", TypeError, "list of strings"),
                                                ([], ValueError, "no text"),
                                                (["ok", 3], TypeError, "item 1 is a int")])
def test_train_needs_a_list_of_strings(texts, error, match):
    with pytest.raises(error, match=match):
        TextTokenizer.train(texts, vocab_size=60)


def test_train_bad_settings():
    with pytest.raises(ValueError, match="vocab_size"):
        TextTokenizer.train(TEXTS, vocab_size=5)
    with pytest.raises(ValueError, match="kind must be one of"):
        TextTokenizer.train(TEXTS, kind="bpe")
    with pytest.raises(TypeError, match="min_frequency"):
        TextTokenizer.train(TEXTS, min_frequency=1.5)


def test_load_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; train one"):
        TextTokenizer.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a tokenizer JSON"):
        TextTokenizer.load(tmp_path / "bad.json")


def test_a_tokenizer_without_the_special_ids_is_refused():
    from tokenizers import Tokenizer, models
    with pytest.raises(ValueError, match=r"\[PAD\] at id 0"):
        TextTokenizer(Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")))


def test_encode_and_decode_bad_inputs(tok):
    with pytest.raises(TypeError, match="encode_batch"):
        tok.encode(["a", "list"])
    with pytest.raises(ValueError, match=f"token ids in 0..{tok.vocab_size - 1}"):
        tok.decode([3, tok.vocab_size])
    with pytest.raises(ValueError, match="token ids"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="token id"):
        tok.id_to_token(tok.vocab_size)
    with pytest.raises(TypeError, match="list of words"):
        tok.encode_words("not split")


def test_pack_sequences_too_little_text(tok):
    with pytest.raises(ValueError, match="fewer than one row"):
        pack_sequences(tok, ["the cat"], seq_len=64)
    with pytest.raises(ValueError, match="seq_len"):
        pack_sequences(tok, TEXTS, seq_len=1)
    with pytest.raises(TypeError, match="TextTokenizer"):
        pack_sequences("tok", TEXTS)


def test_pad_sequences_refuses_empty_and_too_long():
    with pytest.raises(ValueError, match="non-empty"):
        pad_sequences([[1, 2], []], 4)
    with pytest.raises(ValueError, match="non-empty"):
        pad_sequences([], 4)
    with pytest.raises(ValueError, match="1 of 2 sequences are longer than max_len=2.*truncate=True"):
        pad_sequences([[1, 2, 3], [1]], 2)


def test_encode_around_bad_heads(tok):
    with pytest.raises(ValueError, match="one head index per word list"):
        encode_around(tok, [["a", "b"]], [0, 1])
    with pytest.raises(ValueError, match="not an index into its 2 words"):
        encode_around(tok, [["a", "b"]], [2])
    with pytest.raises(ValueError, match="gives no token"):
        encode_around(tok, [["a", " ", "b"]], [1])


def test_decode_accepts_a_tensor(tok):
    assert tok.decode(torch.tensor(tok.encode("the cat"))) == "the cat"


def test_a_torn_token_cache_is_rebuilt(tok, tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_path))
    rows = pack_sequences(tok, TEXTS, seq_len=8)
    for cache in tmp_path.glob("tokens.*.npz"):
        cache.write_bytes(cache.read_bytes()[:50])
    assert torch.equal(pack_sequences(tok, TEXTS, seq_len=8), rows)
