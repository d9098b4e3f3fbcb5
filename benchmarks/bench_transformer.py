"""Training tokens/s of ``sslteach.transformer.Transformer`` against PyTorch's ``nn.TransformerEncoderLayer``.

    .venv/bin/python benchmarks/bench_transformer.py                 # the classroom size, on the CPU
    .venv/bin/python benchmarks/bench_transformer.py --quick         # a few seconds: small batch, 3 steps
    .venv/bin/python benchmarks/bench_transformer.py --device cuda --steps 50

The peer, :class:`TorchTransformer`, is the same architecture built from PyTorch's own layers: the
same token and position embeddings, final LayerNorm and tied output matrix around a stack of
``nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0, activation="gelu",
batch_first=True, norm_first=True)`` (pre-LayerNorm, exact GELU, as ours); :func:`torch_copy` copies
our weights into it (``tests/test_transformer.py`` checks the copy). Both start from the same weights,
so they train the same function. The script first prints how far apart their outputs are in float32,
eval mode, with autograd on (the path training takes) and under ``no_grad`` ("fused": PyTorch's
layers then switch to their fused inference kernel): the residual stream after every block, the
final hidden states and the logits, causal and bidirectional, with every weight redrawn at std
2/sqrt(D) (:func:`redraw`; at the initial std of 0.02 a wrong copy would hardly show).

Measured: one training step as ``st.fit`` runs it: the language-model loss (cross-entropy of the
next token) on random token ids, forward under the mixed precision ``st.fit`` picks
(:func:`sslteach.train.amp_dtype`: bfloat16 on CUDA and on CPUs with bfloat16 instructions, float32
elsewhere), backward, AdamW step. The classroom size (``sslteach.textpretrain``'s recipe): 2 layers,
d_model 128, 4 heads, d_ff 512, vocabulary 4,000, sequences of 64 tokens; batches of 64 (the recipe
trains on 32: ``--batch 32``). Rows: the causal model (GPT, ``is_causal``) and the bidirectional one
(BERT, no mask), both with the next-token loss over every position, for timing only (``mlm_step``
scores only the hidden 15% of the positions, so its output layer costs less).

Time: after two warm-up steps, the median over ``--steps`` interleaved rounds (one step of each
model per round, so a load spike from other processes hits both alike). Tokens/s = batch × 64 / the
median step time; the ratio is ours ÷ PyTorch's (above 1: ours is faster).
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sslteach.train import amp_dtype  # noqa: E402
from sslteach.transformer import Transformer, TransformerConfig  # noqa: E402
from sslteach.utils import set_seed  # noqa: E402

CLASSROOM = dict(vocab_size=4000, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512)


class TorchTransformer(nn.Module):
    """Our :class:`~sslteach.transformer.Transformer`, its blocks PyTorch's ``nn.TransformerEncoderLayer``.

    Args:
        cfg: the same :class:`~sslteach.transformer.TransformerConfig` as ours.
        activation: the MLP's nonlinearity; ``"gelu"`` is exact GELU, as our ``nn.GELU()``. (Under
            ``no_grad`` in eval mode PyTorch's fused path computes exact GELU for any ``nn.GELU``
            module, ``approximate="tanh"`` included; with autograd on, the module is used as given.)
    """

    def __init__(self, cfg: TransformerConfig, activation="gelu"):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)  # (V, D)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)     # (T, D)
        self.drop = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=cfg.dropout,
                                       activation=activation, batch_first=True, norm_first=True)
            for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied, as ours

    def hidden(self, ids: torch.Tensor, pad_mask: torch.Tensor | None = None, layer: int | None = None):
        """As :meth:`Transformer.hidden`: (B, T, D) after ``layer`` blocks, or after the final LayerNorm."""
        B, T = ids.shape
        x = self.drop(self.tok_emb(ids) + self.pos_emb(torch.arange(T, device=ids.device)))  # (B, T, D)
        causal = self.cfg.causal
        # (T, T) True above the diagonal: the keys a query may not see (PyTorch's masks say what is hidden)
        mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1) if causal else None
        for i, block in enumerate(self.layers):
            if layer == i:
                return x
            x = block(x, src_mask=mask, src_key_padding_mask=pad_mask, is_causal=causal)  # (B, T, D)
        return x if layer is not None else self.ln_f(x)

    def forward(self, ids: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.hidden(ids, pad_mask))  # (B, T, V)


# our parameter names -> nn.TransformerEncoderLayer's, inside each block
RENAME = {
    "ln1.": "norm1.",
    "ln2.": "norm2.",
    "attn.qkv.weight": "self_attn.in_proj_weight",  # (3D, D): rows q | k | v, heads side by side in each
    "attn.qkv.bias": "self_attn.in_proj_bias",      # (3D,)
    "attn.proj.": "self_attn.out_proj.",
    "mlp.0.": "linear1.",
    "mlp.2.": "linear2.",
}


def torch_copy(model: Transformer, activation="gelu") -> TorchTransformer:
    """A :class:`TorchTransformer` holding ``model``'s weights (a new copy; same device, same mode).

    Our attention computes ``q, k, v = qkv(x).split(D)`` and cuts each into ``nh`` heads of ``hs``
    consecutive dimensions; ``nn.MultiheadAttention`` cuts ``in_proj_weight`` into the same three
    row blocks and each into heads the same way, so the weights copy over unchanged.
    """
    peer = TorchTransformer(model.cfg, activation)
    state = {}
    for name, value in model.state_dict().items():
        if name.startswith("blocks."):
            _, i, rest = name.split(".", 2)
            for ours, theirs in RENAME.items():
                if rest.startswith(ours):
                    rest = theirs + rest[len(ours):]
                    break
            name = f"layers.{i}.{rest}"
        state[name] = value
    peer.load_state_dict(state, strict=True)  # strict: every parameter of both is named exactly once
    return peer.to(model.tok_emb.weight.device).train(model.training)


def redraw(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter drawn anew from N(0, (2 / sqrt(D))^2), in place; returns ``model``.

    At the initial std of 0.02 every attention row is nearly uniform and the residual branches are
    small, so a wrong copy (queries and keys swapped, tanh GELU for exact) changes the outputs by about
    1e-5 or less: a check at 1e-5 could not fail. At this scale each part moves them by 1e-4 or more.
    """
    g = torch.Generator().manual_seed(seed)
    std = 2 / math.sqrt(model.cfg.d_model)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def max_differences(model: Transformer, peer: TorchTransformer, ids: torch.Tensor, fast_path: bool = False,
                    pad_mask: torch.Tensor | None = None) -> dict:
    """Largest |ours - PyTorch's| of the residual stream after each block, the final hidden states, the logits.

    Args:
        fast_path: run under ``torch.no_grad()``, where an ``nn.TransformerEncoderLayer`` in eval mode
            takes PyTorch's fused inference kernel; otherwise with autograd on, the path training takes.
        pad_mask: (B, T) bool, True at padding; then only the real tokens' outputs are compared.
    """
    real = slice(None) if pad_mask is None else ~pad_mask   # the positions compared
    out = {}
    with torch.set_grad_enabled(not fast_path):
        for layer in range(1, model.cfg.n_layers + 1):
            ours, theirs = model.hidden(ids, pad_mask, layer=layer), peer.hidden(ids, pad_mask, layer=layer)
            out[f"block {layer}"] = (ours - theirs)[real].abs().max().item()
        out["hidden"] = (model.hidden(ids, pad_mask) - peer.hidden(ids, pad_mask))[real].abs().max().item()
        out["logits"] = (model(ids, pad_mask) - peer(ids, pad_mask))[real].abs().max().item()
    return out


