import math

import pytest
import torch
from scipy.stats import spearmanr

from sslteach.textdata import load_analogies, load_word_pairs
from sslteach.embeddings import Embeddings
from sslteach.wordeval import evaluate, evaluate_analogies, evaluate_similarity

try:
    import gensim  # noqa: F401
    from gensim.models import KeyedVectors
except ImportError:  # gensim is optional: only the comparison tests need it
    KeyedVectors = None
needs_gensim = pytest.mark.skipif(KeyedVectors is None, reason="gensim is not installed "
                                  "(.venv/bin/pip install gensim) - the cross-check against gensim is skipped")


def random_embeddings(words, dim=8, seed=0):
    return Embeddings(list(words), torch.randn(len(words), dim, generator=torch.Generator().manual_seed(seed)))


def analogy_embeddings(n_sections=3, per_section=40, dim=24, seed=0):
    """Vectors for the words of a few Google analogy sections in which b - a ~ one offset per section,
    with enough noise that only part of the questions are answered right."""
    g = torch.Generator().manual_seed(seed)
    sections = dict(list(load_analogies().items())[:n_sections])
    sections = {k: v[:per_section] for k, v in sections.items()}
    words = sorted({w for qs in sections.values() for q in qs for w in q})
    vectors = {w: torch.randn(dim, generator=g) for w in words}
    for qs in sections.values():
        offset = 2 * torch.randn(dim, generator=g)
        for a, b, c, d in qs:
            vectors[b] = vectors[a] + offset + 0.9 * torch.randn(dim, generator=g)
            vectors[d] = vectors[c] + offset + 0.9 * torch.randn(dim, generator=g)
    return Embeddings(words, torch.stack([vectors[w] for w in words])), sections


def test_similarity_evaluation_spearman_and_oov():
    pairs = load_word_pairs("wordsim353")
    vocab = sorted({w for a, b, _ in pairs[:200] for w in (a, b)})
    emb = random_embeddings(vocab)
    result = evaluate_similarity(emb, "wordsim353")
    known = [(a, b, s) for a, b, s in pairs if a in emb and b in emb]
    assert result.pairs == len(known) and result.oov == len(pairs) - len(known) > 0
    expected = spearmanr([s for *_, s in known], [emb.similarity(a, b) for a, b, _ in known]).statistic
    assert result.rho == pytest.approx(expected, abs=1e-6)
    # vectors that reproduce the human scores exactly give rho = 1
    toy = [("a", "b", 1.0), ("a", "c", 2.0), ("a", "d", 3.0), ("a", "zz", 5.0)]
    angles = torch.tensor([0.0, 1.2, 0.8, 0.3])  # cos(a, .) grows with the score
    emb = Embeddings(list("abcd"), torch.stack([angles.cos(), angles.sin()], 1))
    assert evaluate_similarity(emb, toy) == (pytest.approx(1.0), 3, 1)


def test_vectorised_analogies_equal_a_loop_over_questions():
    emb, sections = analogy_embeddings()
    result = evaluate_analogies(emb, sections)
    loop = {name: sum(emb.analogy(a, b, c)[0][0] == d for a, b, c, d in qs) for name, qs in sections.items()}
    assert {k: v[0] for k, v in result.sections.items()} == loop
    assert result.questions == sum(len(q) for q in sections.values()) and result.skipped == 0
    assert 0.2 < result.accuracy < 0.95  # planted, but noisy: a real test of the ranking
    assert result.accuracy == result.correct / result.questions
    # restricting the vocabulary skips questions with a rare word
    small = evaluate_analogies(emb, sections, restrict_vocab=len(emb) // 2)
    assert small.skipped > 0 and small.questions + small.skipped == result.questions


@needs_gensim
def test_evaluation_agrees_with_gensim(tmp_path):
    emb, sections = analogy_embeddings()
    kv = KeyedVectors(emb.dim)
    kv.add_vectors(emb.words, emb.vectors.numpy())
    ours = evaluate_analogies(emb, sections)
    path = tmp_path / "questions.txt"
    path.write_text("".join(f": {name}\n" + "".join(" ".join(q) + "\n" for q in qs) for name, qs in sections.items()))
    score, gensim_sections = kv.evaluate_word_analogies(str(path), restrict_vocab=30_000)
    assert ours.accuracy == pytest.approx(score)
    for s in gensim_sections[:-1]:  # the last entry is gensim's total
        assert ours.sections[s["section"]] == (len(s["correct"]), len(s["correct"]) + len(s["incorrect"]))

    pairs = load_word_pairs("simlex999")
    vocab = sorted({w for a, b, _ in pairs[::2] for w in (a, b)})
    emb = random_embeddings(vocab)
    kv = KeyedVectors(emb.dim)
    kv.add_vectors(emb.words, emb.vectors.numpy())
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    _, (rho, _), oov_percent = kv.evaluate_word_pairs(str(path))
    ours = evaluate_similarity(emb, pairs)
    assert ours.rho == pytest.approx(rho, abs=1e-6)
    assert ours.oov == round(oov_percent * len(pairs) / 100)


def test_evaluate_returns_all_numbers():
    emb, _ = analogy_embeddings(n_sections=1, per_section=10)
    with pytest.warns(UserWarning, match="rho is NaN"):  # analogy words only: no WordSim/SimLex pair is known
        out = evaluate(emb)
    assert math.isnan(out["wordsim353"]) and math.isnan(out["simlex999"]) and out["wordsim353_pairs"] == 0
    assert set(out) == {"wordsim353", "wordsim353_pairs", "wordsim353_oov", "simlex999", "simlex999_pairs",
                        "simlex999_oov", "analogy", "analogy_questions"}
    assert out["analogy_questions"] > 0 and 0 <= out["analogy"] <= 1
    assert out["wordsim353_pairs"] + out["wordsim353_oov"] == 353
