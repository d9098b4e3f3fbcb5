"""Hostile inputs to sslteach.online: bad arguments, and a server that never answers."""
import socket

import pytest

from sslteach import online
from sslteach.data import DataError


# ---- regression: a server that accepts the connection and never answers blocked forever ----
@pytest.fixture
def silent_server(monkeypatch):
    """A local socket that completes the TCP handshake (the kernel's backlog does it) and never
    answers; no proxy, so nothing leaves 127.0.0.1."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("name,cls", [("cifar10", "CIFAR10"), ("stl10", "STL10")])
def test_a_download_that_never_answers_times_out_with_a_data_error(tmp_path, monkeypatch, silent_server, name, cls):
    import torchvision

    monkeypatch.setattr(getattr(torchvision.datasets, cls), "url", f"{silent_server}/{name}.tar.gz")
    before = socket.getdefaulttimeout()
    with pytest.raises(DataError, match=r"timed out: the server did not answer within 0.3 s.*raise timeout=.*"
                                        r"shipped subsets instead, which need no network"):
        online.load_torchvision(name, root=tmp_path, timeout=0.3)
    assert socket.getdefaulttimeout() == before                     # the process-wide default is restored


@pytest.mark.parametrize("call,error,match", [
    (lambda: online.load_torchvision("imagenet"), ValueError, r"name must be 'cifar10' or 'stl10'"),
    (lambda: online.load_torchvision("cifar10", split="validation"), ValueError, r"split must be one of 'train', 'test'"),
    (lambda: online.load_torchvision("cifar10", timeout=0), ValueError, r"timeout must be a number > 0.*seconds"),
    (lambda: online.load_torchvision("cifar10", dtype="uint8"), TypeError, r"dtype must be a torch dtype"),
])
def test_bad_arguments_are_explained_before_any_download(call, error, match):
    with pytest.raises(error, match=match):
        call()
