from collections import Counter
import pytest
import torch

from sslteach import textlabels as tl


@pytest.mark.parametrize("loader,classes,n", [(tl.load_polarity, ["negative", "positive"], 5331),
                                              (tl.load_subjectivity, ["objective", "subjective"], 5000)])
def test_two_class_sets(loader, classes, n):
    texts, labels, names = loader()
    assert names == classes and torch.bincount(labels).tolist() == [n, n] and len(texts) == 2 * n
    joined = "".join(texts)
    assert not any(0x80 <= ord(c) < 0xA0 for c in joined)  # cp1252 dashes mapped back from C1 controls
    assert all(t and t == t.strip() for t in texts)


def test_polarity_text_and_dash():
    texts, labels, _ = tl.load_polarity()
    assert texts[0] == "simplistic , silly and tedious ." and labels[0] == 0
    assert any("\u2013" in t for t in texts)


def test_authorship():
    texts, labels, classes = tl.load_authorship()
    assert len(classes) == 11 and classes == sorted(classes)
    counts = torch.bincount(labels, minlength=11)
    assert counts.min() > 300 and len(texts) == counts.sum()
    assert all(len(t.split()) >= 5 for t in texts)
    assert len(tl.load_authorship(min_words=1).texts) > len(texts)


def test_split_labeled_is_balanced_disjoint_and_seeded():
    data = tl.load_polarity()
    train, test = tl.split_labeled(data, 10, 500, seed=3)
    assert torch.bincount(train.labels).tolist() == [10, 10] and torch.bincount(test.labels).tolist() == [500, 500]
    repeated = {t for t, n in Counter(data.texts).items() if n > 1}
    assert not (set(train.texts) & set(test.texts)) - repeated
    again, _ = tl.split_labeled(data, 10, 500, seed=3)
    other, _ = tl.split_labeled(data, 10, 500, seed=4)
    assert again.texts == train.texts and other.texts != train.texts
    index = {t: i for i, t in enumerate(data.texts)}
    assert all(data.labels[index[t]] == y for t, y in zip(train.texts, train.labels) if t not in repeated)


def test_split_labeled_default_test_set_is_the_largest_balanced_one():
    data = tl.load_authorship()
    fewest = int(torch.bincount(data.labels).min())
    train, test = tl.split_labeled(data, 10)
    assert torch.bincount(test.labels).tolist() == [fewest - 10] * 11


EXPECTED_SENSES = {"hard": {"HARD1": 3455, "HARD2": 502, "HARD3": 376},
                   "interest": {"interest_1": 361, "interest_2": 11, "interest_3": 66, "interest_4": 178,
                                "interest_5": 500, "interest_6": 1252},
                   "line": {"cord": 373, "division": 374, "formation": 349, "phone": 429, "product": 2217, "text": 404},
                   "serve": {"SERVE10": 1814, "SERVE12": 1272, "SERVE2": 853, "SERVE6": 439}}


@pytest.mark.parametrize("word", tl.SENSEVAL_WORDS)
def test_senseval_counts_and_heads(word):
    instances, senses = tl.load_senseval(word)
    assert senses == sorted(EXPECTED_SENSES[word])
    assert {senses[s]: n for s, n in Counter(s for _, _, s in instances).items()} == EXPECTED_SENSES[word]
    stem = word[:4] if word != "serve" else "serv"
    heads = Counter(tokens[head] for tokens, head, _ in instances)
    assert sum(n for w, n in heads.items() if w.startswith(stem)) == len(instances)
    assert all("FRASL" not in tokens for tokens, _, _ in instances)


def test_senseval_first_line_instance():
    tokens, head, sense = tl.load_senseval("line").instances[0]
    assert tokens[head] == "lines" and tl.load_senseval("line").senses[sense] == "cord"
    assert tokens[:3] == ["the", "company", "argued"]
    # the returned lists are copies: changing them does not change the next load
    tokens.append("x")
    assert tl.load_senseval("line").instances[0][0][-1] != "x"


def test_senseval_loose_text_between_wf_is_kept():
    inst = tl.ET.fromstring('<instance id="x"><answer instance="x" senseid="cord"/><context> <wf pos="DT">the</wf> '
                            'loose words FRASL <head> <wf pos="NN">line</wf></head> <compound> <wf pos="JJ">a</wf> '
                            '<wf pos="JJ">b</wf> </compound> <s snum="1"/> end </context></instance>')
    assert tl._parse_instance(inst) == (["the", "loose", "words", "line", "a", "b", "end"], 3, "cord")
