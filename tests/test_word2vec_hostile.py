"""Hostile inputs for sslteach.word2vec: each bad input fails with an error that says how to fix it,
or is handled correctly. The tiny corpus below once diverged to NaN with the default settings."""
import math
import warnings

import pytest
import torch

from sslteach.vocab import build_vocab, encode, tokenize
from sslteach.word2vec import sgns_loss, train_word2vec

TINY = ["the king rules the land", "the queen rules the land", "a man walks", "a woman walks"]


def tiny(repeat=100):
    return tokenize(TINY * repeat)


def train(sentences, **kw):
    kw = {"workers": 1, "device": "cpu", "progress": False, **kw}
    return train_word2vec(sentences, **kw)


def test_tiny_corpus_trains_to_finite_vectors_with_the_default_lr_and_batch_size():
    # was: losses 3.6e3 -> 9e12 -> 2.4e20 and NaN vectors (the summed updates of a word repeated
    # dozens of times in a batch of 256 windows overshoot)
    for method in ("skipgram", "cbow"):
        emb = train(tiny(), method=method, min_count=1, sample=0)
        losses = emb.history["loss"]
        assert torch.isfinite(emb.vectors).all() and all(math.isfinite(x) for x in losses)
        assert losses[-1] < losses[0] < 6 * math.log(2) + 0.01  # falls from the untrained (1 + K) log 2
        assert emb.most_similar("king", k=1)[0][0] == "queen"
        assert emb.most_similar("man", k=1)[0][0] == "woman"


def test_tiny_corpus_trains_with_two_workers_too():
    emb = train(tiny(), min_count=1, sample=0, workers=2)
    assert torch.isfinite(emb.vectors).all() and emb.history["loss"][-1] < 6 * math.log(2)


def test_divergence_is_detected_and_names_lr_and_batch_size():
    with pytest.raises(FloatingPointError, match=r"diverged.*lower the learning rate \(lr=5 now, try lr=1\.25\)"
                                                 r".*batch size \(batch_size=16 now, try batch_size=4\)"):
        train(tiny(30), min_count=1, sample=0, lr=5.0, batch_size=16)


def test_divergence_with_two_workers_stops_both():
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(tiny(30), min_count=1, sample=0, lr=5.0, batch_size=16, workers=2, chunk_words=100)


def test_default_subsampling_on_a_tiny_corpus_warns_and_never_reports_a_loss_of_zero():
    # was: epoch 1 reported a loss of 0.0 after training on nothing
    with pytest.warns(UserWarning) as caught:
        emb = train(tiny(), min_count=1)
    messages = " | ".join(str(w.message) for w in caught)
    assert "keeps only 3.0% of the 1,600 tokens" in messages and "Use sample=0" in messages
    assert "epoch(s) [1] formed no (context, centre) pair" in messages
    assert 0.0 not in emb.history["loss"] and math.isnan(emb.history["loss"][0])
    assert all(math.isnan(x) or x > 1 for x in emb.history["loss"])


def test_subsampling_that_leaves_no_pair_at_all_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the "keeps only 0.x%" warning comes first
        with pytest.raises(ValueError, match=r"no \(context, centre\) pair .*Use sample=0"):
            train(tiny(5), min_count=1, sample=1e-7, epochs=2)


def test_one_word_sentences_give_no_pair():
    with pytest.raises(ValueError, match=r"no sentence has two words.*contexts never cross lines"):
        train([["king"], ["queen"], ["king"]], min_count=1, sample=0)


@pytest.mark.parametrize("fn", [lambda s: train(s, min_count=1), lambda s: build_vocab(s, 1),
                                lambda s: encode(s, ["the"])], ids=["train_word2vec", "build_vocab", "encode"])
def test_raw_strings_instead_of_token_lists_are_refused(fn):
    # was: a vocabulary of single characters
    with pytest.raises(TypeError, match=r"call tokenize\(lines\) first"):
        fn(TINY)
    with pytest.raises(TypeError, match=r"tokenize\(lines\)"):
        fn("the king rules the land")


def test_a_generator_of_sentences_trains_like_a_list():
    # was: build_vocab used the generator up, so encode saw no text and nothing was trained
    kw = dict(min_count=1, sample=0, epochs=2, seed=1)
    a, b = train(tiny(20), **kw), train(iter(tiny(20)), **kw)
    assert a.words == b.words and torch.equal(a.vectors, b.vectors)


@pytest.mark.parametrize("kw, error, match", [
    (dict(lr=math.nan), ValueError, r"lr must be a number > 0, got nan.*learning rate"),  # was: accepted
    (dict(lr=-0.1), ValueError, r"lr must be a number > 0, got -0\.1"),                   # was: accepted
    (dict(lr=0), ValueError, r"lr must be a number > 0"),
    (dict(lr="0.1"), TypeError, r"lr must be a number"),
    (dict(dim=0), ValueError, r"dim must be an integer >= 1.*vector size"),
    (dict(dim=16.5), TypeError, r"dim must be an integer"),
    (dict(window=0), ValueError, r"window must be an integer >= 1"),
    (dict(negatives=True), TypeError, r"negatives must be an integer"),
    (dict(min_count=0), ValueError, r"min_count must be an integer >= 1.*1 keeps every word"),
    (dict(sample=-1e-4), ValueError, r"sample must be a number >= 0.*0 keeps every word"),
    (dict(sample=math.inf), ValueError, r"sample must be a number >= 0"),
    (dict(epochs=0), ValueError, r"epochs must be an integer >= 1"),
    (dict(batch_size=0), ValueError, r"batch_size must be an integer >= 1"),
    (dict(workers=0), ValueError, r"workers must be an integer >= 1.*1 is reproducible"),
    (dict(chunk_words=-5), ValueError, r"chunk_words must be an integer >= 1"),
    (dict(seed=-1), ValueError, r"seed must be an integer >= 0"),
    (dict(method="glove"), ValueError, r"method must be 'skipgram' or 'cbow'"),
    (dict(method=None), TypeError, r"method must be 'skipgram' or 'cbow'"),
    (dict(device="tpu"), ValueError, r"device must be"),
])
def test_bad_numbers_and_options_are_explained(kw, error, match):
    with pytest.raises(error, match=match):
        train(tiny(2), **{"min_count": 1, "sample": 0, **kw})


def test_sgns_loss_refuses_a_batch_without_pairs_and_bad_shapes():
    x, y = torch.randn(2, 3, 4), torch.randn(2, 6, 4)
    # was: NaN, the mean of nothing
    with pytest.raises(ValueError, match="at least one window with a context"):
        sgns_loss(x, y, torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"x\[:, None, :\]"):
        sgns_loss(torch.randn(2, 4), y)
    with pytest.raises(ValueError, match="same N and D"):
        sgns_loss(x, torch.randn(2, 6, 5))
    with pytest.raises(ValueError, match=r"valid must be a bool tensor \(N, C\)"):
        sgns_loss(x, y, torch.ones(2, 3))
