import shutil

import pytest
import torch

from sslteach import data, textdata
from sslteach.data import DataError


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    """A private copy of data/ so tests can break files without touching the shipped ones."""
    src = data.data_dir()
    for name in ("images/mnist_5k.csv.gz", "eval/wordsim353.tsv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / name, tmp_path / name)
    monkeypatch.setenv("SSLTEACH_DATA", str(tmp_path))
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("split,n", [("train", 10_000), ("test", 2_000)])
def test_cifar10_shapes_dtypes_balance(split, n):
    x, y, classes = data.load_cifar10(split)
    assert x.shape == (n, 3, 32, 32) and x.dtype == torch.uint8
    assert y.shape == (n,) and y.dtype == torch.int64
    assert classes == data.CIFAR10_CLASSES
    assert torch.bincount(y).tolist() == [n // 10] * 10
    assert 100 < x.float().mean() < 150  # real photos, not zeros


def test_cifar10_float_subset_and_second_load_is_a_cache_hit(monkeypatch):
    data.load_cifar10("train")  # make sure the cache exists

    def no_decoding(path):
        raise AssertionError(f"{path} was decoded again: the second load missed the cache")

    monkeypatch.setattr(data, "_decode_cifar_zip", no_decoding)
    x, y, _ = data.load_cifar10("train", dtype=torch.float32, n_per_class=5, seed=1)
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.bincount(y).tolist() == [5] * 10
    x2, y2, _ = data.load_cifar10("train", dtype=torch.float32, n_per_class=5, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_mnist_and_digits():
    x, y, classes = data.load_mnist("train")
    assert x.shape == (4000, 1, 28, 28) and torch.bincount(y).tolist() == [400] * 10
    xt, yt, _ = data.load_mnist("test")
    assert xt.shape == (1000, 1, 28, 28) and torch.bincount(yt).tolist() == [100] * 10
    assert len(data.load_mnist("all").images) == 5000
    d, dy, _ = data.load_digits()
    assert d.shape == (1797, 1, 8, 8) and d.max() == 255 and dy.max() == 9


def test_photos():
    for name in data.PHOTOS:
        p = data.load_photo(name)
        assert p.ndim == 3 and p.shape[0] == 3 and p.dtype == torch.float32 and p.max() <= 1


def test_missing_file_names_it_and_says_how_to_restore(tmp_data):
    (tmp_data / "images/mnist_5k.csv.gz").unlink()
    with pytest.raises(DataError, match=r"mnist_5k\.csv\.gz is missing.*git checkout"):
        data.load_mnist()


def test_corrupt_file_is_caught_by_sha256(tmp_data):
    with open(tmp_data / "eval/wordsim353.tsv", "a") as f:
        f.write("cat\tdog\t9.9\n")
    with pytest.raises(DataError, match=r"corrupt or was changed.*expected f92a022f"):
        textdata.load_word_pairs("wordsim353")


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="split must be"):
        data.load_cifar10("validation")
    with pytest.raises(ValueError, match="photo must be one of"):
        data.load_photo("lena")
    with pytest.raises(ValueError, match="cannot take k=2000"):
        data.load_cifar10("test", n_per_class=2000)


def test_per_class_indices_takes_exactly_k():
    y = torch.arange(10).repeat(7)
    idx = data.per_class_indices(y, 3, seed=0)
    assert torch.bincount(y[idx]).tolist() == [3] * 10
    assert not torch.equal(idx, data.per_class_indices(y, 3, seed=1))
