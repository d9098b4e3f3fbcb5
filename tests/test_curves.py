"""Tests for sslteach.curves: label_fraction_curve draws exactly k labels per class and averages over
seeds; every Protocol kind answers through one interface."""
import pytest
import torch

from sslteach.curves import Protocol, label_fraction_curve
from sslteach.models import ConvEncoder
from sslteach.probe import format_table


def tiny_encoder(seed=0):
    torch.manual_seed(seed)  # a fixed random init: the accuracy thresholds below hold for it every run
    return ConvEncoder(widths=(8, 16, 16), stem_width=8)


def colour_images(n_per_class=12, size=16, seed=0):
    """3 classes told apart by their dominant colour, with noise: learnable in a few steps."""
    y = torch.arange(3).repeat_interleave(n_per_class)
    noise = torch.rand(len(y), 3, size, size, generator=torch.Generator().manual_seed(seed))
    return (0.6 * torch.eye(3)[y].view(-1, 3, 1, 1) + 0.4 * noise).clamp(0, 1), y


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_label_fraction_curve_draws_exactly_k_per_class_and_averages():
    y = torch.arange(4).repeat_interleave(30)[torch.randperm(120, generator=torch.Generator().manual_seed(0))]
    seen = []

    def record(idx):
        seen.append(idx)
        return len(seen) / 100  # a different "accuracy" for every call, to check the averaging

    curve = label_fraction_curve({("toy", "record"): record, "same": lambda idx: 0.5}, y,
                                 labels_per_class=(1, 5, None), seeds=(0, 1), verbose=False)
    assert [len(i) for i in seen] == [4, 4, 20, 20, 120]
    for idx, k in zip(seen, (1, 1, 5, 5)):
        assert torch.bincount(y[idx], minlength=4).tolist() == [k] * 4 and len(set(idx.tolist())) == len(idx)
    assert not torch.equal(seen[2], seen[3])  # two seeds, two draws
    assert curve["toy / record"] == pytest.approx({"1/class": 0.015, "5/class": 0.035, "all": 0.05})
    assert curve.runs["toy / record"]["5/class"] == pytest.approx([0.03, 0.04])
    assert curve["same"] == {"1/class": 0.5, "5/class": 0.5, "all": 0.5}
    assert "5/class" in format_table(curve)


def test_protocols_share_one_interface():
    x, y = colour_images(n_per_class=10)
    xt, yt = colour_images(n_per_class=5, seed=1)
    encoder = tiny_encoder()
    before = snapshot(encoder)
    protocols = {kind: Protocol(kind, encoder, (x, y), (xt, yt), device="cpu",
                                **({"steps": 3, "batch_size": 9} if kind in ("fine-tune", "from scratch") else {}))
                 for kind in Protocol.KINDS}
    curve = label_fraction_curve(protocols, y, labels_per_class=(3,), verbose=False)
    assert set(curve) == set(Protocol.KINDS) and all(0 <= r["3/class"] <= 1 for r in curve.values())
    assert curve["kNN"]["3/class"] > 0.5  # colour features of a random CNN already cluster
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())  # fine-tunes a copy
    with pytest.raises(ValueError, match="kind must be one of"):
        Protocol("probe", encoder, (x, y), (xt, yt))
