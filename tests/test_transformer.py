"""sslteach.transformer: attention from the formula, masks, shapes, weight tying, rebuilding."""
import pytest
import torch
import torch.nn.functional as F

from sslteach.batches import TensorLoader
from sslteach.checkpoint import load_checkpoint, save_checkpoint
from sslteach.train import fit
from sslteach.transformer import Transformer, TransformerConfig, attention_loop


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP stalls when another program uses a core

SMALL = dict(vocab_size=50, max_len=16, d_model=32, n_heads=4, n_layers=2, d_ff=64)


def model(causal=False, seed=0, **kw):
    torch.manual_seed(seed)
    return Transformer(**{**SMALL, "causal": causal, **kw}).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_attention_loop_matches_pytorch(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 5, generator=g, dtype=torch.float64) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(attention_loop(q, k, v, causal), expected, atol=1e-12)


def test_attention_loop_toy_value():
    # one head, two positions: query 0 attends to keys 0, 1 with scores 0 and 0 -> mean of the values
    q = torch.zeros(1, 1, 2, 2)
    k = torch.zeros(1, 1, 2, 2)
    v = torch.tensor([[[[1.0, 0.0], [3.0, 2.0]]]])
    assert attention_loop(q, k, v).tolist() == [[[[2.0, 1.0], [2.0, 1.0]]]]
    assert attention_loop(q, k, v, causal=True).tolist() == [[[[1.0, 0.0], [2.0, 1.0]]]]


def test_shapes_layers_and_tying():
    m = model()
    ids = torch.randint(0, 50, (3, 16))
    assert m(ids).shape == (3, 16, 50)
    assert m.hidden(ids).shape == (3, 16, 32)
    assert m.hidden(ids, layer=0).shape == (3, 16, 32)
    assert torch.equal(m.hidden(ids, layer=0), m.tok_emb(ids) + m.pos_emb(torch.arange(16)))
    assert not torch.equal(m.hidden(ids, layer=2), m.hidden(ids))  # last block before vs after the final LayerNorm
    assert torch.allclose(m.ln_f(m.hidden(ids, layer=2)), m.hidden(ids))
    assert m.head.weight is m.tok_emb.weight
    assert m(ids[:, :5]).shape == (3, 5, 50)  # shorter sequences are fine


def test_config_rebuilds_the_model_and_checkpoints_reload(tmp_path):
    m = model(causal=True)
    assert m.config == {**SMALL, "dropout": 0.0, "causal": True}
    assert TransformerConfig(**m.config) == m.cfg
    path = save_checkpoint(tmp_path / "lm.pt", m, config=m.config)
    ckpt = load_checkpoint(path)
    again = Transformer(**ckpt["config"]).eval()
    again.load_state_dict(ckpt["model"])
    ids = torch.randint(0, 50, (2, 16))
    assert torch.equal(again(ids), m(ids))
    assert again.head.weight is again.tok_emb.weight  # tying survives reloading


def test_causal_mask_earlier_outputs_ignore_later_tokens():
    ids = torch.randint(0, 50, (2, 16))
    later = ids.clone()
    later[:, 10:] = (later[:, 10:] + 7) % 50
    causal, bidirectional = model(causal=True), model(causal=False)
    with torch.no_grad():
        assert torch.allclose(causal(ids)[:, :10], causal(later)[:, :10], atol=1e-6)
        assert not torch.allclose(causal(ids)[:, 10:], causal(later)[:, 10:], atol=1e-3)
        assert not torch.allclose(bidirectional(ids)[:, :10], bidirectional(later)[:, :10], atol=1e-3)


@pytest.mark.parametrize("causal", [False, True])
def test_padding_is_invisible_to_real_tokens(causal):
    m = model(causal=causal)
    ids = torch.randint(5, 50, (2, 16))
    pad = torch.zeros(2, 16, dtype=torch.bool)
    pad[0, 9:] = True                            # first row: 9 tokens then padding
    other = ids.clone()
    other[0, 9:] = 0                             # different content at the padding positions
    with torch.no_grad():
        a, b = m(ids, pad), m(other, pad)
        assert torch.allclose(a[0, :9], b[0, :9], atol=1e-6) and torch.equal(a[1], b[1])
        if not causal:  # without the mask, a bidirectional model does see what stands there
            assert not torch.allclose(m(ids)[0, :9], m(other)[0, :9], atol=1e-3)
        # a row without padding gives what it gives with no mask at all
        assert torch.allclose(a[1], m(ids)[1], atol=1e-5)


def test_left_padding_in_a_causal_model_gives_no_nan():
    m = model(causal=True)
    ids = torch.randint(5, 50, (1, 16))
    pad = torch.zeros(1, 16, dtype=torch.bool)
    pad[0, :4] = True
    assert torch.isfinite(m(ids, pad)).all()


