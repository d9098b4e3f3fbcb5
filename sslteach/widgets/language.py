"""Fill in the blank and write on (notebook 09): what a masked and a causal transformer learned.

Two widgets over :mod:`sslteach.language`, each with a static figure for where widgets do not render:

* :class:`FillMask` / :func:`fill_mask_figure`: type a sentence with ``[MASK]`` blanks, see the masked
  (BERT-style) model's top-k guesses for every blank, with their probabilities.
* :class:`Generate` / :func:`sampling_figure`: type a prompt, sample a continuation from the causal
  (GPT-style) model one token at a time. The next-token logits are divided by a temperature ``T``
  before the softmax, the temperature of notebook 03's InfoNCE softmax: ``T < 1`` sharpens it,
  ``T > 1`` flattens it, and as ``T -> 0`` all the mass goes to the most likely token: sampling
  becomes greedy decoding (argmax). ``top_k`` keeps the k most likely tokens only. A seed fixes
  the draws: the same seed and settings give the same text.
"""
from __future__ import annotations

import math
import re
from html import escape

import matplotlib.pyplot as plt
import torch

from ..language import fill_mask, generate
from ..utils import check_number
from .common import png_of_figure

K_MAX = 20                    # FillMask's k slider spans 1..K_MAX guesses per blank
TEMPERATURE_RANGE = (0.05, 2.0)  # Generate's temperature slider; 0.05 is nearly greedy
TOP_K_MAX = 100               # Generate's top-k slider spans 0 (off) .. TOP_K_MAX (capped at the vocabulary)
NEW_TOKENS_MAX = 200          # Generate's length slider spans 1..NEW_TOKENS_MAX new tokens
ERROR = "<span style='color:#b00'>{}</span>"


def _check_model(model, tokenizer, causal: bool, what: str) -> None:
    """A sslteach Transformer of the right kind, and a tokenizer of the same vocabulary."""
    if not isinstance(model, torch.nn.Module) or not hasattr(getattr(model, "cfg", None), "causal"):
        raise TypeError(f"{what} expects a sslteach Transformer as model, got {type(model).__name__}; build one with "
                        f"Transformer(vocab_size=tokenizer.vocab_size, causal={causal}) or load notebook 09's checkpoint")
    if model.cfg.causal != causal:
        need, why, other = (("a causal (next-token, GPT-style) model, Transformer(causal=True) trained with next_token_step",
                             "this one is bidirectional: it learned to fill blanks, not to continue a text", "FillMask")
                            if causal else
                            ("a masked (bidirectional, BERT-style) model, Transformer(causal=False) trained with mlm_step",
                             "this one is causal: it never sees the words after a blank", "Generate"))
        raise ValueError(f"{what} needs {need}; {why}. Pass the other model (or use {other} with this one)")
    if not all(hasattr(tokenizer, a) for a in ("encode", "decode", "id_to_token", "vocab_size", "sep_id")):
        raise TypeError(f"{what} expects a TextTokenizer as tokenizer (TextTokenizer.train or .load), "
                        f"got {type(tokenizer).__name__}")
    if tokenizer.vocab_size != model.cfg.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model has vocab_size="
                         f"{model.cfg.vocab_size}: pass the tokenizer the model was trained with")


def _upper_masks(text):
    """``[mask]`` in any case becomes ``[MASK]``, the one spelling the tokenizer knows."""
    return re.sub(r"\[mask\]", "[MASK]", text, flags=re.IGNORECASE) if isinstance(text, str) else text


# ---- fill in the blank (masked model) ----

