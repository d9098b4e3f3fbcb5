"""Tests for sslteach.embeddings: look-ups with suggestions, neighbours and analogies against brute
force, and the word2vec text format round-tripping through gensim and back."""
import math

import pytest
import torch
import torch.nn.functional as F

from sslteach.embeddings import Embeddings, UnknownWordError

try:
    import gensim  # noqa: F401
    from gensim.models import KeyedVectors
except ImportError:  # gensim is optional: only the comparison tests need it
    KeyedVectors = None
needs_gensim = pytest.mark.skipif(KeyedVectors is None, reason="gensim is not installed "
                                  "(.venv/bin/pip install gensim) - the cross-check against gensim is skipped")


def random_embeddings(words, dim=8, seed=0):
    return Embeddings(list(words), torch.randn(len(words), dim, generator=torch.Generator().manual_seed(seed)))


def test_lookup_and_unknown_word_suggests_close_words():
    emb = random_embeddings(["king", "kings", "queen", "man"])
    assert "king" in emb and "kingg" not in emb and len(emb) == 4 and emb.dim == 8
    assert torch.equal(emb["queen"], emb.vectors[2])
    with pytest.raises(KeyError) as info:
        emb["kingg"]
    err = info.value
    assert isinstance(err, UnknownWordError) and "king" in err.suggestions
    assert str(err).startswith("'kingg' is not in the vocabulary") and "min_count" in str(err)
    with pytest.raises(UnknownWordError, match="'king'"):  # upper case: suggests the lower-case word
        emb.most_similar("King")


def test_most_similar_and_analogy_match_brute_force():
    emb = random_embeddings([f"w{i}" for i in range(50)], dim=6)
    u = F.normalize(emb.vectors, dim=1)
    cos = u @ u[7]
    cos[7] = -2
    top = emb.most_similar("w7", k=5)
    assert [w for w, _ in top] == [f"w{i}" for i in cos.topk(5).indices.tolist()]
    assert [s for _, s in top] == pytest.approx(cos.topk(5).values.tolist(), abs=1e-6)
    assert emb.most_similar(emb["w7"], k=1)[0][0] == "w7"  # a vector query excludes nothing
    score = u @ (u[2] - u[1] + u[3])
    score[[1, 2, 3]] = -math.inf
    assert emb.analogy("w1", "w2", "w3", k=2) == [(f"w{i}", pytest.approx(v, abs=1e-5))
                                                    for i, v in zip(score.topk(2).indices.tolist(),
                                                                    score.topk(2).values.tolist())]


def test_analogy_excludes_the_question_words():
    words = ["man", "king", "woman", "queen", "other"]
    vectors = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [-1.0, 0.0, 0.0]])
    emb = Embeddings(words, vectors)
    assert emb.analogy("man", "king", "woman")[0][0] == "queen"


@needs_gensim
def test_export_round_trips_through_gensim(tmp_path):
    emb = random_embeddings(["the", "cat", "sat", "café", "1816"], dim=7)
    path = emb.save_word2vec_format(tmp_path / "vectors.txt")
    kv = KeyedVectors.load_word2vec_format(str(path))
    assert list(kv.index_to_key) == emb.words
    assert torch.allclose(torch.from_numpy(kv.vectors), emb.vectors, rtol=1e-6, atol=1e-7)
    kv.save_word2vec_format(str(tmp_path / "from_gensim.txt"))
    back = Embeddings.load_word2vec_format(tmp_path / "from_gensim.txt")
    assert back.words == emb.words and torch.allclose(back.vectors, emb.vectors, rtol=1e-6, atol=1e-7)
    assert Embeddings.from_keyed_vectors(kv).words == emb.words


def test_export_round_trips_without_gensim(tmp_path):
    emb = random_embeddings(["a", "b", "c"], dim=4)
    back = Embeddings.load_word2vec_format(emb.save_word2vec_format(tmp_path / "v.txt"))
    assert back.words == emb.words and torch.allclose(back.vectors, emb.vectors, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="white space"):
        random_embeddings(["new york"]).save_word2vec_format(tmp_path / "bad.txt")
