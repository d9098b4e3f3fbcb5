"""sslteach.language: BERT masking, losses against loops, baselines from their formulas, sampling."""
import functools
import math

import pytest
import torch

from sslteach import language as L
from sslteach.tokenizer import TextTokenizer, pad_sequences
from sslteach.batches import TensorLoader
from sslteach.train import fit
from sslteach.transformer import Transformer


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP stalls when another program uses a core

V, SPECIAL, MASK = 60, (0, 1, 2, 3, 4), 4
SMALL = dict(vocab_size=V, max_len=16, d_model=32, n_heads=4, n_layers=2, d_ff=64)


def model(causal=False, seed=0):
    torch.manual_seed(seed)
    return Transformer(**SMALL, causal=causal).eval()


class Tok:  # the attributes of a TextTokenizer that the objectives use
    vocab_size, pad_id, mask_id, special_ids = V, 0, MASK, SPECIAL


def test_mask_tokens_proportions_over_many_draws():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (4000, 64), generator=g)
    ids[:, :3] = torch.tensor([2, 3, 0])          # special tokens, never chosen
    inputs, labels = L.mask_tokens(ids, MASK, V, SPECIAL, p=0.15, generator=g)
    chosen = labels != -100
    n = int(chosen.sum())
    candidates = 4000 * 61
    # 256,000 Bernoulli draws: the standard deviation of the fraction is 0.0007, tolerances are 6x that or more
    assert abs(n / candidates - 0.15) < 0.005
    assert not chosen[:, :3].any()
    assert torch.equal(labels[chosen], ids[chosen])                                  # label = original id
    masked = (inputs == MASK) & chosen
    unchanged = (inputs == ids) & chosen
    replaced = chosen & ~masked & ~unchanged
    assert abs(masked.sum() / n - 0.8) < 0.01
    assert abs(unchanged.sum() / n - 0.1) < 0.01 + 1 / 55     # a random draw may hit the same token
    assert abs(replaced.sum() / n - 0.1) < 0.01
    assert not torch.isin(inputs[replaced], torch.tensor(SPECIAL)).any()             # never a special token
    assert torch.equal(inputs[~chosen], ids[~chosen])                                # the rest untouched


def test_mask_tokens_is_reproducible_and_every_row_predicts_something():
    ids = torch.randint(5, V, (500, 4))
    a = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(1))
    b = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert ((a[1] != -100).sum(1) >= 1).all()      # 0.85^4 = 52% of rows would otherwise predict nothing
    only_special = torch.tensor([[0, 2, 3, 0]])
    inputs, labels = L.mask_tokens(only_special, MASK, V, SPECIAL)
    assert torch.equal(inputs, only_special) and (labels == -100).all()


def test_mlm_loss_is_cross_entropy_on_chosen_positions_only():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, V, generator=g)
    labels = torch.full((3, 5), -100)
    labels[0, 1], labels[2, 4], labels[1, 0] = 7, 9, 30
    loop = [-torch.log_softmax(logits[i, t], 0)[labels[i, t]] for i in range(3) for t in range(5) if labels[i, t] != -100]
    assert torch.allclose(L.mlm_loss(logits, labels), torch.stack(loop).mean())
    other = logits.clone()
    other[labels == -100] = torch.randn(int((labels == -100).sum()), V, generator=g) * 10
    assert torch.allclose(L.mlm_loss(other, labels), L.mlm_loss(logits, labels))   # unchosen positions do not count


def test_mlm_step_equals_mlm_loss_of_the_full_logits():
    m = model()
    ids = torch.randint(5, V, (4, 16))
    loss, extra = L.mlm_step(m, ids, Tok, generator=torch.Generator().manual_seed(3))
    inputs, labels = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(loss, L.mlm_loss(m(inputs), labels), atol=1e-5)
    acc = (m(inputs).argmax(-1)[labels != -100] == labels[labels != -100]).float().mean()
    assert torch.allclose(extra["acc"], acc)


def test_next_token_step_equals_a_loop():
    m = model(causal=True)
    ids = torch.randint(0, V, (2, 10))
    loop = []
    for i in range(2):
        for t in range(9):
            logits = m(ids[i:i + 1, :t + 1])[0, -1]           # the model reads tokens 0..t only
            loop.append(-torch.log_softmax(logits, 0)[ids[i, t + 1]])
    assert torch.allclose(L.next_token_step(m, ids), torch.stack(loop).mean(), atol=1e-5)
    assert math.isclose(L.perplexity(m, ids, batch_size=1), math.exp(torch.stack(loop).mean().item()), rel_tol=1e-5)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    m = model(causal=True)
    with torch.no_grad():
        m.ln_f.weight.zero_()
        m.ln_f.bias.zero_()                              # every logit 0: uniform over V tokens
    assert math.isclose(L.perplexity(m, torch.randint(0, V, (5, 16))), V, rel_tol=1e-5)