def fill_mask_figure(model, tokenizer, text: str, k: int = 5):
    """One horizontal bar chart per ``[MASK]`` of ``text``: the masked model's ``k`` most likely tokens
    and their probabilities (special tokens are never proposed).

    Args:
        model: a masked :class:`~sslteach.transformer.Transformer` (``causal=False``).
        tokenizer: its :class:`~sslteach.tokenizer.TextTokenizer`.
        text: a sentence with at least one ``[MASK]`` (any case); none raises a ValueError.
        k: guesses per blank, >= 1.

    Returns:
        ``(fig, predictions)``: ``predictions[i]`` lists the ``(token, probability)`` pairs of blank
        ``i``, most likely first (as :func:`sslteach.language.fill_mask` returns them).
    """
    _check_model(model, tokenizer, causal=False, what="fill_mask_figure")
    predictions = fill_mask(model, tokenizer, _upper_masks(text), check_number(k, "k", low=1, integer=True))
    ncols, nrows = min(len(predictions), 3), math.ceil(len(predictions) / 3)   # at most 3 blanks a row
    rows = max(len(p) for p in predictions)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, (0.8 + 0.3 * rows) * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(predictions):
            ax.axis("off")
            continue
        tokens, probs = [t for t, _ in predictions[i]], [p for _, p in predictions[i]]
        ax.barh(range(len(tokens)), probs, color="C0")
        for j, p in enumerate(probs):
            ax.text(p, j, f" {p:.3f}", va="center", fontsize=8)
        ax.set_yticks(range(len(tokens)), tokens)
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.invert_yaxis()                              # most likely on top
        ax.set_xlim(0, 1.3 * max(probs))               # scaled to the data: an untrained model's 0.01 stays visible
        ax.set(xlabel="probability", title=f"blank {i + 1}")
    fig.suptitle(text if len(text) <= 90 else text[:87] + "...", fontsize=10)
    fig.tight_layout()
    return fig, predictions


class FillMask:
    """Type a sentence with ``[MASK]`` where words are missing; see the masked model's guesses.

    Args:
        model: a masked :class:`~sslteach.transformer.Transformer` (``causal=False``, trained with
            ``mlm_step``); a causal model raises a ValueError here, since it cannot see the words
            after a blank.
        tokenizer: its :class:`~sslteach.tokenizer.TextTokenizer`.
        text: the first sentence; ``[MASK]`` may be written in any case.
        k: guesses per blank at first, 1 to 20 (a slider changes it).

    Controls: ``text`` (a text box, read when Enter is pressed) and ``k`` (a slider). The output
    shows, for every blank, a table of its ``k`` guesses (``readout``) and their bar chart
    (``picture``); ``predictions`` holds them. A text without ``[MASK]``, or too long for the model,
    shows a message instead. Display it by leaving it last in a cell.
    """

    def __init__(self, model, tokenizer, text: str = "the movie was [MASK] .", k: int = 5):
        import ipywidgets as W

        _check_model(model, tokenizer, causal=False, what="FillMask")
        if not isinstance(text, str):
            raise TypeError(f"text must be a string with [MASK] where a word is missing, got {type(text).__name__}")
        k = check_number(k, "k", low=1, high=K_MAX, integer=True, hint=f"the slider spans 1 to {K_MAX} guesses")
        self.model, self.tokenizer, self.predictions = model, tokenizer, []
        self.text = W.Text(value=text, description="text", continuous_update=False, layout=W.Layout(width="70%"),
                           placeholder="a sentence with [MASK] where a word is missing, then Enter")
        self.k = W.IntSlider(value=k, min=1, max=K_MAX, description="k", continuous_update=False)
        self.picture, self.readout = W.Image(format="png"), W.HTML()
        for control in (self.text, self.k):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HBox([self.text, self.k]), self.readout, self.picture])
        self.redraw()

    def _message(self, html: str) -> None:
        self.predictions, self.readout.value = [], html
        self.picture.layout.display = "none"

    def redraw(self) -> None:
        text = _upper_masks(self.text.value.strip())
        if not text:
            return self._message("Type a sentence with [MASK] where a word is missing, and press Enter.")
        if "[MASK]" not in text:
            return self._message(ERROR.format(
                f"There is no [MASK] in '{escape(text)}': write [MASK] where the model should guess a word, "
                f"e.g. 'the movie was [MASK] .'"))
        try:
            fig, self.predictions = fill_mask_figure(self.model, self.tokenizer, text, self.k.value)
        except ValueError as err:                      # e.g. more tokens than the model's max_len
            return self._message(ERROR.format(escape(str(err))))
        self.picture.value = png_of_figure(fig)
        self.picture.layout.display = None
        best = iter(f"<b>{escape(p[0][0])}</b>" for p in self.predictions)   # the top guess of each blank
        filled = re.sub(re.escape("[MASK]"), lambda _: next(best, "[MASK]"), escape(text))
        tables = "".join(
            f"<table style='display:inline-block;vertical-align:top;margin-right:2em'>"
            f"<caption>blank {i + 1}</caption>" +
            "".join(f"<tr><td>{escape(t)}</td><td>{p:.3f}</td>"
                    f"<td><div style='background:#1f77b4;height:0.8em;width:{120 * p / guesses[0][1]:.0f}px'>"
                    f"</div></td></tr>" for t, p in guesses) + "</table>"
            for i, guesses in enumerate(self.predictions))
        self.readout.value = f"best guesses: {filled}<br>{tables}"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ---- write on (causal model) ----

