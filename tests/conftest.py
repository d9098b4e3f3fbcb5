import pytest
import torch


@pytest.fixture(autouse=True)
def _fast_torch():
    torch.set_num_threads(2)
    yield