def lm_loss(model, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the next token: ids (B, T + 1) -> scalar."""
    logits = model(ids[:, :-1])                                              # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten())


def train_step(model, opt, ids, device) -> None:
    """One step as st.fit runs it (mixed precision where fit uses it)."""
    dtype = amp_dtype(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        loss = lm_loss(model, ids)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(causal: bool, batch: int, steps: int, device: torch.device) -> dict:
    """Median seconds of one training step, ours and PyTorch's, over interleaved rounds."""
    set_seed(0)
    ours = Transformer(**CLASSROOM, causal=causal).to(device).train()
    models = {"ours": ours, "torch": torch_copy(ours)}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, m in models.items()}
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, CLASSROOM["vocab_size"], (batch, CLASSROOM["max_len"] + 1), generator=g).to(device)
    for k, m in models.items():  # warm-up
        for _ in range(2):
            train_step(m, opts[k], ids, device)
    times = {k: [] for k in models}
    for _ in range(steps):
        for k, m in models.items():
            sync(device)
            t = time.perf_counter()
            train_step(m, opts[k], ids, device)
            sync(device)
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64, help="sequences per step (default 64)")
    parser.add_argument("--steps", type=int, default=20, help="timed rounds, one step of each model each (default 20)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: batch 8, 3 rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is steadier on a busy machine)")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.steps = 8, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = f"threads={torch.get_num_threads()}" if device.type == "cpu" else torch.cuda.get_device_name(device)
    dtype = amp_dtype(device)
    T = CLASSROOM["max_len"]
    size = ", ".join(f"{k}={v}" for k, v in CLASSROOM.items())
    print(f"Transformer training steps (LM loss on random ids, AdamW), ours vs nn.TransformerEncoderLayer; "
          f"{device.type} ({where}), {dtype or 'float32'}, torch {torch.__version__}")
    print(f"{size}, batch={args.batch}, median of {args.steps} interleaved rounds")

    print("\nSame weights (redrawn at std 2/sqrt(D)), float32, eval mode: max |ours - torch|   (goal: <= 1e-5)")
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, CLASSROOM["vocab_size"], (min(args.batch, 8), T), generator=g).to(device)
    for causal in (True, False):
        set_seed(0)
        model = redraw(Transformer(**CLASSROOM, causal=causal)).to(device).eval()
        for fast_path in (False, True):
            diffs = max_differences(model, torch_copy(model), ids, fast_path)
            name = ("causal" if causal else "bidirectional") + (", fused" if fast_path else "")
            print(f"{name:21}", "  ".join(f"{k} {v:.1e}" for k, v in diffs.items()),
                  f"  {'PASS' if max(diffs.values()) <= 1e-5 else 'FAIL'}")

    print(f"\n{'mask':14} {'model':7} {'step ms':>9} {'tokens/s':>10} {'ours ÷ torch':>13}")
    for causal in (True, False):
        times = time_steps(causal, args.batch, args.steps, device)
        for k in ("ours", "torch"):
            ratio = f"{times['torch'] / times['ours']:12.2f}×" if k == "ours" else ""
            print(f"{'causal' if causal else 'bidirectional':14} {k:7} {times[k] * 1e3:9.1f} "
                  f"{args.batch * T / times[k]:10,.0f} {ratio:>13}")


if __name__ == "__main__":
    main()
