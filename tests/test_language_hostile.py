"""Hostile inputs for sslteach.language: each fails with a sentence that says what to change."""
import pytest
import torch

from sslteach import language as L
from sslteach.transformer import Transformer

V, SPECIAL, MASK = 60, (0, 1, 2, 3, 4), 4
SMALL = dict(vocab_size=V, max_len=16, d_model=32, n_heads=4, n_layers=2, d_ff=64)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


class Tok:
    vocab_size, pad_id, mask_id, special_ids = V, 0, MASK, SPECIAL

    def encode(self, text):
        return [5 + len(w) % 50 if w != "[MASK]" else MASK for w in text.split()]


@pytest.fixture(scope="module")
def mlm():
    torch.manual_seed(0)
    return Transformer(**SMALL).eval()


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    return Transformer(**SMALL, causal=True).eval()


IDS = torch.randint(5, V, (4, 16))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(ids=IDS.float()), TypeError, "integer tensor of token ids"),
    (dict(ids=IDS[0]), ValueError, r"\(N, T\)"),
    (dict(p=0.0), ValueError, "p \\(masking probability\\)"),
    (dict(p=1.0), ValueError, "BERT uses 0.15"),
    (dict(p=True), TypeError, "p \\(masking probability\\)"),
    (dict(mask_id=60), ValueError, "mask_id"),
    (dict(ids=IDS + 60), ValueError, r"ids must lie in 0\.\.59"),
    (dict(special_ids=range(60)), ValueError, "every id is special"),
])
def test_mask_tokens_refuses(kwargs, error, match):
    args = {**dict(ids=IDS, mask_id=MASK, vocab_size=V, special_ids=SPECIAL), **kwargs}
    with pytest.raises(error, match=match):
        L.mask_tokens(**args)


def test_padding_in_an_mlm_batch_is_never_chosen_and_is_masked_out(mlm):
    ids = IDS.clone()
    ids[:, 10:] = 0
    loss, _ = L.mlm_step(mlm, ids, Tok, generator=torch.Generator().manual_seed(0))
    _, labels = L.mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and (labels[:, 10:] == -100).all()


def test_mlm_loss_shapes_and_nothing_chosen():
    with pytest.raises(ValueError, match=r"logits \(N, T, V\) and labels \(N, T\)"):
        L.mlm_loss(torch.zeros(2, 3, V), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="no position is chosen"):
        L.mlm_loss(torch.zeros(2, 3, V), torch.full((2, 3), -100))


def test_next_token_objectives_need_a_causal_model(mlm):
    with pytest.raises(ValueError, match="causal model"):
        L.next_token_step(mlm, IDS)
    with pytest.raises(ValueError, match="causal model"):
        L.perplexity(mlm, IDS)
    with pytest.raises(ValueError, match="causal model"):
        L.generate(mlm, [5, 6], 3)


def test_perplexity_needs_two_tokens(gpt):
    with pytest.raises(ValueError, match="at least 2 tokens"):
        L.perplexity(gpt, IDS[:, :1])
    with pytest.raises(ValueError, match="batch_size"):
        L.perplexity(gpt, IDS, batch_size=0)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(temperature=0), ValueError, "temperature"),
    (dict(temperature=-1.0), ValueError, "temperature"),
    (dict(top_k=0), ValueError, "top_k"),
    (dict(max_new_tokens=-1), ValueError, "max_new_tokens"),
    (dict(prompt_ids=[]), ValueError, r"non-empty \(T,\)"),
    (dict(prompt_ids=[[5, 6]]), ValueError, r"\(T,\)"),
    (dict(prompt_ids=[5.0, 6.0]), TypeError, "integer tensor"),
])
def test_generate_refuses(gpt, kwargs, error, match):
    args = {**dict(prompt_ids=[5, 6], max_new_tokens=3), **kwargs}
    with pytest.raises(error, match=match):
        L.generate(gpt, **args)


def test_generate_huge_top_k_is_fine(gpt):
    assert len(L.generate(gpt, [5, 6], 2, top_k=10_000)) == 4


def test_fill_mask_refuses(mlm, gpt):
    with pytest.raises(ValueError, match="bidirectional"):
        L.fill_mask(gpt, Tok(), "a [MASK] b")
    with pytest.raises(ValueError, match="at least one \\[MASK\\]"):
        L.fill_mask(mlm, Tok(), "no blank here")
    with pytest.raises(ValueError, match="k must be"):
        L.fill_mask(mlm, Tok(), "a [MASK] b", k=0)
    with pytest.raises(ValueError, match="more than the model's max_len=16"):
        L.fill_mask(mlm, Tok(), "a [MASK] " + "b " * 20)


def test_embeddings_refuse_bad_positions_and_masks(mlm):
    with pytest.raises(ValueError, match="one index in 0..15 per row"):
        L.contextual_embeddings(mlm, IDS, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="one index in 0..15 per row"):
        L.contextual_embeddings(mlm, IDS, torch.tensor([0, 1, 2, 16]))
    with pytest.raises(ValueError, match="pad_mask must be a bool tensor shaped like ids"):
        L.sentence_embeddings(mlm, IDS, torch.zeros(4, 15, dtype=torch.bool))


def test_most_frequent_token_baseline_refuses_float_ids():
    with pytest.raises(TypeError, match="integer tensor"):
        L.most_frequent_token_accuracy(IDS.float(), IDS, Tok)
