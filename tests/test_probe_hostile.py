"""Hostile inputs to sslteach.probe: each bad call fails with a message that says what to do, or the
case is handled correctly (features of any scale, a single training class for kNN, tiny sets).
CPU only; the encoders are tiny and never trained."""
import pytest
import torch

from sslteach.models import ConvEncoder
from sslteach.probe import extract_features, format_table, knn_accuracy, linear_probe, probe_table


def blobs(n_per_class=10, classes=3, dim=4, seed=0):
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1234)) * 6
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[y] + torch.randn(len(y), dim, generator=torch.Generator().manual_seed(seed)), y


def data():
    return (*blobs(), *blobs(n_per_class=4, seed=1))  # train_x, train_y, test_x, test_y


PROBES = {"knn_accuracy": lambda *a, **kw: knn_accuracy(*a, **{"k": 5, **kw}),
          "linear_probe": linear_probe}


def with_(i, value):
    """The arguments of :func:`data` with argument ``i`` replaced by ``value(argument)``."""
    args = list(data())
    args[i] = value(args[i])
    return args


# ---- features and labels: both probes ------------------------------------------------------------

def nan_at(x, value=float("nan")):
    x = x.clone()
    x[1, 2] = value
    return x


@pytest.mark.parametrize("name", PROBES)
@pytest.mark.parametrize("args,error,match", [
    # before: kNN returned 0.5 on NaN features
    (with_(0, nan_at), ValueError, "train features holds 1 NaN.*encoder.*diverged"),
    (with_(2, lambda x: nan_at(x, float("inf"))), ValueError, "test features holds 0 NaN and 1 infinite"),
    (with_(2, lambda x: x[:0]), ValueError, "the test set is empty"),
    (with_(3, lambda y: y[:0]), ValueError, "12 feature rows but 0 labels"),
    (with_(1, lambda y: y.float()), TypeError, r"integer class indices.*y\.long\(\)"),
    (with_(3, lambda y: y == 1), TypeError, r"y\.long\(\)"),
    (with_(1, lambda y: y - 1), ValueError, "renumber the classes from 0"),
    (with_(1, lambda y: y[:-1]), ValueError, "30 feature rows but 29 labels; give one label per row"),
    (with_(1, lambda y: y[:, None]), ValueError, r"1-D \(N,\).*y\.flatten\(\)"),
    (with_(0, lambda x: x[:, None]), ValueError, r"2-D \(N, D\).*x\.flatten\(1\)"),
    (with_(2, lambda x: x[:, :3]), ValueError, "4 dims but test features 3; extract both with the same encoder"),
    (with_(3, lambda y: y + 2), ValueError, r"class\(es\) \[3, 4\] that never occur in the training labels"),
    (with_(0, lambda x: "features"), TypeError, r"torch\.as_tensor"),
])
def test_bad_features_and_labels_are_refused(name, args, error, match):
    with pytest.raises(error, match=match):
        PROBES[name](*args)


@pytest.mark.parametrize("name", PROBES)
@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_features_of_any_scale_give_the_same_accuracy(name, scale):
    # kNN's cosine used to overflow (1e30) or vanish (1e-30) in float32; the probe standardises
    x, y, xt, yt = blobs(n_per_class=10, dim=4, seed=0) + blobs(n_per_class=10, dim=4, seed=5)
    x, xt = x + 4 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2)), xt  # some errors
    assert PROBES[name](x * scale, y, xt * scale, yt) == pytest.approx(PROBES[name](x, y, xt, yt))


def test_numpy_inputs_and_int_features_work():
    x, y, xt, yt = data()
    assert knn_accuracy(x.numpy(), y.numpy(), xt.numpy(), yt.numpy(), k=5) == knn_accuracy(x, y, xt, yt, k=5)
    assert 0 <= linear_probe(x.round().int(), y, xt.round().int(), yt) <= 1


def test_single_training_class():
    x, y, xt, yt = data()
    one = y == 0
    with pytest.raises(ValueError, match=r"a single class \(0\).*at least two classes to learn anything; give labels of more classes"):
        linear_probe(x[one], y[one], xt[yt == 0], yt[yt == 0])
    # kNN is well defined with one class: every vote goes to it
    assert knn_accuracy(x[one], y[one], xt[yt == 0], yt[yt == 0], k=3) == 1.0


