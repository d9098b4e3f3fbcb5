"""Hostile inputs for sslteach.transformer: each fails with a sentence that says what to change."""
import pytest
import torch

from sslteach.transformer import Transformer, TransformerConfig, attention_loop

SMALL = dict(vocab_size=50, max_len=16, d_model=32, n_heads=4, n_layers=2, d_ff=64)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(**SMALL).eval()


@pytest.mark.parametrize("change,error,match", [
    (dict(d_model=30), ValueError, "divisible by n_heads=4"),
    (dict(vocab_size=0), ValueError, "vocab_size must be an integer >= 1"),
    (dict(n_layers=1.5), TypeError, "n_layers must be an integer"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(causal="yes"), TypeError, "causal must be True"),
    (dict(max_len=True), TypeError, "max_len"),
])
def test_bad_configs(change, error, match):
    with pytest.raises(error, match=match):
        Transformer(**{**SMALL, **change})


def test_misspelt_setting_is_named():
    with pytest.raises(TypeError, match="d_modle"):
        TransformerConfig(d_modle=64)


@pytest.mark.parametrize("ids,error,match", [
    (torch.rand(2, 8), TypeError, "integer token ids"),
    ([[1, 2, 3]], TypeError, "integer token ids"),
    (torch.randint(0, 50, (8,)), ValueError, r"ids.unsqueeze\(0\)"),
    (torch.zeros(0, 8, dtype=torch.long), ValueError, "non-empty batch"),
    (torch.randint(0, 50, (2, 17)), ValueError, "longer than max_len=16"),
    (torch.full((2, 8), 50), ValueError, r"0\.\.49 \(vocab_size=50\).*tokenizer"),
    (torch.full((2, 8), -1), ValueError, "from -1 to -1"),
])
def test_bad_ids(model, ids, error, match):
    with pytest.raises(error, match=match):
        model(ids)


def test_bad_pad_masks(model):
    ids = torch.randint(0, 50, (2, 8))
    with pytest.raises(ValueError, match="bool tensor shaped like ids"):
        model(ids, pad_mask=torch.zeros(2, 8))
    with pytest.raises(ValueError, match="bool tensor shaped like ids"):
        model(ids, pad_mask=torch.zeros(2, 7, dtype=torch.bool))


@pytest.mark.parametrize("layer", [3, -1])
def test_bad_layer(model, layer):
    with pytest.raises(ValueError, match="0 is the embeddings"):
        model.hidden(torch.randint(0, 50, (1, 4)), layer=layer)


def test_attention_loop_shapes():
    with pytest.raises(ValueError, match=r"\(B, nh, T, hs\)"):
        attention_loop(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, nh, T, hs\)"):
        attention_loop(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
