"""The n-gram baselines, from their formulas."""
import math
import torch

from sslteach import ngram

V = 60


def test_unigram_perplexity_from_its_formula():
    train = torch.tensor([[5, 5, 6, 7], [5, 6, 6, 6]])
    test = torch.tensor([[6, 5, 8]])
    counts = {5: 1, 6: 4, 7: 1}                         # targets = columns 1.. of the training rows
    p = lambda w: (counts.get(w, 0) + 1) / (6 + 10)     # noqa: E731  add-one over V = 10
    expected = math.exp(-(math.log(p(5)) + math.log(p(8))) / 2)
    assert math.isclose(ngram.unigram_perplexity(train, test, 10), expected)


def kn_table(train, vocab, d):
    """P(w | v) of interpolated Kneser-Ney written from the formula with plain loops."""
    pairs = [(int(a), int(b)) for row in train for a, b in zip(row[:-1], row[1:])]
    c = {}
    for v, w in pairs:
        c[(v, w)] = c.get((v, w), 0) + 1
    cont = [1 + len({v for v, w2 in c if w2 == w}) for w in range(vocab)]
    p_cont = [x / sum(cont) for x in cont]
    table = torch.zeros(vocab, vocab, dtype=torch.float64)
    for v in range(vocab):
        c_v = sum(n for (a, _), n in c.items() if a == v)
        n_v = sum(1 for (a, _) in c if a == v)
        for w in range(vocab):
            table[v, w] = p_cont[w] if c_v == 0 else max(c.get((v, w), 0) - d, 0) / c_v + d * n_v / c_v * p_cont[w]
    return table


def test_bigram_kneser_ney_sums_to_one_and_matches_the_loop():
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 6, (20, 8), generator=g)
    train[:, 1::2] = (train[:, ::2] + 1) % 6            # a token predicts the next one half the time
    test = torch.randint(0, 8, (5, 8), generator=g)      # tokens 6, 7 never seen in training
    table = kn_table(train, 8, 0.75)
    assert torch.allclose(table.sum(1), torch.ones(8, dtype=torch.float64))
    nll = [-math.log(table[a, b]) for row in test for a, b in zip(row[:-1].tolist(), row[1:].tolist())]
    assert math.isclose(ngram.bigram_perplexity(train, test, 8), math.exp(sum(nll) / len(nll)), rel_tol=1e-9)


def test_bigram_beats_unigram_on_predictable_text():
    seq = (torch.arange(200) % 9 + 5).view(10, 20)
    assert ngram.bigram_perplexity(seq, seq, V) < 1.5 < ngram.unigram_perplexity(seq, seq, V)
