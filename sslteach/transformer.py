"""A small transformer, read in one sitting: BERT's encoder and GPT's decoder are the same blocks.

``ids (B, T)`` -> token + position embeddings ``(B, T, D)`` -> ``n_layers`` blocks -> LayerNorm ->
logits ``(B, T, V)`` through the token embedding matrix again (weight tying). Each block is
pre-LayerNorm, with residual connections (GPT-2)::

    x = x + attn(ln1(x))    # tokens exchange information
    x = x + mlp(ln2(x))     # each token alone: Linear -> GELU -> Linear

Self-attention is ``softmax(Q K^T / sqrt(hs)) V`` over ``nh`` heads of size ``hs = D / nh``
(:func:`attention_loop` writes the formula out with loops; the model calls PyTorch's fused
``scaled_dot_product_attention``). The only difference between the two objectives is the mask:
``causal=False`` lets every token see the whole sequence (masked language model, BERT);
``causal=True`` lets token ``t`` see tokens ``0..t`` only (next-token prediction, GPT).

Examples:
    >>> model = Transformer(vocab_size=4000, causal=True)
    >>> model(torch.randint(0, 4000, (8, 64))).shape      # logits
    torch.Size([8, 64, 4000])
    >>> model.hidden(torch.randint(0, 4000, (8, 64))).shape  # contextual vectors
    torch.Size([8, 64, 128])
    >>> Transformer(**model.config)                       # the same architecture, rebuilt

- Vaswani et al., Attention Is All You Need, 2017.
- Radford et al., Language Models are Unsupervised Multitask Learners (GPT-2), 2019.
- Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers, 2019.
- Karpathy, nanoGPT, 2022 (the layout of this file).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .utils import check_number


@dataclass
class TransformerConfig:
    vocab_size: int = 4000   # V: token ids 0..V-1 (the tokenizer's vocabulary)
    max_len: int = 64        # longest sequence T (one learned position vector per position)
    d_model: int = 128       # D: width of every token vector
    n_heads: int = 4         # nh: attention heads, each of size hs = D / nh
    n_layers: int = 2        # blocks
    d_ff: int = 512          # hidden width of each block's MLP (4 D, as in BERT and GPT)
    dropout: float = 0.0     # on embeddings, attention weights and residual branches (0: none)
    causal: bool = False     # True: token t sees tokens <= t only (GPT); False: all tokens (BERT)

    def __post_init__(self):
        for name in ("vocab_size", "max_len", "d_model", "n_heads", "n_layers", "d_ff"):
            check_number(getattr(self, name), name, low=1, integer=True)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads} (each head "
                             f"gets d_model / n_heads dimensions); e.g. d_model=128 with n_heads=4")
        check_number(self.dropout, "dropout", low=0, high=1, high_open=True, hint="e.g. 0.1, or 0 for none")
        if not isinstance(self.causal, bool):
            raise TypeError(f"causal must be True (next-token model) or False (masked model), got {self.causal!r}")


class SelfAttention(nn.Module):
    """Multi-head self-attention: every token mixes the value vectors of the tokens it may see."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_heads, self.causal, self.dropout = cfg.n_heads, cfg.causal, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)  # queries, keys, values of all heads at once
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)     # mixes the heads' outputs

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, D); keep: None, or (B, 1, T, T) bool, True where query t may attend to key s."""
        B, T, D = x.shape
        nh, hs = self.n_heads, D // self.n_heads
        q, k, v = self.qkv(x).split(D, dim=2)                 # 3 x (B, T, D)
        q = q.view(B, T, nh, hs).transpose(1, 2)              # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)              # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)              # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(                   # softmax(q k^T / sqrt(hs)) v
            q, k, v, attn_mask=keep, dropout_p=self.dropout if self.training else 0.0,
            is_causal=self.causal and keep is None)           # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, D)                # (B, T, D) heads side by side
        return self.proj(y)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), keep))  # (B, T, D)
        x = x + self.drop(self.mlp(self.ln2(x)))         # (B, T, D)
        return x


class Transformer(nn.Module):
    """Token ids in, a distribution over the next (``causal=True``) or the hidden (``causal=False``)
    token at every position out.

    Args:
        **config: the fields of :class:`TransformerConfig` (``vocab_size``, ``max_len``, ``d_model``,
            ``n_heads``, ``n_layers``, ``d_ff``, ``dropout``, ``causal``); ``self.config`` holds them
            all, so ``Transformer(**model.config)`` rebuilds the same architecture (checkpoints).
    """

    def __init__(self, **config):
        super().__init__()
        cfg = self.cfg = TransformerConfig(**config)
        self.config = asdict(cfg)
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)  # (V, D): one vector per token
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)     # (T, D): one vector per position
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied: a token's input and output vectors are one
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: residual branches scaled by 1 / sqrt(2 n_layers)
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def _check(self, ids, pad_mask) -> None:
        cfg, name = self.cfg, type(self).__name__
        if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            what = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"{name} expects integer token ids (B, T), got {what}; build them with the "
                            f"tokenizer, e.g. torch.tensor([tokenizer.encode(text)])")
        if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
            hint = "; for one sequence add a batch dimension: ids.unsqueeze(0)" if ids.ndim == 1 else ""
            raise ValueError(f"{name} expects a non-empty batch of token ids (B, T), got shape {tuple(ids.shape)}{hint}")
        if ids.shape[1] > cfg.max_len:
            raise ValueError(f"sequences of {ids.shape[1]} tokens are longer than max_len={cfg.max_len}, the "
                             f"positions this model has vectors for; cut them (ids[:, :{cfg.max_len}]) or build "
                             f"a model with a larger max_len")
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= cfg.vocab_size:
            raise ValueError(f"token ids must lie in 0..{cfg.vocab_size - 1} (vocab_size={cfg.vocab_size}), got "
                             f"ids from {lo} to {hi}: were they made by the tokenizer this model was built for?")
        if pad_mask is not None and (not isinstance(pad_mask, torch.Tensor) or pad_mask.dtype != torch.bool
                                     or pad_mask.shape != ids.shape):
            what = f"{pad_mask.dtype} {tuple(pad_mask.shape)}" if isinstance(pad_mask, torch.Tensor) else type(pad_mask).__name__
            raise ValueError(f"pad_mask must be a bool tensor shaped like ids {tuple(ids.shape)}, True at padding "
                             f"positions, got {what}; e.g. pad_mask = ids == tokenizer.pad_id")

    def _keep(self, pad_mask: torch.Tensor | None, T: int) -> torch.Tensor | None:
        """Attention mask (B, 1, T, T), True where query t may look at key s; None: no padding."""
        if pad_mask is None:
            return None  # attention's is_causal does the causal masking
        keep = ~pad_mask[:, None, None, :]                                    # (B, 1, 1, T) keys that are tokens
        if self.cfg.causal:
            keep = keep & torch.ones(T, T, dtype=torch.bool, device=pad_mask.device).tril()  # (B, 1, T, T)
        eye = torch.eye(T, dtype=torch.bool, device=pad_mask.device)
        return keep | eye  # a padding query sees at least itself (no all -inf row, no NaN); its output is unused

    def hidden(self, ids: torch.Tensor, pad_mask: torch.Tensor | None = None, layer: int | None = None) -> torch.Tensor:
        """Contextual token vectors ``h`` (B, T, D).

        Args:
            ids: (B, T) token ids, T <= max_len.
            pad_mask: (B, T) bool, True at padding positions (no token attends to them), or None.
            layer: None for the last layer's output after the final LayerNorm (what the LM head sees);
                ``0..n_layers`` for the residual stream after that many blocks (0: the embeddings).
        """
        self._check(ids, pad_mask)
        if layer is not None:
            check_number(layer, "layer", low=0, high=self.cfg.n_layers, integer=True,
                         hint="0 is the embeddings, n_layers the last block; None for the final output")
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device)                # (T,)
        x = self.drop(self.tok_emb(ids) + self.pos_emb(pos))    # (B, T, D)
        keep = self._keep(pad_mask, T)
        for i, block in enumerate(self.blocks):
            if layer == i:
                return x
            x = block(x, keep)                                  # (B, T, D)
        return x if layer is not None else self.ln_f(x)

    def forward(self, ids: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, V): at position t, scores for the token at t (masked model) or t + 1 (causal)."""
        return self.head(self.hidden(ids, pad_mask))  # (B, T, V)


