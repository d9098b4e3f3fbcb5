"""Hostile inputs to sslteach.textlabels."""
import shutil

import pytest

from sslteach import textlabels as tl
from sslteach.data import DataError, data_dir


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    for name in ("text/nltk/subjectivity.zip", "text/nltk/sentence_polarity.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir() / name, tmp_path / name)
    monkeypatch.setenv("SSLTEACH_DATA", str(tmp_path))
    return tmp_path


def test_split_labeled_too_many_train_examples():
    data = tl.load_authorship()
    with pytest.raises(ValueError, match="leaves nothing to test on.*William Blake"):
        tl.split_labeled(data, 10_000)


def test_split_labeled_too_many_test_examples_and_bad_types():
    data = tl.load_polarity()
    with pytest.raises(ValueError, match="n_test"):
        tl.split_labeled(data, 10, 6000)
    with pytest.raises(ValueError, match="n_train"):
        tl.split_labeled(data, 0)
    with pytest.raises(TypeError, match="LabeledText"):
        tl.split_labeled((data.texts, data.labels), 10)


def test_min_words():
    with pytest.raises(ValueError, match="min_words"):
        tl.load_authorship(min_words=0)


def test_unknown_senseval_word():
    with pytest.raises(ValueError, match="'hard', 'interest', 'line', 'serve'"):
        tl.load_senseval("bank")


def test_changed_zip_is_refused(tmp_data):
    path = tmp_data / "text/nltk/subjectivity.zip"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="corrupt or was changed"):
        tl.load_subjectivity()


def test_instance_with_two_heads_or_no_answer():
    two = tl.ET.fromstring('<instance id="y"><answer instance="y" senseid="s"/><context><head><wf>a</wf></head>'
                           '<head><wf>b</wf></head></context></instance>')
    with pytest.raises(ValueError, match="marks 2 head words"):
        tl._parse_instance(two)
    with pytest.raises(ValueError, match="no <answer"):
        tl._parse_instance(tl.ET.fromstring('<instance id="z"><context><head><wf>a</wf></head></context></instance>'))