def test_perplexity_ignores_padding_targets():
    m = model(causal=True)
    ids = torch.randint(5, V, (1, 8))
    padded = torch.cat([ids, torch.zeros(1, 8, dtype=torch.long)], 1)
    assert math.isclose(L.perplexity(m, ids), L.perplexity(m, padded, pad_id=0), rel_tol=1e-4)


def test_most_frequent_token_baseline_and_model_accuracy_use_the_same_masks():
    train = torch.tensor([[5] * 10 + [6] * 6])
    ids = torch.full((50, 16), 5)
    ids[:, ::4] = 7
    acc = L.most_frequent_token_accuracy(train, ids, Tok, seed=2)
    _, labels = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(2))
    assert acc == float((labels[labels != -100] == 5).float().mean()) and 0.6 < acc < 0.9
    m = model()
    inputs, _ = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(2))
    expected = (m(inputs).argmax(-1)[labels != -100] == labels[labels != -100]).float().mean()
    assert math.isclose(L.masked_token_accuracy(m, ids, Tok, seed=2, batch_size=7), float(expected), rel_tol=1e-6)


def test_a_masked_model_learns_through_fit():
    torch.manual_seed(0)
    m = Transformer(**SMALL)
    seq = (torch.arange(16).repeat(128, 1) + torch.randint(0, 7, (128, 1))) % 7 + 5  # 7 phases: the
    step = functools.partial(L.mlm_step, tokenizer=Tok)       # hidden token must be read from its neighbours
    history = fit(m, step, TensorLoader(seq, batch_size=32), torch.optim.AdamW(m.parameters(), lr=3e-3),
                  epochs=60, device="cpu", progress=False)
    assert history["acc"][-1] > 0.8 > 0.3 > history["acc"][0]
    assert L.masked_token_accuracy(m, seq, Tok) > 0.8 > L.most_frequent_token_accuracy(seq, seq, Tok)


def test_generate_greedy_with_top_k_1_and_reproducible_sampling():
    m = model(causal=True)
    prompt = [5, 6, 7]
    greedy = L.generate(m, prompt, 20, top_k=1)
    ids = torch.tensor(prompt)
    for _ in range(20):
        ids = torch.cat([ids, m(ids[-16:][None])[0, -1].argmax().view(1)])
    assert torch.equal(greedy, ids) and len(greedy) == 23             # beyond max_len: the last 16 tokens are read
    a = L.generate(m, torch.tensor(prompt), 10, temperature=1.5, generator=torch.Generator().manual_seed(0))
    b = L.generate(m, torch.tensor(prompt), 10, temperature=1.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(a[:3], torch.tensor(prompt))
    first = int(greedy[3])
    assert len(L.generate(m, prompt, 10, top_k=1, stop_id=first)) == 4  # stops at the stop token
    assert torch.equal(L.generate(m, prompt, 0), torch.tensor(prompt))


def test_top_k_restricts_the_samples():
    m = model(causal=True)
    top2 = m(torch.tensor([[5, 6]]))[0, -1].topk(2).indices.tolist()
    g = torch.Generator().manual_seed(0)
    draws = {int(L.generate(m, [5, 6], 1, top_k=2, temperature=5.0, generator=g)[-1]) for _ in range(40)}
    assert draws <= set(top2) and len(draws) == 2


@pytest.fixture(scope="module")
def tokenizer():
    from sslteach.textlabels import load_polarity
    return TextTokenizer.train(load_polarity().texts[::5], vocab_size=500)


def test_fill_mask(tokenizer):
    torch.manual_seed(0)
    m = Transformer(**{**SMALL, "vocab_size": tokenizer.vocab_size}).eval()
    out = L.fill_mask(m, tokenizer, "the [MASK] is good and the [MASK] is bad .", k=3)
    assert len(out) == 2 and all(len(o) == 3 for o in out)
    for o in out:
        probs = [p for _, p in o]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
        assert not {t for t, _ in o} & {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}


def test_contextual_and_sentence_embeddings():
    m = model()
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12], [5, 6, 7]]
    ids, pad = pad_sequences(seqs, 8)
    positions = torch.tensor([1, 4, 2])
    h = L.contextual_embeddings(m, ids, positions, pad, batch_size=2)
    full = m.hidden(ids, pad)
    assert h.shape == (3, 32) and torch.allclose(h, full[torch.arange(3), positions], atol=1e-6)
    assert torch.allclose(L.contextual_embeddings(m, ids, positions, pad, layer=1, batch_size=1),
                          m.hidden(ids, pad, layer=1)[torch.arange(3), positions], atol=1e-6)
    s = L.sentence_embeddings(m, ids, pad)
    assert torch.allclose(s[1], full[1, :5].mean(0), atol=1e-6)
    wider, wpad = pad_sequences(seqs, 16)     # more padding: the same vectors
    assert torch.allclose(L.sentence_embeddings(m, wider, wpad)[0], s[0], atol=1e-5)
    assert torch.allclose(s[0], s[2])
