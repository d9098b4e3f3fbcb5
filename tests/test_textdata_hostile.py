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


def test_split_labeled_too_many_train_examples():
    data = td.load_authorship()
    with pytest.raises(ValueError, match="leaves nothing to test on.*William Blake"):
        td.split_labeled(data, 10_000)


def test_split_labeled_too_many_test_examples_and_bad_types():
    data = td.load_polarity()
    with pytest.raises(ValueError, match="n_test"):
        td.split_labeled(data, 10, 6000)
    with pytest.raises(ValueError, match="n_train"):
        td.split_labeled(data, 0)
    with pytest.raises(TypeError, match="LabeledText"):
        td.split_labeled((data.texts, data.labels), 10)


def test_min_words():
    with pytest.raises(ValueError, match="min_words"):
        td.load_authorship(min_words=0)


def test_unknown_senseval_word():
    with pytest.raises(ValueError, match="'hard', 'interest', 'line', 'serve'"):
        td.load_senseval("bank")


def test_instance_with_two_heads_or_no_answer():
    two = td.ET.fromstring('<instance id="y"><answer instance="y" senseid="s"/><context><head><wf>a</wf></head>'
                           '<head><wf>b</wf></head></context></instance>')
    with pytest.raises(ValueError, match="marks 2 head words"):
        td._parse_instance(two)
    with pytest.raises(ValueError, match="no <answer"):
        td._parse_instance(td.ET.fromstring('<instance id="z"><context><head><wf>a</wf></head></context></instance>'))


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


def test_changed_zip_is_refused(tmp_data):
    path = tmp_data / "text/nltk/subjectivity.zip"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="corrupt or was changed"):
        td.load_subjectivity()


def test_decoding_of_odd_encodings():
    assert td._decode("man\u2019s".encode("big5")) == "man\u2019s"
    assert td._decode(b"the \xbd\xa2 decrease") == "the \xbd\xa2 decrease"   # latin-1 1/2 cent
    assert td._decode("a \x96 b".encode("utf-8")) == "a \u2013 b"            # cp1252 dash left as C1 control