def attention_loop(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """Self-attention from the formula, one query at a time (slow; to check the fast version).

    ``out[b, h, t] = sum_s softmax_s(q[b, h, t] . k[b, h, s] / sqrt(hs)) v[b, h, s]``, the sum over
    every position ``s`` (``s <= t`` when ``causal``).

    Args:
        q, k, v: (B, nh, T, hs).

    Returns:
        (B, nh, T, hs), equal to ``F.scaled_dot_product_attention(q, k, v, is_causal=causal)``.
    """
    if not all(isinstance(t, torch.Tensor) and t.ndim == 4 for t in (q, k, v)) or not q.shape == k.shape == v.shape:
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in (q, k, v)]
        raise ValueError(f"q, k and v must be tensors of one shape (B, nh, T, hs), got {shapes}")
    B, nh, T, hs = q.shape
    out = torch.zeros_like(v)
    for b in range(B):
        for h in range(nh):
            for t in range(T):
                seen = t + 1 if causal else T                      # keys the query may look at
                scores = k[b, h, :seen] @ q[b, h, t] / math.sqrt(hs)  # (seen,)
                weights = torch.softmax(scores, dim=0)             # (seen,) sum to 1
                out[b, h, t] = weights @ v[b, h, :seen]            # (hs,)
    return out
