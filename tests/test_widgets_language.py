"""The fill-in-the-blank and generation widgets (notebook 09), driven through their controls, with a tiny
randomly initialised transformer and a tokenizer trained on a few dozen short sentences."""
import re

import matplotlib.pyplot as plt
import pytest
import torch

from sslteach import widgets
from sslteach.tokenizer import TextTokenizer
from sslteach.transformer import Transformer
from sslteach.widgets import language as LW

SUBJECTS = ["the movie", "the film", "the story", "the actor", "the music", "the ending", "a scene", "the plot"]
VERDICTS = ["was good", "was bad", "felt long", "was great fun", "was boring", "made me laugh"]
SENTENCES = [f"{s} {v} ." for s in SUBJECTS for v in VERDICTS]   # 48 short sentences


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP stalls when another program uses a core


@pytest.fixture(scope="module")
def tokenizer():
    return TextTokenizer.train(SENTENCES, vocab_size=120, min_frequency=1)


def tiny(tokenizer, causal: bool, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(vocab_size=tokenizer.vocab_size, max_len=16, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                       causal=causal).eval()


@pytest.fixture(scope="module")
def masked(tokenizer):
    return tiny(tokenizer, causal=False)


@pytest.fixture(scope="module")
def causal(tokenizer):
    return tiny(tokenizer, causal=True)


def rows(html: str) -> int:
    return html.count("<tr>")


# ---- FillMask ----

def test_fill_mask_figure_draws_k_bars_per_blank(masked, tokenizer):
    fig, predictions = widgets.fill_mask_figure(masked, tokenizer, "the [MASK] was [mask] .", k=4)  # any case
    assert len(predictions) == 2 and all(len(p) == 4 for p in predictions)
    for ax, guesses in zip(fig.axes, predictions):
        assert [t.get_text() for t in ax.get_yticklabels()] == [t for t, _ in guesses]
        assert [round(b.get_width(), 6) for b in ax.patches] == [round(p, 6) for _, p in guesses]
        assert ax.get_xlim()[1] >= max(p for _, p in guesses)   # the tallest bar fits
    plt.close(fig)
    with pytest.raises(ValueError, match=r"at least one \[MASK\]"):
        widgets.fill_mask_figure(masked, tokenizer, "the movie was good .")


def test_fill_mask_widget_shows_k_rows_per_blank_when_the_text_changes(masked, tokenizer):
    fm = widgets.FillMask(masked, tokenizer, text="the movie was [MASK] .", k=3)
    first = fm.picture.value
    assert first[:4] == b"\x89PNG" and len(fm.predictions) == 1 and rows(fm.readout.value) == 3
    fm.text.value = "the [MASK] was [MASK] ."
    assert len(fm.predictions) == 2 and rows(fm.readout.value) == 2 * 3 and fm.picture.value != first
    assert fm.readout.value.count("<caption>") == 2
    top = [p[0][0] for p in fm.predictions]                     # the best guesses are filled into the sentence
    assert re.search(f"the <b>{re.escape(top[0])}</b> was <b>{re.escape(top[1])}</b>", fm.readout.value)
    fm.k.value = 5
    assert all(len(p) == 5 for p in fm.predictions) and rows(fm.readout.value) == 2 * 5
    assert fm.predictions == widgets.fill_mask_figure(masked, tokenizer, "the [MASK] was [MASK] .", 5)[1]
    plt.close("all")


def test_fill_mask_widget_explains_a_text_without_mask(masked, tokenizer):
    fm = widgets.FillMask(masked, tokenizer, k=2)
    fm.text.value = "the movie was good ."
    assert fm.predictions == [] and "no [MASK]" in fm.readout.value and fm.picture.layout.display == "none"
    fm.text.value = "  "
    assert "Type a sentence" in fm.readout.value
    fm.text.value = " ".join(["good"] * 20) + " [MASK]"         # 21 tokens, max_len is 16
    assert fm.predictions == [] and "max_len=16" in fm.readout.value
    fm.text.value = "the [mask] was good ."                     # lower case is forgiven
    assert len(fm.predictions) == 1 and rows(fm.readout.value) == 2 and fm.picture.layout.display is None


def test_fill_mask_refuses_a_causal_model_and_bad_arguments(causal, masked, tokenizer):
    with pytest.raises(ValueError, match="needs a masked .*causal=False"):
        widgets.FillMask(causal, tokenizer)
    with pytest.raises(ValueError, match="needs a masked"):
        widgets.fill_mask_figure(causal, tokenizer, "the [MASK] .")
    with pytest.raises(ValueError, match="k must be an integer >= 1 and <= 20"):
        widgets.FillMask(masked, tokenizer, k=50)
    with pytest.raises(TypeError, match="sslteach Transformer"):
        widgets.FillMask(torch.nn.Linear(2, 2), tokenizer)
    other = TextTokenizer.train(["a completely different vocabulary of words"], vocab_size=60, min_frequency=1)
    with pytest.raises(ValueError, match="the tokenizer the model was trained with"):
        widgets.FillMask(masked, other)


# ---- Generate ----

def test_next_token_probs_is_the_tempered_softmax_and_greedy_at_low_temperature(causal, tokenizer):
    ids = torch.tensor([tokenizer.encode("the movie was")])
    logits = causal(ids)[0, -1]
    p = LW.next_token_probs(causal, tokenizer, "the movie was", temperature=0.5)
    assert torch.allclose(p, (logits / 0.5).softmax(0), atol=1e-6)
    cold = LW.next_token_probs(causal, tokenizer, "the movie was", temperature=1e-6)
    assert int(cold.argmax()) == int(logits.argmax()) and cold.max() > 0.999     # T -> 0: argmax (greedy)
    top3 = LW.next_token_probs(causal, tokenizer, "the movie was", top_k=3)
    assert int((top3 > 0).sum()) == 3 and set(top3.nonzero().squeeze(1).tolist()) == set(logits.topk(3).indices.tolist())
    assert torch.isclose(top3.sum(), torch.tensor(1.0))


def test_sampling_figure_shows_the_same_tokens_at_every_temperature(causal, tokenizer):
    fig, dists = widgets.sampling_figure(causal, tokenizer, "the movie", temperatures=(0.5, 1.0, 2.0), k=6)
    assert list(dists) == [0.5, 1.0, 2.0] and len(fig.axes) == 3
    heights = [[b.get_width() for b in ax.patches] for ax in fig.axes]
    assert all(len(h) == 7 and abs(sum(h) - 1) < 1e-5 for h in heights)      # 6 tokens and "all others"
    assert heights[0][0] > heights[1][0] > heights[2][0]                      # cooler: more on the top token
    assert fig.axes[0].get_yticklabels()[-1].get_text() == f"{tokenizer.vocab_size - 6} others"
    plt.close(fig)
    with pytest.raises(ValueError, match="each of temperatures must be a number > 0"):
        widgets.sampling_figure(causal, tokenizer, "the movie", temperatures=(1.0, 0))
    with pytest.raises(ValueError, match="needs a causal"):
        widgets.sampling_figure(tiny(tokenizer, causal=False), tokenizer, "the movie")


def test_generate_button_with_a_fixed_seed_gives_the_same_text(causal, tokenizer):
    g = widgets.Generate(causal, tokenizer, prompt="the movie", max_new_tokens=8, seed=3, stop_at_sep=False)
    first, text = g.continuation, g.text
    assert first and text.startswith("the movie") and g.picture.value[:4] == b"\x89PNG"
    assert "<b>the movie</b>" in g.readout.value and "seed 3" in g.readout.value
    g.generate.click()
    assert g.continuation == first and g.text == text                        # same seed and settings: same text
    g.resample.click()
    assert g.seed.value == 4 and g.text != text                               # a new seed: another text
    g.seed.value = 3
    g.generate.click()
    assert g.text == text


def test_generate_follows_top_k_and_temperature(causal, tokenizer):
    g = widgets.Generate(causal, tokenizer, prompt="the movie", max_new_tokens=1, stop_at_sep=False)
    picture = g.picture.value
    g.top_k.value, g.temperature.value = 2, 0.5                 # the picture follows the sliders at once
    assert g.picture.value != picture
    allowed = set(LW.next_token_probs(causal, tokenizer, "the movie", top_k=2).nonzero().squeeze(1).tolist())
    drawn = set()
    for seed in range(8):                                       # the new token is one of the 2 most likely
        g.seed.value = seed
        g.generate.click()
        drawn.add(int(g.ids[-1]))
        assert "top-k 2" in g.readout.value and "temperature 0.5" in g.readout.value
    assert drawn <= allowed and len(g.ids) == len(tokenizer.encode("the movie")) + 1
    g.max_new_tokens.value = 5
    g.generate.click()
    assert "5 new tokens" in g.readout.value


def test_generate_explains_an_empty_prompt(causal, tokenizer):
    g = widgets.Generate(causal, tokenizer, prompt="the movie", max_new_tokens=3)
    g.prompt.value = "   "
    assert g.picture.layout.display == "none"
    assert g.sample() == "" and g.text == "" and "Type a prompt" in g.readout.value
    g.prompt.value = "the film"
    g.sample()
    assert g.picture.layout.display is None and g.ids is not None and g.text.startswith("the film")


def test_generate_refuses_a_masked_model_and_bad_settings(causal, masked, tokenizer):
    with pytest.raises(ValueError, match=r"needs a causal .*causal=True"):
        widgets.Generate(masked, tokenizer)
    with pytest.raises(ValueError, match=r"temperature must be a number >= 0.05 and <= 2.*greedy"):
        widgets.Generate(causal, tokenizer, temperature=0)
    with pytest.raises(ValueError, match="temperature must be"):
        widgets.Generate(causal, tokenizer, temperature=5.0)
    with pytest.raises(ValueError, match="top_k must be an integer >= 0"):
        widgets.Generate(causal, tokenizer, top_k=-1)
    with pytest.raises(TypeError, match="top_k must be an integer"):
        widgets.Generate(causal, tokenizer, top_k=2.5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        widgets.Generate(causal, tokenizer, max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        LW.next_token_probs(causal, tokenizer, "the movie", temperature=-1)
    with pytest.raises(ValueError, match="gives no token"):
        LW.next_token_probs(causal, tokenizer, "")


def test_generate_says_when_the_model_ended_the_sentence(causal, tokenizer, monkeypatch):
    calls = []

    def fake_generate(model, ids, max_new_tokens, temperature, top_k, generator=None, stop_id=None):
        calls.append(stop_id)
        return torch.tensor(ids + tokenizer.encode("was good") + [tokenizer.sep_id])

    monkeypatch.setattr(LW, "generate", fake_generate)
    g = widgets.Generate(causal, tokenizer, prompt="the movie")
    assert calls == [tokenizer.sep_id] and g.text == "the movie was good"
    assert g.continuation == " was good" and "(end of sentence)" in g.readout.value
