"""Tests for sslteach.vocab: tokens, vocabulary and ids; word2vec.c's subsampling formula; negatives
drawn from unigram^0.75; dynamic context windows that never cross a sentence."""
import math

import pytest
import torch
from scipy.stats import chisquare

from sslteach.vocab import (build_vocab, context_windows, encode, keep_probability, negative_distribution,
                            sample_negatives, tokenize)


def test_tokenize_lowercases_drops_punctuation_and_keeps_sentences():
    lines = ["He said , `` Hello ! ''", "-- . ;", "It 's 1816 ."]
    assert tokenize(lines) == [["he", "said", "hello"], ["it", "'s", "1816"]]


def test_build_vocab_and_encode():
    sents = [["b", "a", "b", "c"], ["a", "b", "rare"]]
    words, counts = build_vocab(sents, min_count=2)
    assert words == ["b", "a"] and counts.tolist() == [3, 2]  # most frequent first, "c"/"rare" dropped
    ids, sentence = encode(sents, words)
    assert ids.tolist() == [0, 1, 0, 1, 0] and sentence.tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="min_count"):
        build_vocab(sents, min_count=10)


def test_keep_probability_matches_word2vec_c_formula():
    counts = torch.tensor([100_000, 10_000, 1_000, 100, 10, 1])
    t = 1e-3
    total = counts.sum().item()
    p = keep_probability(counts, t)
    for c, pi in zip(counts.tolist(), p.tolist()):
        # word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn
        ran = (math.sqrt(c / (t * total)) + 1) * (t * total) / c
        assert pi == pytest.approx(min(ran, 1.0), rel=1e-6)
        f = c / total  # = the paper's keep probability sqrt(t / f) plus t / f
        assert pi == pytest.approx(min(math.sqrt(t / f) + t / f, 1.0), rel=1e-6)
    assert p[0] < 0.2 and p[-1] == 1.0  # frequent words dropped most, rare ones always kept
    assert torch.equal(keep_probability(counts, 0), torch.ones(6))


def test_negatives_follow_unigram_to_the_three_quarters():
    counts = torch.tensor([1000, 300, 100, 30, 10, 3, 1])
    probs = negative_distribution(counts)
    expected = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    assert torch.allclose(probs.double(), expected, atol=1e-7)
    n = 400_000
    draws = sample_negatives(probs, (n // 4, 4), torch.Generator().manual_seed(0))
    assert draws.shape == (n // 4, 4)
    freq = torch.bincount(draws.flatten(), minlength=len(counts)).double()
    assert (freq / n - expected).abs().max() < 0.003
    assert chisquare(freq.numpy(), (expected * n).numpy()).pvalue > 1e-3
    # the 3/4 power gives rare words more than their share of the unigram distribution
    assert probs[-1] > counts[-1] / counts.sum()


def test_context_windows_respect_dynamic_window_and_sentences():
    window = 3
    ids = torch.arange(100, 112)
    sentence = torch.tensor([0] * 7 + [1] * 5)
    contexts, valid = context_windows(ids, sentence, window, torch.Generator().manual_seed(0))
    assert contexts.shape == valid.shape == (12, 2 * window)
    offsets = [-1, 1, -2, 2, -3, 3]  # nearest first
    for i in range(12):
        used = {offsets[j] for j in range(2 * window) if valid[i, j]}
        assert all(contexts[i, j] == ids[i + offsets[j]] for j in range(2 * window) if valid[i, j])
        b = max(abs(o) for o in used)  # the sampled window: every neighbour within b is used
        inside = {o for o in offsets if abs(o) <= b and 0 <= i + o < 12 and sentence[i + o] == sentence[i]}
        assert used == inside


def test_effective_window_is_uniform():
    window, n = 5, 50_000
    _, valid = context_windows(torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long), window,
                               torch.Generator().manual_seed(0))
    b = valid[window:-window].sum(1) // 2  # interior tokens: 2b contexts
    share = torch.bincount(b, minlength=window + 1)[1:].double() / len(b)
    assert (share - 1 / window).abs().max() < 0.01
