import pytest
import torch
import torch.nn.functional as F

from sslteach.probe import extract_features, format_table, knn_accuracy, linear_probe, probe_table
from sslteach.models import ConvEncoder


def blobs(n_per_class=50, classes=4, dim=8, sep=6.0, seed=0):
    """Gaussian clusters around fixed centres; ``seed`` draws new points around the same centres."""
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1234)) * sep
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = centres[y] + torch.randn(len(y), dim, generator=torch.Generator().manual_seed(seed))
    return x, y


def test_linear_probe_separable_and_shuffled():
    x, y = blobs()
    xt, yt = blobs(seed=1)
    assert linear_probe(x, y, xt, yt) >= 0.99
    # shuffled training labels carry no information: the probe falls to chance (0.1 for 10 classes)
    x, y = blobs(n_per_class=100, classes=10, dim=16, sep=0.5)
    xt, yt = blobs(n_per_class=100, classes=10, dim=16, sep=0.5, seed=1)
    assert linear_probe(x, y, xt, yt) > 0.6
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    assert abs(linear_probe(x, shuffled, xt, yt) - 0.1) < 0.07


def test_linear_probe_labels_per_class():
    x, y = blobs(n_per_class=40)
    assert linear_probe(x, y, x, y, labels_per_class=3, seed=0) > 0.9
    with pytest.raises(ValueError, match="cannot take k=41"):
        linear_probe(x, y, x, y, labels_per_class=41)
    with pytest.raises(ValueError, match="2-D"):
        linear_probe(x[:, 0], y, x, y)


def brute_force_knn(train_x, train_y, test_x, test_y, k, temperature):
    correct = 0
    for q, label in zip(test_x, test_y):
        sims = [(F.cosine_similarity(q, t, dim=0).item(), int(c)) for t, c in zip(train_x, train_y)]
        sims.sort(key=lambda s: -s[0])
        votes = {}
        for s, c in sims[:k]:
            votes[c] = votes.get(c, 0.0) + torch.exp(torch.tensor(s / temperature)).item()
        correct += max(votes, key=votes.get) == int(label)
    return correct / len(test_x)


@pytest.mark.parametrize("k,temperature", [(1, 0.1), (5, 0.07), (15, 1.0)])
def test_knn_equals_brute_force(k, temperature):
    x, y = blobs(n_per_class=20, sep=1.0)
    xt, yt = blobs(n_per_class=10, sep=1.0, seed=3)
    assert knn_accuracy(x, y, xt, yt, k=k, temperature=temperature, batch_size=7) == pytest.approx(
        brute_force_knn(x, y, xt, yt, k, temperature))


def test_knn_errors_and_tiny_temperature():
    x, y = blobs()
    assert knn_accuracy(x, y, x, y, k=5, temperature=1e-4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1 and <= 200, got 0"):
        knn_accuracy(x, y, x, y, k=0)


def test_extract_features_batches_uint8_and_blocks():
    enc = ConvEncoder(widths=(8, 16), stem_width=8).train()
    x = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    h = extract_features(enc, x, batch_size=3, device="cpu")
    assert h.shape == (7, 16) and h.dtype == torch.float32 and not h.requires_grad
    assert enc.training  # mode restored
    enc.eval()
    assert torch.allclose(h, enc(x.float() / 255), atol=1e-5)
    assert extract_features(enc, x, device="cpu", block=0).shape == (7, 8)


def test_probe_table_and_format():
    x, y = blobs(n_per_class=30)
    xt, yt = blobs(n_per_class=10, seed=1)
    g = torch.Generator().manual_seed(0)
    noise = (torch.randn(x.shape, generator=g), torch.randn(xt.shape, generator=g))
    table = probe_table({"good": (x, xt), "noise": noise},
                        y, yt, labels_per_class=(5, None), seeds=2)
    assert list(table["good"]) == ["5/class", "all", "kNN"]
    assert table["good"]["all"] > 0.95 > table["noise"]["all"]
    text = format_table(table)
    assert "good" in text and "5/class" in text and "%" in text
