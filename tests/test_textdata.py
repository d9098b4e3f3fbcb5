"""sslteach.textdata: the NLTK corpora, read straight from the shipped zips."""
from collections import Counter

import pytest

from sslteach import textdata as td


def test_brown_is_500_samples_of_untagged_sentences():
    docs = td._documents("brown")
    assert len(docs) == 500
    assert sum(map(len, docs)) == 57_340                                  # sentences (NLTK's count)
    assert sum(len(s.split()) for d in docs for s in d) == 1_161_192      # tokens (NLTK's count)
    assert docs[0][0].startswith("The Fulton County Grand Jury said Friday an investigation of Atlanta's")
    assert docs[0][0].endswith("that any irregularities took place .")  # "took/vbd place/nn ./." untagged
    assert "and/or" in " ".join(s for d in docs for s in d)               # "and/or/cc": only the last tag goes


def test_state_union_addresses_are_split_into_sentences_and_decoded():
    docs = td._documents("state_union")
    assert len(docs) == 65 and 15_000 < sum(map(len, docs)) < 22_000
    text = " ".join(s for d in docs for s in d)
    assert "\ufffd" not in text and "\xa1" not in text   # Nixon's Big5 punctuation decoded
    assert "man\u2019s genius" in text
    assert "Mr. Speaker, Mr. President, Members of the Congress:" in docs[0]


def test_split_sentences_keeps_titles():
    assert td.split_sentences("Mr. Speaker, thank you. We are here! Are we?") == \
        ["Mr. Speaker, thank you.", "We are here!", "Are we?"]
    assert td.split_sentences('He said "Go." Then left.') == ['He said "Go."', "Then left."]
    assert td.split_sentences("") == []


def test_gutenberg_books_and_authors():
    books = td._gutenberg_books()
    assert len(books) == 17
    authors = Counter(a for _, a, _ in books)
    assert authors["Jane Austen"] == 3 and authors["G.K. Chesterton"] == 3 and authors["William Shakespeare"] == 3
    assert len(authors) == 11
    title, author, sentences = next(b for b in books if b[0] == "Paradise Lost")
    assert sentences[0].startswith("Book I Of Man 's first disobedience")  # text after the header is kept
    assert all(not s.startswith("[ Emma by") for _, _, ss in books for s in ss)


def held_out_documents(docs, test):
    """Indices of the documents whose concatenation, in order, is ``test`` (None if it is not one)."""
    held, pos = [], 0
    for i, doc in enumerate(docs):
        if list(test[pos:pos + len(doc)]) == list(doc):
            held.append(i)
            pos += len(doc)
    return held if pos == len(test) else None


@pytest.mark.parametrize("corpus", td.PRETRAIN_CORPORA)
def test_pretraining_split_is_by_whole_documents_and_deterministic(corpus):
    docs = td._documents(corpus)
    train, test = td.load_pretraining_text(corpus, "train"), td.load_pretraining_text(corpus, "test")
    assert len(train) + len(test) == sum(map(len, docs)) == len(td.load_pretraining_text(corpus, "all"))
    held = held_out_documents(docs, test)
    assert held is not None and len(held) == max(1, round(0.1 * len(docs)))     # whole documents
    kept = [i for i in range(len(docs)) if i not in held]
    assert train == [s for i in kept for s in docs[i]]
    assert test == td.load_pretraining_text(corpus, "test", seed=0)


def test_another_seed_holds_out_other_documents():
    assert td.load_pretraining_text("state_union", "test", seed=1) != td.load_pretraining_text("state_union", "test")
    assert len(td.load_pretraining_text("brown", "test", held_out=0.5)) > 5 * len(td.load_pretraining_text("brown", "test"))


def test_default_corpora_combine():
    both = td.load_pretraining_text(("state_union", "gutenberg"), "test")
    assert both == td.load_pretraining_text("state_union", "test") + td.load_pretraining_text("gutenberg", "test")


def test_corpora_and_word_sets():
    lines = td.load_corpus("gutenberg", max_lines=50)
    assert len(lines) == 50 and all(isinstance(s, str) for s in lines)
    assert len(td.load_word_pairs("wordsim353")) == 353
    assert len(td.load_word_pairs("simlex999")) == 999
    sections = td.load_analogies()
    assert sum(len(q) for q in sections.values()) == 19_544
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
