"""Hostile input for sslteach.data: broken cache files (rebuilt with a warning), upper-case
digests, a server that never answers, and bad arguments to every loader (each error names the
problem and the fix). Files are broken in a private copy (tmp_path), never the shipped ones, and
no test touches the network."""
import shutil
import warnings

import numpy as np
import pytest
import torch

from sslteach import data, textdata

MNIST = "images/mnist_5k.csv.gz"


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    """A private copy of the MNIST file and WordSim-353, with a private, empty cache folder."""
    src = data.data_dir()
    for name in (MNIST, "eval/wordsim353.tsv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / name, tmp_path / name)
    monkeypatch.setenv("SSLTEACH_DATA", str(tmp_path))
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def mnist_cache():
    return data.cache_dir() / f"mnist_5k.csv.gz.{data.SHA256[MNIST][:16]}.npz"


def balanced_labels(n=5000):
    return np.arange(n, dtype=np.int64) % 10


def load_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return data.load_mnist("all")


# ---- regression: a torn or foreign cache file was returned, or broke every later load ----
def write_torn(path):
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)                  # the start of a zip, then nothing


def write_truncated(path):
    np.savez(path, images=np.zeros((5000, 1, 28, 28), np.uint8), labels=balanced_labels())
    path.write_bytes(path.read_bytes()[:5000])                      # a copy interrupted half-way


def write_wrong_keys(path):
    np.savez(path, x=np.zeros((5000, 1, 28, 28), np.uint8), y=balanced_labels(),
             source_sha256=np.array(data.SHA256[MNIST]))


def write_wrong_dtype(path):
    np.savez(path, images=np.zeros((5000, 1, 28, 28), np.float32), labels=balanced_labels(),
             source_sha256=np.array(data.SHA256[MNIST]))


def write_other_data_set(path):                                     # CIFAR-shaped arrays under MNIST's name
    np.savez(path, images=np.zeros((2000, 3, 32, 32), np.uint8), labels=balanced_labels(2000),
             source_sha256=np.array(data.SHA256[MNIST]))


def write_unbalanced(path):
    np.savez(path, images=np.zeros((5000, 1, 28, 28), np.uint8), labels=np.zeros(5000, np.int64),
             source_sha256=np.array(data.SHA256[MNIST]))


def write_from_another_file(path):                                  # right shapes, decoded from another file
    np.savez(path, images=np.zeros((5000, 1, 28, 28), np.uint8), labels=balanced_labels(),
             source_sha256=np.array("0" * 64))


def write_without_source(path):                                     # an older sslteach's cache
    np.savez(path, images=np.zeros((5000, 1, 28, 28), np.uint8), labels=balanced_labels())


@pytest.mark.parametrize("breaker,why", [
    (write_torn, r"cannot be read \(BadZipFile"),
    (write_truncated, r"cannot be read"),
    (write_wrong_keys, r"holds the arrays \['x', 'y'\], expected \['images', 'labels'\]"),
    (write_wrong_dtype, r"images are float32 \(5000, 1, 28, 28\), expected uint8"),
    (write_other_data_set, r"images are uint8 \(2000, 3, 32, 32\), expected uint8 \(5000, 1, 28, 28\)"),
    (write_unbalanced, r"\[5000, 0, 0, 0, 0, 0, 0, 0, 0, 0\] images per class, expected 500 of each"),
    (write_from_another_file, r"decoded from a file with sha256 0000000000000000"),
    (write_without_source, r"does not record which file it was decoded from"),
])
def test_a_cache_file_that_does_not_fit_is_rebuilt_with_a_warning(tmp_data, breaker, why):
    breaker(mnist_cache())
    with pytest.warns(UserWarning, match=rf"cache file .*mnist_5k.* did not fit data/{MNIST}: it.*{why}.*Rebuilt it"):
        x, y, _ = data.load_mnist("all")
    assert x.shape == (5000, 1, 28, 28) and torch.bincount(y).tolist() == [500] * 10
    assert x.float().mean() > 10                                    # the real digits, not the zeros of the fake
    x2, _, _ = load_without_warnings()                              # the rebuilt cache is a plain hit
    assert torch.equal(x, x2)


