"""Hostile inputs for sslteach.vocab: raw strings, non-string tokens, bad counts, windows or sizes fail
with an error that says how to fix it."""
import pytest
import torch

from sslteach.vocab import (build_vocab, context_windows, keep_probability, negative_distribution, sample_negatives,
                            tokenize)


def test_tokens_that_are_not_strings_are_refused():
    with pytest.raises(TypeError, match=r"list of word strings.*tokenize\(lines\)"):
        build_vocab([[1, 2, 3]], 1)


def test_tokenize_wants_a_list_of_lines():
    with pytest.raises(TypeError, match=r"tokenize\(\[line\]\)"):
        tokenize("the king rules")
    with pytest.raises(TypeError, match="already tokenized"):
        tokenize([["the", "king"]])


def test_build_vocab_says_how_to_keep_words():
    with pytest.raises(ValueError, match=r"most frequent occurs 2 times.*lower min_count"):
        build_vocab([["a", "b", "a"]], min_count=3)
    with pytest.raises(ValueError, match="hold no word"):
        build_vocab([[], []], min_count=1)


def test_counts_and_probabilities_are_checked():
    counts = torch.tensor([5, 3, 1])
    with pytest.raises(ValueError, match="sample must be a number >= 0"):
        keep_probability(counts, -1)
    with pytest.raises(ValueError, match=r"counts of build_vocab"):
        keep_probability(torch.tensor([3, -1]))
    with pytest.raises(ValueError, match=r"counts of build_vocab"):
        negative_distribution(torch.zeros(3))  # was: NaN probabilities
    with pytest.raises(TypeError, match=r"1-D tensor of word counts"):
        negative_distribution([5, 3, 1])
    with pytest.raises(ValueError, match="every size in shape"):
        sample_negatives(negative_distribution(counts), (4, -1))


def test_context_windows_checks_its_arguments():
    ids, sentence = torch.arange(5), torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        context_windows(ids, sentence, 0)
    with pytest.raises(TypeError, match="1-D integer tensor"):
        context_windows(ids.float(), sentence, 2)
    with pytest.raises(ValueError, match="one entry per token"):
        context_windows(ids, sentence[:3], 2)