# ---- numbers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(k=-1), ValueError, r"k must be an integer >= 1 and <= 30, got -1; the number of neighbours"),
    (dict(k=0), ValueError, r"k must be an integer >= 1 and <= 30"),
    (dict(k=31), ValueError, r"<= 30, got 31.*at most the number of training points"),
    (dict(k=True), TypeError, "k must be an integer"),
    (dict(k=2.5), TypeError, "k must be an integer"),
    (dict(temperature=True), TypeError, "temperature must be a number > 0.*0.07"),
    (dict(temperature=0), ValueError, "temperature must be a number > 0.*0.07"),
    (dict(temperature=float("nan")), ValueError, "temperature must be a number > 0"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
])
def test_knn_refuses_bad_numbers(kwargs, error, match):
    with pytest.raises(error, match=match):
        knn_accuracy(*data(), **{"k": 5, **kwargs})


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(C=0), ValueError, "C must be a number > 0.*smaller C regularises more"),
    (dict(C=True), TypeError, "C must be a number"),
    (dict(max_iter=0), ValueError, "max_iter must be an integer >= 1"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(seed=1.5), TypeError, "seed must be an integer"),
    (dict(labels_per_class=0), ValueError, "labels_per_class must be an integer >= 1.*None uses every"),
    (dict(labels_per_class=2.5), TypeError, "labels_per_class must be an integer"),
    (dict(labels_per_class=11), ValueError, "cannot take k=11 per class; use k <= 10"),
])
def test_linear_probe_refuses_bad_numbers(kwargs, error, match):
    with pytest.raises(error, match=match):
        linear_probe(*data(), **kwargs)


# ---- extract_features ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return ConvEncoder(widths=(8, 16), stem_width=8)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    (dict(grid=True), TypeError, "grid must be an integer.*1 is one global average"),
    (dict(grid=0), ValueError, "grid must be an integer >= 1"),
    (dict(block=True), TypeError, "block must be an integer"),
    (dict(images=torch.rand(2, 3, 8, 8) * 255), ValueError, "divide 0-255 images by 255"),
    (dict(images=torch.full((2, 3, 8, 8), float("nan"))), ValueError, "NaN.*torch.nan_to_num"),
    (dict(images=torch.zeros(2, 3, 8, 8, dtype=torch.int64)), TypeError, r"x\.float\(\) / 255"),
    (dict(encoder=lambda x: x), TypeError, r"torch\.nn\.Module \(e\.g\. st\.ConvEncoder\(\)\)"),
])
def test_extract_features_refuses_bad_arguments(encoder, kwargs, error, match):
    args = {"encoder": encoder, "images": torch.rand(2, 3, 8, 8), "device": "cpu", **kwargs}
    with pytest.raises(error, match=match):
        extract_features(**args)


def test_extract_features_of_a_diverged_encoder_are_refused():
    torch.manual_seed(0)
    broken = ConvEncoder(widths=(8,), stem_width=4)
    with torch.no_grad():
        broken.blocks[0][0][0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="the features holds .* NaN.*weights hold NaN.*diverged"):
        extract_features(broken, torch.rand(2, 3, 8, 8), device="cpu")


# ---- probe_table and format_table ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(features=[1, 2]), TypeError, r"non-empty dict \{'name': \(train_features, test_features\)\}"),
    (dict(features={}), TypeError, "non-empty dict"),
    (dict(features={"x": (1, 2, 3)}), TypeError, r"features\['x'\] must be a pair.*of length 3"),
    (dict(seeds=0), ValueError, "seeds must be an integer >= 1"),
    (dict(labels_per_class="10"), TypeError, r"tuple of budgets such as \(10, 100, None\)"),
    (dict(labels_per_class=()), ValueError, r"labels_per_class is empty"),
    (dict(labels_per_class=(5, 0)), ValueError, "each of labels_per_class must be an integer >= 1"),
])
def test_probe_table_refuses_bad_arguments(kwargs, error, match):
    x, y, xt, yt = data()
    args = {"features": {"raw": (x, xt)}, "train_y": y, "test_y": yt, **kwargs}
    with pytest.raises(error, match=match):
        probe_table(**args)


def test_probe_table_one_budget_and_fewer_than_20_training_points():
    (x, y), (xt, yt) = blobs(n_per_class=4), blobs(n_per_class=2, seed=1)
    table = probe_table({"raw": (x, xt)}, y, yt, labels_per_class=2, seeds=1)  # one int: one budget
    assert list(table["raw"]) == ["2/class", "kNN"] and 0 <= table["raw"]["kNN"] <= 1  # k capped at 12


@pytest.mark.parametrize("table,kwargs,match", [
    ({}, {}, "non-empty dict"),
    ({"a": {"all": 0.5}, "b": {"kNN": 0.5}}, {}, "every row needs the same columns"),
    ({"a": {"all": 0.5}}, {"digits": -1}, "digits must be an integer >= 0"),
])
def test_format_table_refuses_bad_tables(table, kwargs, match):
    with pytest.raises(ValueError, match=match):
        format_table(table, **kwargs)