def test_an_unusable_cache_folder_costs_a_warning_not_the_data(tmp_data, monkeypatch):
    (tmp_data / "not_a_folder").write_text("")
    monkeypatch.setenv("SSLTEACH_CACHE", str(tmp_data / "not_a_folder" / "cache"))
    with pytest.warns(UserWarning, match=r"cannot use the cache folder.*Set SSLTEACH_CACHE to a writable folder"):
        x, _, _ = data.load_mnist("test")
    assert x.shape == (1000, 1, 28, 28)


# ---- regression: an upper-case digest (which sha256sum -c accepts) read as corrupt ----
def test_digests_compare_whatever_their_case(tmp_data, monkeypatch):
    monkeypatch.setitem(data.SHA256, "eval/wordsim353.tsv", data.SHA256["eval/wordsim353.tsv"].upper())
    assert len(textdata.load_word_pairs("wordsim353")) == 353
    assert data.same_digest("ABCdef", "abcDEF") and not data.same_digest("abc", "abd")


# ---- bad arguments: each error names what was expected and what to do ----
@pytest.mark.parametrize("call,error,match", [
    (lambda: data.load_cifar10("validation"), ValueError, r"split must be one of 'train', 'test', got 'validation'"),
    (lambda: data.load_cifar10(["train"]), ValueError, r"split must be one of 'train', 'test'"),
    (lambda: data.load_cifar10(n_per_class=0), ValueError, r"n_per_class must be an integer >= 1.*None for every"),
    (lambda: data.load_cifar10(n_per_class=2.5), TypeError, r"n_per_class must be an integer >= 1, got 2.5"),
    (lambda: data.load_cifar10(dtype="float32"), TypeError, r"dtype must be a torch dtype.*dtype=torch\.float32"),
    (lambda: data.load_cifar10(dtype=np.float32), TypeError, r"dtype must be a torch dtype"),
    (lambda: data.load_cifar10(dtype=torch.int64), ValueError, r"torch\.uint8 \(0-255\) or a float dtype.*use torch"),
    (lambda: data.load_mnist("val"), ValueError, r"split must be one of 'train', 'test', 'all', got 'val'"),
    (lambda: data.load_mnist(n_per_class=-3), ValueError, r"n_per_class must be an integer >= 1, got -3"),
    (lambda: data.load_mnist(dtype=torch.bool), ValueError, r"torch\.uint8 \(0-255\) or a float dtype"),
    (lambda: data.load_digits("validation"), ValueError, r"split must be one of 'all', 'train', 'test'"),
    (lambda: data.load_photo("lena"), ValueError, r"photo must be one of \('astronaut', 'chelsea', 'coffee'\)"),
    (lambda: data.load_photo("coffee", dtype=torch.int64), ValueError, r"float dtype \(0-1\).*use torch\.uint8"),
    (lambda: data.data_file(3), TypeError, r"data file name must be a string such as 'images/mnist_5k\.csv\.gz'"),
])
def test_bad_loader_arguments_are_explained_before_any_work(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("labels,k,error,match", [
    (torch.arange(10).repeat(3), 0, ValueError, r"k \(examples per class\) must be an integer >= 1, got 0"),
    (torch.arange(10).repeat(3), 2.5, TypeError, r"k \(examples per class\) must be an integer >= 1.*k=10"),
    (torch.arange(10).repeat(3), True, TypeError, r"must be an integer >= 1, got True"),
    (torch.arange(10).repeat(3), 4, ValueError, r"class 0 has only 3 examples, cannot take k=4.*use k <= 3"),
    (torch.arange(10).repeat(3).float(), 2, TypeError, r"integer class indices 0, 1, 2, \.\.\., got dtype torch\.float32.*labels\.long\(\)"),
    (torch.arange(30).view(3, 10), 1, ValueError, r"labels must be 1-D \(N,\), got shape \(3, 10\).*flatten"),
    (torch.zeros(0, dtype=torch.long), 1, ValueError, r"labels is empty.*pass the labels"),
    (["a", "b"], 1, TypeError, r"labels must be a tensor of class indices \(N,\)"),
])
def test_per_class_indices_explains_bad_labels_and_k(labels, k, error, match):
    with pytest.raises(error, match=match):
        data.per_class_indices(labels, k)


def test_per_class_indices_takes_lists_and_arrays():
    labels = [0, 1, 2] * 4
    idx = data.per_class_indices(labels, 2, seed=3)
    assert torch.bincount(torch.tensor(labels)[idx]).tolist() == [2, 2, 2]
    assert torch.equal(idx, data.per_class_indices(np.array(labels), 2, seed=3))
