"""Notebook 06's comparisons over seeds: our skip-gram against gensim's on the same corpus, and the
same training on a smaller and a larger corpus.

Every run uses notebook 06's settings (:data:`SETTINGS`, on :data:`CORPUS`); seeds 1-3, so the
notebook's own run (seed 0) is one more draw. ``workers=1`` as in the notebook: one thread, so a run
is reproducible bit for bit from its seed (and gensim gets one thread too). At the notebook's
``lr=0.05`` two lock-free (Hogwild) threads made some runs diverge on this corpus.
"""
from __future__ import annotations

import time
from functools import lru_cache

import torch

from ..embeddings import Embeddings
from ..textdata import load_pretraining_text
from ..vocab import build_vocab, tokenize
from ..word2vec import train_word2vec
from ..wordeval import evaluate, evaluate_analogies
from ..textdata import load_analogies
from . import experiment

CORPUS = ("brown", "gutenberg", "enwiki")                 # notebook 06's corpus (its section 1)
SMALL = ("gutenberg", "enwiki")                            # the corpus of earlier versions of notebook 06
SETTINGS = dict(dim=100, window=5, negatives=5, min_count=5, sample=1e-4, epochs=5, lr=0.05, workers=1)
BINS = ((5, 30), (30, 100), (100, 300), (300, None))       # count of a question's rarest word (notebook 06, section 7)


@lru_cache(maxsize=4)
def corpus(corpora: tuple = CORPUS, quick: bool = False) -> tuple:
    """The tokenised sentences of ``corpora`` (all of each, no held-out part): notebook 06's text.
    Quick: the first 2,000 sentences of each corpus (enwiki: 10 articles)."""
    out = []
    for name in corpora:
        lines = load_pretraining_text(corpora=(name,), split="all")
        out += tokenize(lines[:10 if name == "enwiki" else 2000] if quick else lines)
    return tuple(map(tuple, out))


def _sentences(corpora: tuple, quick: bool) -> list:
    return [list(s) for s in corpus(corpora, quick)]


def train_gensim(sentences: list, seed: int, epochs: int, **settings) -> Embeddings:
    """gensim's skip-gram (``Word2Vec(sg=1)``) with notebook 06's settings, as :class:`Embeddings`."""
    from gensim.models import Word2Vec

    s = {**SETTINGS, **settings}
    model = Word2Vec(vector_size=s["dim"], window=s["window"], negative=s["negatives"], min_count=s["min_count"],
                     sample=s["sample"], sg=1, workers=s["workers"], alpha=s["lr"], seed=seed)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    return Embeddings.from_keyed_vectors(model.wv)


def analogy_by_rarest(emb: Embeddings, counts: dict) -> dict:
    """3CosAdd accuracy on the answerable Google questions, grouped by the corpus count of each
    question's rarest word (:data:`BINS`); NaN for an empty group."""
    u = emb.unit_vectors()
    quads = [q for qs in load_analogies().values() for q in qs if all(w in emb for w in q)]
    if not quads:
        return {}
    ids = torch.tensor([[emb.index[w] for w in q] for q in quads])          # (Q, 4)
    correct = torch.cat([((u[b[:, 1]] - u[b[:, 0]] + u[b[:, 2]]) @ u.T)       # (B, V) 3CosAdd scores
                         .scatter_(1, b[:, :3], -float("inf")).argmax(1) == b[:, 3] for b in ids.split(512)])
    rarest = torch.tensor([min(counts[w] for w in q) for q in quads])
    out = {}
    for lo, hi in BINS:
        m = (rarest >= lo) & (rarest < (hi or 10**12))
        out[f"analogy, rarest word {lo}-{hi - 1}" if hi else f"analogy, rarest word {lo}+"] = (
            correct[m].float().mean().item() if m.any() else float("nan"))
    return out


def _scores(emb: Embeddings) -> dict:
    """WordSim-353 and SimLex-999 rho, analogy accuracy (all, semantic, syntactic); NaN where a
    benchmark has nothing to score (a tiny quick-mode vocabulary)."""
    r = evaluate(emb)
    out = {"WordSim-353": r["wordsim353"], "SimLex-999": r["simlex999"], "analogy": r["analogy"]}
    if r["analogy_questions"]:
        a = evaluate_analogies(emb)
        out.update({"analogy, semantic": a.part(syntactic=False), "analogy, syntactic": a.part(syntactic=True)})
    return out


@experiment("word2vec-gensim", "06", "notebook 06's live runs (sections 5-8): our skip-gram (st.train_word2vec) and "
            "gensim's Word2Vec(sg=1) with the same settings on the same corpus (Brown, Gutenberg, Wikipedia); WordSim-353 and SimLex-999 Spearman rho, Google analogy accuracy (all, semantic, syntactic, "
            "and ours by the count of a question's rarest word); seeds 1-3, the notebook's own run is seed 0",
            ("sslteach", "gensim"), seeds=(1, 2, 3), settings={**SETTINGS, "corpus": list(CORPUS)})
def word2vec_vs_gensim(condition, seed, quick, device):
    sentences = _sentences(CORPUS, quick)
    epochs = 1 if quick else SETTINGS["epochs"]
    start = time.perf_counter()
    if condition == "sslteach":
        s = {k: v for k, v in SETTINGS.items() if k != "epochs"}
        emb = train_word2vec(sentences, **s, epochs=epochs, seed=seed, device=device, progress=False)
    else:
        emb = train_gensim(sentences, seed, epochs)
    seconds = time.perf_counter() - start
    out = _scores(emb)
    if condition == "sslteach":
        words, counts = build_vocab(sentences, SETTINGS["min_count"])
        out.update(analogy_by_rarest(emb, dict(zip(words, counts.tolist()))))
    out["seconds of training"] = seconds
    return out


def restricted(emb: Embeddings, words: list) -> Embeddings:
    """``emb`` cut down to ``words`` (in that order): the same questions and the same candidate
    answers for vectors trained on different corpora."""
    return Embeddings(list(words), emb.vectors[torch.tensor([emb.index[w] for w in words])])


@experiment("word2vec-corpus", "06", "notebook 06's choice of corpus: our skip-gram with the notebook's settings on "
            "Gutenberg + Wikipedia (the corpus of earlier versions) and on Brown + Gutenberg + Wikipedia (the "
            "notebook's), each for the notebook's epochs, and the small corpus for as many epochs as see as many words "
            "as the large one; all scored on the vocabulary of the small corpus (the same pairs, questions and "
            "candidate answers); seeds 1-3",
            ("small corpus", "small corpus (more epochs)", "large corpus"), seeds=(1, 2, 3),
            settings={**SETTINGS, "small": list(SMALL), "large": list(CORPUS)})
def corpus_size(condition, seed, quick, device):
    small = _sentences(SMALL, quick)
    words_small, _ = build_vocab(small, SETTINGS["min_count"])
    sentences = _sentences(CORPUS, quick) if condition == "large corpus" else small
    epochs = SETTINGS["epochs"]
    if condition == "small corpus (more epochs)":   # as many words seen as on the large corpus
        epochs = round(epochs * sum(map(len, _sentences(CORPUS, quick))) / sum(map(len, small)))
    epochs = 1 if quick else epochs
    s = {k: v for k, v in SETTINGS.items() if k != "epochs"}
    emb = train_word2vec(sentences, **s, epochs=epochs, seed=seed, device=device, progress=False)
    out = {k: v for k, v in _scores(restricted(emb, words_small)).items()}
    out["epochs"] = epochs
    out["seconds of training"] = emb.history["seconds"]
    return out
