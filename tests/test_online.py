import pytest

from sslteach import online
from sslteach.data import DataError


def test_torchvision_download_failure_points_to_subsets(tmp_path, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match=r"internet.*load_cifar10\('train'\)"):
        online.load_torchvision("cifar10", root=tmp_path)
