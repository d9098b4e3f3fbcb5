"""Hostile inputs for sslteach.embeddings: broken files, NaN or all-zero vectors, unknown words and bad
arguments. Each fails with an error that says how to fix it, or is handled correctly."""
import math

import pytest
import torch

from sslteach.embeddings import Embeddings, UnknownWordError


def emb_of(words, dim=3, seed=0):
    return Embeddings(list(words), torch.randn(len(words), dim, generator=torch.Generator().manual_seed(seed)))


def write(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "3 2\nthe 0.1 0.2\nking 0.3 -0.4\nqueen 0.5 0.6\n"


def test_a_good_file_loads(tmp_path):
    emb = Embeddings.load_word2vec_format(write(tmp_path, GOOD + "\n"))  # a blank line at the end is fine
    assert emb.words == ["the", "king", "queen"] and emb.vectors[1].tolist() == pytest.approx([0.3, -0.4])


@pytest.mark.parametrize("text, match", [
    ("3 2\nthe 0.1 0.2\nking nan 0.4\nqueen 0.5 0.6\n", r"line 3: the vector of 'king' holds NaN"),   # was: loaded
    ("3 2\nthe 0.1 0.2\nking 0.3 -0.4\nqueen inf 0.6\n", r"line 4: the vector of 'queen' holds NaN or infinity"),
    ("3 2\nthe 0.1 0.2\nking 0.3 -0.4\nqueen 0.5 0.", r"line 4: the last line does not end with a newline.*cut short"),
    ("3 2\nthe 0.1 0.2\nking 0.3 -0.4\n", r"line 4: the header says 3 words, but the file ends after 2.*cut short"),
    ("3 2\nthe 0.1 0.2\nking 0.3 -0.4\nqueen 0.5\n", r"line 4: expected a word and 2 numbers"),
    ("2 2\nthe 0.1 0.2\nking 0.3 -0.4\nqueen 0.5 0.6\n", r"line 4: the header says 2 words, but the file holds more"),
    ("3 2\nthe 0.1 0.2\nking 0.3 x4\nqueen 0.5 0.6\n", r"line 3: 'x4' is not a number"),
    ("3 2\nthe 0.1 0.2\nthe 0.3 -0.4\nqueen 0.5 0.6\n", r"line 3: 'the' appears a second time \(first on line 2\)"),
    ("the 0.1 0.2\nking 0.3 -0.4\n", r"line 1: the header should be two positive integers 'V D'"),  # was: no file name
    ("3\nthe 0.1 0.2\n", r"line 1: the header should be two positive integers"),
    ("3 -2\nthe 0.1 0.2\n", r"line 1: the header should be two positive integers"),
    ("0 2\n", r"line 1: the header should be two positive integers"),
    ("", r"line 1: the header should be two positive integers 'V D', got ''"),
])
def test_broken_files_name_the_file_the_line_and_the_fix(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as info:
        Embeddings.load_word2vec_format(path)
    assert str(path) in str(info.value) and "re-export the file" in str(info.value)


def test_a_binary_file_points_to_gensim(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"2 2\nthe \x8f\xc2\xf5<\xcd\xcc\x4c\x3e\n")
    with pytest.raises(ValueError, match=r"not UTF-8 text.*binary=True"):
        Embeddings.load_word2vec_format(path)


def test_nan_vectors_are_refused():
    vectors = torch.randn(3, 4)
    vectors[1, 2] = math.nan
    with pytest.raises(ValueError, match=r"vectors holds 1 NaN.*retrain with a lower lr"):
        Embeddings(["a", "b", "c"], vectors)


def test_bad_words_and_vectors_are_refused():
    with pytest.raises(ValueError, match=r"at least one word.*lower min_count"):
        Embeddings([], torch.zeros(0, 4))
    with pytest.raises(TypeError, match=r"float tensor.*\.float\(\)"):
        Embeddings(["a", "b"], torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"duplicates \(e\.g\. 'a'\)"):
        Embeddings(["a", "b", "a"], torch.randn(3, 2))
    with pytest.raises(TypeError, match="list of strings"):
        Embeddings("abc", torch.randn(3, 2))


def test_saving_nan_vectors_is_refused(tmp_path):
    emb = emb_of("abc")
    emb.vectors[0, 0] = math.nan  # changed after construction
    with pytest.raises(ValueError, match="could not be read back"):
        emb.save_word2vec_format(tmp_path / "v.txt")


@pytest.mark.parametrize("k, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_most_similar_and_analogy_need_k_of_at_least_one(k, error):
    emb = emb_of(["king", "queen", "man", "woman", "land"])
    with pytest.raises(error, match=r"k must be an integer >= 1.*number of words to return"):  # was: [] or a crash
        emb.most_similar("king", k=k)
    with pytest.raises(error, match=r"k must be an integer >= 1"):
        emb.analogy("man", "king", "woman", k=k)


def test_k_larger_than_the_vocabulary_returns_every_other_word():
    emb = emb_of(["king", "queen", "man", "woman"])
    assert sorted(w for w, _ in emb.most_similar("king", k=50)) == ["man", "queen", "woman"]
    assert [w for w, _ in emb.analogy("man", "king", "woman", k=50)] == ["queen"]


def test_unknown_words_suggest_close_ones_everywhere():
    emb = emb_of(["king", "queen", "man", "woman", "land"])
    with pytest.raises(UnknownWordError, match=r"'kingg' is not in the vocabulary.*'king'.*min_count"):
        emb.most_similar("kingg")
    with pytest.raises(UnknownWordError, match=r"'womann'.*'woman'"):
        emb.analogy("man", "king", "womann")
    with pytest.raises(UnknownWordError, match=r"'lnd'.*'land'"):
        emb.most_similar("king", exclude=["lnd"])
    with pytest.raises(TypeError, match=r"emb\.words\[i\]"):
        emb[3]


def test_analogy_needs_a_word_outside_the_question():
    emb = emb_of(["king", "queen", "man"])
    with pytest.raises(ValueError, match="at least one other word"):
        emb.analogy("man", "king", "queen")


def test_query_vectors_are_checked():
    emb = emb_of(["king", "queen", "man"])
    with pytest.raises(TypeError, match=r"vector of shape \(3,\)"):
        emb.most_similar(torch.ones(4))
    with pytest.raises(ValueError, match="query vector holds 1 NaN"):
        emb.most_similar(torch.tensor([1.0, math.nan, 0.0]))
    with pytest.raises(ValueError, match="all zeros"):
        emb.most_similar(torch.zeros(3))


def test_all_zero_vectors_have_no_cosine():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8], [-1.0, 0.1]])
    emb = Embeddings(["a", "zero", "b", "c"], vectors)
    with pytest.raises(ValueError, match=r"'zero' is all zeros.*cosine .* undefined.*leave it out"):
        emb.similarity("a", "zero")  # was: 0.0, as if unrelated
    with pytest.raises(ValueError, match="all zeros"):
        emb.most_similar("zero")
    with pytest.raises(ValueError, match="all zeros"):
        emb.analogy("a", "zero", "b")
    assert [w for w, _ in emb.most_similar("a", k=3)] == ["b", "c"]  # never "zero", ranked by nothing
