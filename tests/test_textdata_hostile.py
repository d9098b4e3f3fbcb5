"""Hostile inputs for sslteach.textdata: each fails with a message that says what to do."""
import shutil

import pytest

from sslteach import textdata as td
from sslteach.data import DataError, data_dir


@pytest.mark.parametrize("corpora", [(), ["brwn"], ("brown", 3)])
def test_unknown_corpora(corpora):
    with pytest.raises(ValueError, match="PRETRAIN_CORPORA|names from"):
        td.load_pretraining_text(corpora)


def test_corpora_not_a_list():
    with pytest.raises(TypeError, match="list of corpus names"):
        td.load_pretraining_text(5)


@pytest.mark.parametrize("held_out", [0, 0.6, float("nan"), -0.1])
def test_bad_held_out(held_out):
    with pytest.raises(ValueError, match="held_out"):
        td.load_pretraining_text("state_union", held_out=held_out)


def test_held_out_true_and_float_seed_are_refused():
    with pytest.raises(TypeError, match="held_out"):
        td.load_pretraining_text("state_union", held_out=True)
    with pytest.raises(TypeError, match="seed"):
        td.load_pretraining_text("state_union", seed=0.5)


def test_bad_split():
    with pytest.raises(ValueError, match="'train', 'test' or 'all'"):
        td.load_pretraining_text("state_union", split="valid")


def test_split_sentences_needs_text():
    with pytest.raises(TypeError, match="string"):
        td.split_sentences(["a list"])


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    for name in ("text/nltk/subjectivity.zip", "text/nltk/sentence_polarity.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir() / name, tmp_path / name)
    monkeypatch.setenv("SSLTEACH_DATA", str(tmp_path))
    return tmp_path


def test_missing_zip_names_the_file_and_the_fix(tmp_data):
    with pytest.raises(DataError, match="brown.zip is missing.*git checkout"):
        td.load_pretraining_text("brown")


def test_decoding_of_odd_encodings():
    assert td._decode("man\u2019s".encode("big5")) == "man\u2019s"
    assert td._decode(b"the \xbd\xa2 decrease") == "the \xbd\xa2 decrease"   # latin-1 1/2 cent
    assert td._decode("a \x96 b".encode("utf-8")) == "a \u2013 b"            # cp1252 dash left as C1 control


@pytest.mark.parametrize("call,error,match", [
    (lambda: td.load_corpus("gutenberg", max_lines=0), ValueError, r"max_lines must be an integer >= 1.*None for the whole"),
    (lambda: td.load_corpus("gutenberg", max_lines=-5), ValueError, r"max_lines must be an integer >= 1, got -5"),
    (lambda: td.load_corpus("gutenberg", max_lines=2.5), TypeError, r"max_lines must be an integer >= 1"),
    (lambda: td.load_corpus("shakespeare"), ValueError, r"corpus must be one of \['enwiki', 'gutenberg'\]"),
    (lambda: td.load_word_pairs(["wordsim353"]), ValueError, r"word-pair set must be one of"),
])
def test_bad_corpus_arguments_are_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()
