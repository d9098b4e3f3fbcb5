"""Hostile inputs to sslteach.ngram: each fails with a sentence that says what to change."""
import pytest
import torch

from sslteach import ngram

V = 60
IDS = torch.randint(5, V, (4, 12), generator=torch.Generator().manual_seed(0))


def test_baselines_refuse():
    with pytest.raises(ValueError, match="discount"):
        ngram.bigram_perplexity(IDS, IDS, V, discount=1.0)
    with pytest.raises(ValueError, match=r"ids in 0\.\.59"):
        ngram.bigram_perplexity(IDS, IDS + 60, V)
    with pytest.raises(ValueError, match=">= 2 tokens"):
        ngram.unigram_perplexity(IDS[:, :1], IDS, V)
    with pytest.raises(ValueError, match="vocab_size"):
        ngram.unigram_perplexity(IDS, IDS, 1)