def test_bf16_autocast_on_cpu():
    m = model(causal=True)
    ids = torch.randint(0, 50, (2, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(ids)
    assert torch.isfinite(out).all() and torch.allclose(out.float(), m(ids), atol=0.1)


def test_dropout_is_active_in_training_only():
    m = model(dropout=0.5).train()
    ids = torch.randint(0, 50, (2, 16))
    assert not torch.equal(m(ids), m(ids))
    m.eval()
    assert torch.equal(m(ids), m(ids))


def test_a_causal_model_learns_a_repeating_sequence_through_fit():
    torch.manual_seed(0)
    m = Transformer(**SMALL, causal=True)
    seq = torch.arange(16).repeat(64, 1) % 7 + 5     # 5 6 7 ... 11 5 6 ...
    step = lambda model, ids: F.cross_entropy(model(ids[:, :-1]).flatten(0, 1), ids[:, 1:].flatten())  # noqa: E731
    history = fit(m, step, TensorLoader(seq, batch_size=16), torch.optim.AdamW(m.parameters(), lr=3e-3),
                  epochs=15, device="cpu", progress=False)
    assert history["loss"][-1] < 0.3 < 3 < history["loss"][0]  # from about log(50) = 3.9


# --- the same architecture from PyTorch's nn.TransformerEncoderLayer (benchmarks/bench_transformer.py) ---

def _bench():
    """benchmarks/bench_transformer.py as a module: its TorchTransformer, torch_copy, redraw, max_differences."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_transformer.py"
    spec = importlib.util.spec_from_file_location("bench_transformer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.mark.parametrize("fast_path", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_equals_pytorch_transformer_encoder_layers_with_the_same_weights(causal, fast_path):
    m = bench.redraw(model(causal=causal))     # weights at a scale where every part shows in the outputs
    peer = bench.torch_copy(m).eval()
    assert isinstance(peer.layers[0], torch.nn.TransformerEncoderLayer) and peer.head.weight is peer.tok_emb.weight
    assert sum(p.numel() for p in peer.parameters()) == sum(p.numel() for p in m.parameters())
    ids = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    diffs = bench.max_differences(m, peer, ids, fast_path=fast_path)
    assert set(diffs) == {"block 1", "block 2", "hidden", "logits"}
    assert max(diffs.values()) <= 1e-5, diffs


@pytest.mark.parametrize("causal", [False, True])
def test_equals_pytorch_with_padding_at_the_real_tokens(causal):
    m = bench.redraw(model(causal=causal))
    ids = torch.randint(5, 50, (2, 16), generator=torch.Generator().manual_seed(0))
    pad = torch.zeros(2, 16, dtype=torch.bool)
    pad[0, 11:] = True  # first row: 11 tokens, then padding (which our model lets attend to itself only)
    for fast_path in (False, True):
        diffs = bench.max_differences(m, bench.torch_copy(m).eval(), ids, fast_path=fast_path, pad_mask=pad)
        assert max(diffs.values()) <= 1e-5, diffs


def _swap_q_and_k(peer):
    D = peer.cfg.d_model
    with torch.no_grad():
        for layer in peer.layers:
            for p in (layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias):
                p[:2 * D] = torch.cat([p[D:2 * D], p[:D]]).clone()   # rows q | k | v -> k | q | v
    return peer


def _post_norm(peer):
    for layer in peer.layers:
        layer.norm_first = False   # x = ln1(x + attn(x)): the 2017 paper's order, not GPT-2's
    return peer


def _no_causal_mask(peer):
    from dataclasses import replace
    peer.cfg = replace(peer.cfg, causal=False)
    return peer


WRONG_COPIES = {
    "q and k swapped": lambda m: _swap_q_and_k(bench.torch_copy(m)),
    "tanh GELU": lambda m: bench.torch_copy(m, activation=torch.nn.GELU(approximate="tanh")),
    "post-LayerNorm": lambda m: _post_norm(bench.torch_copy(m)),
    "no causal mask": lambda m: _no_causal_mask(bench.torch_copy(m)),
}


@pytest.mark.parametrize("wrong", list(WRONG_COPIES))
def test_a_wrong_copy_is_detected(wrong):
    m = bench.redraw(model(causal=True))
    peer = WRONG_COPIES[wrong](m).eval()
    ids = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    # autograd on (the training path): PyTorch's inference fast path would take any nn.GELU for the exact one
    diffs = bench.max_differences(m, peer, ids)
    assert max(diffs.values()) > 1e-4, diffs   # at least 10x the tolerance of the test above
