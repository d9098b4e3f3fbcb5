"""sslteach.textdata: the NLTK corpora, read straight from the shipped zips."""
from collections import Counter

import pytest
import torch

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


@pytest.mark.parametrize("loader,classes,n", [(td.load_polarity, ["negative", "positive"], 5331),
                                              (td.load_subjectivity, ["objective", "subjective"], 5000)])
def test_two_class_sets(loader, classes, n):
    texts, labels, names = loader()
    assert names == classes and torch.bincount(labels).tolist() == [n, n] and len(texts) == 2 * n
    joined = "".join(texts)
    assert not any(0x80 <= ord(c) < 0xA0 for c in joined)  # cp1252 dashes mapped back from C1 controls
    assert all(t and t == t.strip() for t in texts)


def test_polarity_text_and_dash():
    texts, labels, _ = td.load_polarity()
    assert texts[0] == "simplistic , silly and tedious ." and labels[0] == 0
    assert any("\u2013" in t for t in texts)


def test_authorship():
    texts, labels, classes = td.load_authorship()
    assert len(classes) == 11 and classes == sorted(classes)
    counts = torch.bincount(labels, minlength=11)
    assert counts.min() > 300 and len(texts) == counts.sum()
    assert all(len(t.split()) >= 5 for t in texts)
    assert len(td.load_authorship(min_words=1).texts) > len(texts)


def test_split_labeled_is_balanced_disjoint_and_seeded():
    data = td.load_polarity()
    train, test = td.split_labeled(data, 10, 500, seed=3)
    assert torch.bincount(train.labels).tolist() == [10, 10] and torch.bincount(test.labels).tolist() == [500, 500]
    repeated = {t for t, n in Counter(data.texts).items() if n > 1}
    assert not (set(train.texts) & set(test.texts)) - repeated
    again, _ = td.split_labeled(data, 10, 500, seed=3)
    other, _ = td.split_labeled(data, 10, 500, seed=4)
    assert again.texts == train.texts and other.texts != train.texts
    index = {t: i for i, t in enumerate(data.texts)}
    assert all(data.labels[index[t]] == y for t, y in zip(train.texts, train.labels) if t not in repeated)


def test_split_labeled_default_test_set_is_the_largest_balanced_one():
    data = td.load_authorship()
    fewest = int(torch.bincount(data.labels).min())
    train, test = td.split_labeled(data, 10)
    assert torch.bincount(test.labels).tolist() == [fewest - 10] * 11


EXPECTED_SENSES = {"hard": {"HARD1": 3455, "HARD2": 502, "HARD3": 376},
                   "interest": {"interest_1": 361, "interest_2": 11, "interest_3": 66, "interest_4": 178,
                                "interest_5": 500, "interest_6": 1252},
                   "line": {"cord": 373, "division": 374, "formation": 349, "phone": 429, "product": 2217, "text": 404},
                   "serve": {"SERVE10": 1814, "SERVE12": 1272, "SERVE2": 853, "SERVE6": 439}}


@pytest.mark.parametrize("word", td.SENSEVAL_WORDS)
def test_senseval_counts_and_heads(word):
    instances, senses = td.load_senseval(word)
    assert senses == sorted(EXPECTED_SENSES[word])
    assert {senses[s]: n for s, n in Counter(s for _, _, s in instances).items()} == EXPECTED_SENSES[word]
    stem = word[:4] if word != "serve" else "serv"
    heads = Counter(tokens[head] for tokens, head, _ in instances)
    assert sum(n for w, n in heads.items() if w.startswith(stem)) == len(instances)
    assert all("FRASL" not in tokens for tokens, _, _ in instances)


def test_senseval_first_line_instance():
    tokens, head, sense = td.load_senseval("line").instances[0]
    assert tokens[head] == "lines" and td.load_senseval("line").senses[sense] == "cord"
    assert tokens[:3] == ["the", "company", "argued"]
    # the returned lists are copies: changing them does not change the next load
    tokens.append("x")
    assert td.load_senseval("line").instances[0][0][-1] != "x"


def test_senseval_loose_text_between_wf_is_kept():
    inst = td.ET.fromstring('<instance id="x"><answer instance="x" senseid="cord"/><context> <wf pos="DT">the</wf> '
                            'loose words FRASL <head> <wf pos="NN">line</wf></head> <compound> <wf pos="JJ">a</wf> '
                            '<wf pos="JJ">b</wf> </compound> <s snum="1"/> end </context></instance>')
    assert td._parse_instance(inst) == (["the", "loose", "words", "line", "a", "b", "end"], 3, "cord")
