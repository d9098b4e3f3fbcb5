"""Word neighbours (notebook 06): type a word, see its nearest neighbours."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..utils import check_number
from .common import png_of_figure


def _check_embeddings(emb) -> None:
    if not all(hasattr(emb, a) for a in ("words", "most_similar", "__len__")):
        raise TypeError(f"emb must be word Embeddings (sslteach.embeddings.Embeddings), got {type(emb).__name__}; "
                        f"load them with load_embeddings(...) or build Embeddings(words, vectors)")


def neighbour_figure(emb, word: str, k: int = 10):
    """Horizontal bar chart of the ``k`` nearest neighbours of ``word`` by cosine similarity.

    Args:
        emb: :class:`sslteach.embeddings.Embeddings`.
        word: a vocabulary word; an unknown one raises :class:`sslteach.embeddings.UnknownWordError`
            (a KeyError whose message suggests close words).
        k: number of neighbours, >= 1 (all other words when the vocabulary is smaller).

    Returns:
        ``(fig, neighbours)`` with ``neighbours = emb.most_similar(word, k)``: ``[(word, cosine), ...]``.
    """
    _check_embeddings(emb)
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__}; for the neighbours of a "
                        f"vector use emb.most_similar(vector, k)")
    k = check_number(k, "k", low=1, integer=True, hint="the number of neighbours to show, e.g. 10")
    if len(emb) < 2:
        raise ValueError(f"the vocabulary has {len(emb)} word(s), so '{word}' has no neighbour; "
                         f"use embeddings of at least 2 words")
    neighbours = emb.most_similar(word, k=k)  # raises UnknownWordError with suggestions
    names, sims = [w for w, _ in neighbours], [s for _, s in neighbours]
    fig, ax = plt.subplots(figsize=(5.5, 0.9 + 0.28 * len(names)))
    ax.barh(range(len(names)), sims, color="C0")
    for i, s in enumerate(sims):
        ax.text(s, i, f" {s:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()  # most similar on top
    ax.set_xlim(min(0.0, min(sims)), 1.1)  # room for the value labels
    ax.set(xlabel="cosine similarity", title=f"nearest neighbours of '{word}'")
    fig.tight_layout()
    return fig, neighbours


class WordNeighbours:
    """Type a word, see its nearest neighbours and a bar chart of their cosine similarities.

    Args:
        emb: :class:`sslteach.embeddings.Embeddings`.
        k: neighbours shown at first, 1 to 30 (a slider changes it); every other word when the
            vocabulary has fewer.
        word: the first word; default the most frequent word of the vocabulary.
        suggestions: how many of the most frequent words the text box offers while typing.

    An unknown word shows the :class:`~sslteach.embeddings.UnknownWordError` message (with close
    vocabulary words) instead of a chart. Display it by leaving it last in a cell.
    """

    def __init__(self, emb, k: int = 10, word: str | None = None, suggestions: int = 1000):
        import ipywidgets as W

        _check_embeddings(emb)
        if len(emb) < 2:
            raise ValueError(f"WordNeighbours needs at least 2 words, the vocabulary has {len(emb)}")
        k = check_number(k, "k", low=1, high=30, integer=True, hint="the slider spans 1 to 30 neighbours")
        if word is not None and not isinstance(word, str):
            raise TypeError(f"word must be a string (or None for the most frequent word), got {type(word).__name__}")
        suggestions = check_number(suggestions, "suggestions", low=0, integer=True,
                                   hint="how many frequent words the text box offers, e.g. 1000")
        self.emb, self.neighbours = emb, []
        self.word = W.Combobox(value=word if word is not None else emb.words[0], description="word",
                               options=emb.words[:suggestions], ensure_option=False,
                               continuous_update=False, placeholder="type a word and press Enter")
        self.k = W.IntSlider(value=min(k, len(emb) - 1), min=1, max=min(30, len(emb) - 1),  # at most all other words
                             description="k", continuous_update=False)
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        for control in (self.word, self.k):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HBox([self.word, self.k]), self.readout, self.picture])
        self.redraw()

    def redraw(self) -> None:
        from html import escape

        from ..embeddings import UnknownWordError

        word = self.word.value.strip().lower()
        if not word:
            self.neighbours, self.readout.value = [], "Type a word and press Enter."
            self.picture.layout.display = "none"
            return
        try:
            fig, self.neighbours = neighbour_figure(self.emb, word, self.k.value)
        except UnknownWordError as err:
            self.neighbours = []
            self.readout.value = f"<span style='color:#b00'>{escape(str(err))}</span>"
            self.picture.layout.display = "none"
            return
        self.picture.value = png_of_figure(fig)
        self.picture.layout.display = None
        self.readout.value = (f"<b>{escape(word)}</b>: " +
                              ", ".join(f"{escape(w)} ({s:.2f})" for w, s in self.neighbours))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