def _prompt_ids(tokenizer, prompt) -> list[int]:
    ids = tokenizer.encode(prompt)                     # a TypeError unless prompt is a string
    if not ids:
        raise ValueError(f"the prompt {prompt!r} gives no token: the model needs at least one word to continue")
    return ids


@torch.no_grad()
def next_token_probs(model, tokenizer, prompt: str, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """The distribution :func:`sslteach.language.generate` draws the first new token from.

    ``softmax(logits / temperature)`` over the whole vocabulary, with every token outside the
    ``top_k`` most likely set to 0 when ``top_k`` is given; the model reads the last ``max_len``
    tokens of the prompt. As ``temperature -> 0`` it becomes one-hot on the most likely token.

    Returns:
        (V,) float32 CPU probabilities that sum to 1.
    """
    _check_model(model, tokenizer, causal=True, what="next_token_probs")
    ids = _prompt_ids(tokenizer, prompt)
    check_number(temperature, "temperature", low=0, low_open=True, hint="1 is the model as trained; try 0.7")
    if top_k is not None:
        check_number(top_k, "top_k", low=1, integer=True, hint="or None to keep every token")
    was_training = model.training
    model.eval()
    try:
        context = torch.tensor([ids[-model.cfg.max_len:]], device=next(model.parameters()).device)  # (1, T)
        logits = model(context)[0, -1].float().cpu() / temperature                                 # (V,)
    finally:
        model.train(was_training)
    if top_k is not None:                              # the same cut as generate
        kth = logits.topk(min(top_k, len(logits))).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    return logits.softmax(0)


def sampling_figure(model, tokenizer, prompt: str, temperatures=(0.5, 1.0, 1.5), k: int = 10,
                    top_k: int | None = None):
    """The next-token distribution after ``prompt`` at several temperatures, one panel each.

    Every panel shows the same ``k`` tokens (the order of the logits does not depend on the
    temperature) and a grey bar for all the other tokens together: low temperatures pile the
    probability on the first token, high ones spread it into the tail.

    Returns:
        ``(fig, dists)``: ``dists[T]`` is :func:`next_token_probs` at temperature ``T``, (V,).
    """
    temperatures = (temperatures,) if isinstance(temperatures, (int, float)) else temperatures
    temperatures = [check_number(t, "each of temperatures", low=0, low_open=True, hint="e.g. (0.5, 1, 1.5)")
                    for t in temperatures]
    if not temperatures:
        raise ValueError("temperatures is empty; pass some, e.g. (0.5, 1, 1.5)")
    k = check_number(k, "k", low=1, integer=True, hint="the number of tokens drawn, e.g. 10")
    dists = {t: next_token_probs(model, tokenizer, prompt, t, top_k) for t in temperatures}
    order = next_token_probs(model, tokenizer, prompt).argsort(descending=True)[:k]  # (k,) most likely first
    names = [tokenizer.id_to_token(int(i)) for i in order] + [f"{tokenizer.vocab_size - len(order)} others"]
    fig, axes = plt.subplots(1, len(temperatures), figsize=(3.6 * len(temperatures) + 0.6, 0.9 + 0.28 * len(names)),
                             sharey=True, squeeze=False)
    for ax, t in zip(axes[0], temperatures):
        probs = dists[t][order].tolist()
        probs.append(max(0.0, 1 - sum(probs)))        # everything else
        ax.barh(range(len(names)), probs, color=["C0"] * len(order) + ["0.6"])
        for j, p in enumerate(probs):
            ax.text(p, j, f" {p:.3f}", va="center", fontsize=8)
        ax.set_xlim(0, 1.2)
        ax.set(xlabel="probability", title=f"T = {t:g}" + (f", top-k {top_k}" if top_k else ""))
    axes[0, 0].set_yticks(range(len(names)), names)
    axes[0, 0].invert_yaxis()                          # most likely on top (shared by every panel)
    shown = prompt if len(prompt) <= 60 else "..." + prompt[-57:]
    fig.suptitle(f"next token after '{shown}'", fontsize=10)
    fig.tight_layout()
    return fig, dists


class Generate:
    """Type a prompt, press *generate*: the causal model writes on, one sampled token at a time.

    Args:
        model: a causal :class:`~sslteach.transformer.Transformer` (``causal=True``, trained with
            ``next_token_step``); a masked model raises a ValueError.
        tokenizer: its :class:`~sslteach.tokenizer.TextTokenizer`.
        prompt: the first prompt.
        temperature: 0.05 to 2 (the slider's range); lower is safer, higher wilder, and near 0 it is
            greedy decoding (always the most likely token).
        top_k: sample among the ``top_k`` most likely tokens only; None or 0: every token.
        max_new_tokens: tokens to add, 1 to 200.
        seed: of the sampling; the same seed and settings give the same text.
        stop_at_sep: stop at the end of the sentence (the tokenizer's [SEP]).

    Controls: ``prompt`` (a text box), ``temperature`` and ``top_k`` (sliders; top-k 0 is off),
    ``max_new_tokens`` (a slider), ``seed`` (a number box) and ``generate`` (a button, which calls
    :meth:`sample`); ``resample`` adds 1 to the seed and samples again. The picture shows the
    distribution of the next token at the current temperature and top-k (:func:`sampling_figure`);
    the readout the prompt in bold, then the continuation (``continuation``; ``text`` is the whole,
    ``ids`` its token ids).
    """

    def __init__(self, model, tokenizer, prompt: str = "the movie", temperature: float = 1.0,
                 top_k: int | None = None, max_new_tokens: int = 30, seed: int = 0, stop_at_sep: bool = True):
        import ipywidgets as W

        _check_model(model, tokenizer, causal=True, what="Generate")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}; e.g. 'the movie'")
        lo, hi = TEMPERATURE_RANGE
        temperature = check_number(temperature, "temperature", low=lo, high=hi,
                                   hint=f"the slider spans {lo:g} to {hi:g}; near 0 is greedy decoding (argmax); "
                                        f"for other values call sslteach.language.generate")
        k_max = min(TOP_K_MAX, tokenizer.vocab_size)
        top_k = check_number(0 if top_k is None else top_k, "top_k", low=0, high=k_max, integer=True,
                             hint=f"the number of most likely tokens to sample from, 1 to {k_max}; 0 or None: all")
        max_new_tokens = check_number(max_new_tokens, "max_new_tokens", low=1, high=NEW_TOKENS_MAX, integer=True,
                                      hint=f"the slider spans 1 to {NEW_TOKENS_MAX} tokens")
        seed = check_number(seed, "seed", low=0, high=2 ** 31 - 1, integer=True, hint="e.g. 0")
        if not isinstance(stop_at_sep, bool):
            raise TypeError(f"stop_at_sep must be True or False, got {stop_at_sep!r}")
        self.model, self.tokenizer, self.stop_at_sep = model, tokenizer, stop_at_sep
        self.prompt = W.Text(value=prompt, description="prompt", continuous_update=False, layout=W.Layout(width="70%"),
                             placeholder="the beginning of a sentence, then Enter")
        self.temperature = W.FloatSlider(value=temperature, min=lo, max=hi, step=0.05, description="temperature",
                                         continuous_update=False)
        self.top_k = W.IntSlider(value=top_k, min=0, max=k_max, description="top-k (0: off)", continuous_update=False)
        self.max_new_tokens = W.IntSlider(value=max_new_tokens, min=1, max=NEW_TOKENS_MAX, description="new tokens",
                                          continuous_update=False)
        self.seed = W.BoundedIntText(value=seed, min=0, max=2 ** 31 - 1, description="seed")
        self.generate = W.Button(description="generate", tooltip="sample a continuation with this seed")
        self.resample = W.Button(description="new sample", tooltip="seed + 1, then generate")
        self.picture, self.readout = W.Image(format="png"), W.HTML()
        for control in (self.prompt, self.temperature, self.top_k):
            control.observe(lambda _: self.redraw(), names="value")
        self.generate.on_click(lambda _: self.sample())
        self.resample.on_click(lambda _: self._next_seed())
        self.widget = W.VBox([W.HBox([self.prompt, self.generate, self.resample]),
                              W.HBox([self.temperature, self.top_k]), W.HBox([self.max_new_tokens, self.seed]),
                              self.readout, self.picture])
        self.redraw()
        self.sample()

    def redraw(self) -> None:
        """Draw the next-token distribution for the current prompt, temperature and top-k."""
        try:
            fig, _ = sampling_figure(self.model, self.tokenizer, self.prompt.value, (self.temperature.value,),
                                     top_k=self.top_k.value or None)
        except ValueError:                             # an empty prompt: sample() says so in the readout
            self.picture.layout.display = "none"
            return
        self.picture.value = png_of_figure(fig)
        self.picture.layout.display = None

    def sample(self) -> str:
        """Continue the prompt with the current settings (what *generate* does); returns the continuation."""
        tok, prompt = self.tokenizer, self.prompt.value.strip()
        try:
            ids = _prompt_ids(tok, prompt)
        except ValueError as err:
            self.text, self.continuation, self.ids = "", "", None
            self.readout.value = "Type a prompt and press Enter." if not prompt else ERROR.format(escape(str(err)))
            return ""
        settings = dict(temperature=self.temperature.value, top_k=self.top_k.value or None, seed=self.seed.value)
        out = generate(self.model, ids, self.max_new_tokens.value, settings["temperature"], settings["top_k"],
                       generator=torch.Generator().manual_seed(settings["seed"]),
                       stop_id=tok.sep_id if self.stop_at_sep else None)                     # (T0 + new,)
        self.ids, head, self.text = out, tok.decode(ids), tok.decode(out)
        # the continuation may finish the prompt's last word (a '##' piece): cut the decoded text, not the ids
        self.continuation = self.text[len(head):] if self.text.startswith(head) else " " + tok.decode(out[len(ids):])
        ended = self.stop_at_sep and len(out) > len(ids) and int(out[-1]) == tok.sep_id    # stopped at [SEP]
        end = " <i>(end of sentence)</i>" if ended else ""
        self.readout.value = (f"<b>{escape(head)}</b>{escape(self.continuation)}{end}"
                              f"<br><small>seed {settings['seed']}, temperature {settings['temperature']:g}, top-k "
                              f"{settings['top_k'] or 'off'}, {len(out) - len(ids)} new tokens: the same seed and "
                              f"settings give the same text</small>")
        return self.continuation

    def _next_seed(self) -> None:
        self.seed.value += 1                           # a BoundedIntText: it stays <= its max
        self.sample()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
