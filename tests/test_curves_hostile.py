"""Hostile inputs to sslteach.curves: a bad protocol, data set, index, budget or seed fails with a
message that says what to do. CPU only, a tiny encoder on 8x8 images, no training."""
import pytest
import torch

from sslteach.curves import Protocol, label_fraction_curve
from sslteach.models import ConvEncoder


def tiny_encoder(in_channels=3):
    torch.manual_seed(0)
    return ConvEncoder(in_channels=in_channels, widths=(8, 8), stem_width=4)


def images(n=6, seed=0):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


LABELS = torch.tensor([0, 1, 2, 0, 1, 2])


def test_protocol_refuses_bad_data_and_indices():
    with pytest.raises(TypeError, match=r"train must be an \(images, labels\) pair or an ImageSet"):
        Protocol("kNN", tiny_encoder(), images(), (images(), LABELS))
    with pytest.raises(TypeError, match=r"test labels must be integer class indices"):
        Protocol("kNN", tiny_encoder(), (images(), LABELS), (images(), LABELS.float()))
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        Protocol("kNN", "encoder", (images(), LABELS), (images(), LABELS))
    protocol = Protocol("kNN", tiny_encoder(), (images(), LABELS), (images(), LABELS), device="cpu")
    with pytest.raises(ValueError, match=r"train_idx must index the 6 training images \(0 \.\. 5\)"):
        protocol(torch.tensor([0, 6]))
    with pytest.raises(ValueError, match=r"integer indices.*per_class_indices"):
        protocol(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"non-empty 1-D"):
        protocol(torch.tensor([], dtype=torch.long))


@pytest.mark.parametrize("protocols,kwargs,error,match", [
    ({"nan": lambda idx: float("nan")}, {}, ValueError, r"accuracy that 'nan' returned.*number in \[0, 1\]"),
    ({"pct": lambda idx: 87.5}, {}, ValueError, r"<= 1, got 87\.5.*number in \[0, 1\]"),
    ({"str": lambda idx: "0.5"}, {}, TypeError, r"number in \[0, 1\]"),
    ({}, {}, TypeError, "non-empty dict"),
    ({"x": 0.5}, {}, TypeError, r"protocols\['x'\] must be a callable"),
    ({"ok": lambda idx: 0.5}, {"seeds": 0}, ValueError, "seeds must be an integer >= 1"),
    ({"ok": lambda idx: 0.5}, {"seeds": ()}, ValueError, r"seeds is empty.*seeds=\(0,\)"),
    ({"ok": lambda idx: 0.5}, {"seeds": (0, -1)}, ValueError, "each seed must be an integer >= 0"),
    ({"ok": lambda idx: 0.5}, {"labels_per_class": (1, 0)}, ValueError, "labels_per_class must be an integer >= 1"),
    ({"ok": lambda idx: 0.5}, {"labels": LABELS.float()}, TypeError, r"labels\.long\(\)"),
])
def test_label_fraction_curve_refuses_bad_arguments(protocols, kwargs, error, match):
    args = {"labels": LABELS, "labels_per_class": (1,), "verbose": False, **kwargs}
    with pytest.raises(error, match=match):
        label_fraction_curve(protocols, **args)


def test_label_fraction_curve_takes_one_budget_as_an_int():
    curve = label_fraction_curve({"ok": lambda idx: len(idx) / 6}, LABELS, labels_per_class=2, seeds=1,
                                 verbose=False)
    assert curve["ok"] == {"2/class": 1.0}
