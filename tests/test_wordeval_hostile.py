"""Hostile inputs for sslteach.wordeval: benchmarks with nothing to score, bad pairs, questions or
arguments, and all-zero vectors. Each fails with an error that says how to fix it, or is handled
correctly."""
import math

import pytest
import torch

from sslteach.embeddings import Embeddings
from sslteach.wordeval import evaluate, evaluate_analogies, evaluate_similarity


def emb_of(words, dim=3, seed=0):
    return Embeddings(list(words), torch.randn(len(words), dim, generator=torch.Generator().manual_seed(seed)))


def test_pairs_with_all_zero_vectors_are_skipped():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8], [-1.0, 0.1]])
    emb = Embeddings(["a", "zero", "b", "c"], vectors)
    pairs = [("a", "b", 9.0), ("a", "c", 1.0), ("b", "c", 3.0), ("a", "zero", 5.0)]
    with pytest.warns(UserWarning, match=r"all-zero vectors.*\['zero'\].*skipped"):
        result = evaluate_similarity(emb, pairs)
    assert (result.pairs, result.oov) == (3, 1) and result.rho == pytest.approx(1.0)


def test_similarity_with_no_known_pair_says_so():
    emb = emb_of(["qwerty", "asdf", "zxcv"])
    # was: rho = NaN, silently
    with pytest.raises(ValueError, match=r"only 0 of the 353 word pairs .*at least 2.*lower min_count"):
        evaluate_similarity(emb, "wordsim353")
    with pytest.warns(UserWarning) as caught:
        out = evaluate(emb)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("wordsim353: only 0 of the 353") and m.endswith("its rho is NaN") for m in messages)
    assert any(m.startswith("simlex999: only 0 of the 999") for m in messages)
    assert any(m.startswith("analogies: none of the 19544") and "accuracy is NaN" in m for m in messages)
    assert math.isnan(out["wordsim353"]) and math.isnan(out["analogy"]) and out["analogy_questions"] == 0


def test_similarity_pairs_are_checked():
    emb = emb_of(["a", "b", "c"])
    with pytest.raises(ValueError, match=r"score of 'a', 'b' must be a number.*finite"):
        evaluate_similarity(emb, [("a", "b", math.nan), ("a", "c", 1.0), ("b", "c", 2.0)])
    with pytest.raises(TypeError, match=r"\(word1, word2, score\) triples"):
        evaluate_similarity(emb, [("a", "b")])
    with pytest.raises(ValueError, match=r"rho is undefined.*human scores are equal"):
        evaluate_similarity(emb, [("a", "b", 1.0), ("a", "c", 1.0), ("b", "c", 1.0)])
    with pytest.raises(ValueError, match="word-pair set must be one of"):
        evaluate_similarity(emb, "wordsim")


def test_analogies_with_nothing_answerable_say_so():
    emb = emb_of(["king", "queen", "man", "woman", "land"])
    questions = {"royal": [("man", "king", "woman", "queen"), ("man", "king", "girl", "princess")]}
    result = evaluate_analogies(emb, questions)
    assert (result.questions, result.skipped) == (1, 1)  # unknown words: skipped and counted
    with pytest.raises(ValueError, match=r"none of the 2 analogy questions .*raise restrict_vocab"):
        evaluate_analogies(emb, questions, restrict_vocab=2)  # was: accuracy NaN, silently
    with pytest.raises(ValueError, match=r"restrict_vocab must be an integer >= 1"):
        evaluate_analogies(emb, questions, restrict_vocab=0)
    with pytest.raises(TypeError, match=r"four words per question"):
        evaluate_analogies(emb, {"royal": [("man", "king", "woman")]})
