"""Hostile inputs to sslteach.batches: bad tensors or sizes for TensorLoader and infer_batches fail
with a message that says what to do. CPU only, tiny tensors."""
import numpy as np
import pytest
import torch
from torch import nn

from sslteach.batches import TensorLoader, infer_batches


# ---- TensorLoader --------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size,error,match", [
    (True, TypeError, r"batch_size must be an integer >= 1, got True \(bool\); examples per batch"),
    (0, ValueError, r"batch_size must be an integer >= 1, got 0; examples per batch, e\.g\. 64"),
    (2.5, TypeError, r"batch_size must be an integer"),
])
def test_tensor_loader_refuses_a_bad_batch_size(batch_size, error, match):
    with pytest.raises(error, match=match):
        TensorLoader(torch.zeros(4, 2), batch_size=batch_size)


def test_tensor_loader_refuses_tensors_of_different_lengths():
    with pytest.raises(ValueError, match=r"same length .*got lengths \[10, 9\]; pass matching rows"):
        TensorLoader(torch.zeros(10, 2), torch.zeros(9))


def test_tensor_loader_refuses_non_tensors():
    with pytest.raises(TypeError, match=r"argument 1 is a list; convert it with torch.as_tensor"):
        TensorLoader(torch.zeros(3, 2), [0, 1, 2])


def test_tensor_loader_refuses_no_examples():
    with pytest.raises(ValueError, match="TensorLoader got 0 examples.*check the selection"):
        TensorLoader(torch.zeros(0, 2))


def test_infer_batches_refuses_bad_images_and_batch_size():
    model = nn.Flatten()
    with pytest.raises(TypeError, match=r"images must be a tensor \(N, C, H, W\), got ndarray; convert with torch"):
        infer_batches(model, np.zeros((2, 1, 4, 4), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"non-empty batch \(N, C, H, W\), got shape \(0, 1, 4, 4\): pass at least one image"):
        infer_batches(model, torch.zeros(0, 1, 4, 4), device="cpu")
    with pytest.raises(ValueError, match=r"add a batch dimension: x.unsqueeze\(0\)"):
        infer_batches(model, torch.zeros(1, 4, 4), device="cpu")
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0; images per forward pass"):
        infer_batches(model, torch.zeros(2, 1, 4, 4), batch_size=0, device="cpu")
    with pytest.raises(TypeError, match="must return a tensor or a tuple of tensors, got list"):
        infer_batches(model, torch.zeros(2, 1, 4, 4), lambda m, x: [m(x)], device="cpu")
