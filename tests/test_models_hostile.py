"""Hostile input for sslteach.models: bad images, a batch of one in training mode, images too small
for the blocks, bad constructor arguments. Each error must name the problem and the fix; each
awkward but valid input (float64 images, a batch of one in eval mode) must give the right answer."""
import math

import numpy as np
import pytest
import torch

from sslteach.models import ConvEncoder, ProjectionHead, ResNet18Encoder, build_encoder


def small(**kwargs):
    torch.manual_seed(0)
    return ConvEncoder(**{"widths": (8, 16), "stem_width": 8, **kwargs})


def images(n=2, c=3, side=16, seed=0):
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed))


# ---- regression: a batch of one through BatchNorm in training mode ----
def test_projection_head_batch_of_one_in_training_mode_says_why_and_what_to_do():
    head = ProjectionHead(16, 32, 8).train()
    with pytest.raises(ValueError, match=r"training mode, where BatchNorm needs at least 2 examples.*"
                                         r"drop_last=True.*head\.eval\(\)"):
        head(torch.randn(1, 16))
    assert head.eval()(torch.randn(1, 16)).shape == (1, 8)          # inference on one example works
    assert ProjectionHead(16, num_layers=1).train()(torch.randn(1, 16)).shape == (1, 128)  # no BatchNorm


def test_encoder_batch_of_one_in_training_mode_says_why_and_what_to_do():
    enc = ConvEncoder().train()                                      # 8x8 -> 1x1 maps after block 2
    with pytest.raises(ValueError, match=r"ConvEncoder is in training mode, where BatchNorm needs more than one "
                                         r"value per channel.*block 2.*drop_last=True.*encoder\.eval\(\)"):
        enc(torch.rand(1, 3, 8, 8))
    assert enc.eval()(torch.rand(1, 3, 8, 8)).shape == (1, 256)


# ---- regression: float64 images raised a raw dtype mismatch ----
@pytest.mark.parametrize("make", [small, lambda: small(downsample="pool")], ids=["stride", "pool"])
def test_float64_images_give_the_float32_features(make):
    enc = make().eval()
    x = images(n=3)
    h32, h64 = enc(x), enc(x.double())
    assert h64.dtype == torch.float32                                # the weights' dtype
    torch.testing.assert_close(h64, h32, atol=1e-5, rtol=0)
    maps = enc.forward_blocks(x.double())
    assert all(m.dtype == torch.float32 for m in maps)


def test_float64_features_through_the_head_give_the_float32_projections():
    head = ProjectionHead(16, 32, 8).eval()
    h = torch.randn(4, 16)
    torch.testing.assert_close(head(h.double()), head(h), atol=1e-5, rtol=0)


# ---- regression: images too small for the blocks gave a raw traceback ----
def test_pool_encoder_names_the_smallest_image_it_accepts():
    enc = ConvEncoder(downsample="pool")                             # 4 blocks, each max-pools by 2
    assert enc.min_side == 16
    with pytest.raises(ValueError, match=r"at least 16x16 pixels \(each of its 4 blocks halves the size\), got 8x8; "
                                         r"use larger images, or fewer blocks: at most 3 fit 8x8 images.*"
                                         r"fewer widths, or downsample='stride'"):
        enc(torch.rand(2, 3, 8, 8))
    assert ConvEncoder(widths=(8, 8, 8), downsample="pool")(torch.rand(2, 3, 8, 8)).shape == (2, 8)  # exactly fits


def test_stride_encoder_accepts_any_side():
    enc = small()                                                     # 3x3 stride-2 convs: side s -> ceil(s / 2)
    assert enc.min_side == 1
    assert enc(torch.rand(2, 3, 1, 1)).shape == (2, 16)


# ---- bad images ----
@pytest.mark.parametrize("bad,error,match", [
    (torch.full((2, 3, 16, 16), math.nan), ValueError, r"1536 NaN and 0 infinite.*nan_to_num"),
    (images().masked_fill(torch.rand(2, 3, 16, 16) < 0.01, math.inf), ValueError, r"infinite.*nan_to_num"),
    (images() * 255, ValueError, r"expects images in \[0, 1\].*divide 0-255 images by 255"),
    ((images() - 0.5) / 0.25, ValueError, r"\[0, 1\].*do not normalise them \(the encoder does it itself\)"),
    (torch.rand(0, 3, 16, 16), ValueError, r"at least one image.*got shape \(0, 3, 16, 16\)"),
    (torch.rand(3, 16, 16), ValueError, r"\(N, 3, H, W\), got \(3, 16, 16\); .*x\.unsqueeze\(0\)"),
    (torch.rand(2, 16, 16, 3), ValueError, r"\(N, 3, H, W\).*x\.permute\(0, 3, 1, 2\)"),
    (torch.rand(2, 1, 16, 16), ValueError, r"expected images of shape \(N, 3, H, W\), got \(2, 1, 16, 16\)"),
    ((images() * 255).to(torch.uint8), TypeError, r"float images.*x\.float\(\) / 255"),
    (np.zeros((2, 3, 16, 16), np.float32), TypeError, r"tensor of images.*torch\.as_tensor"),
])
def test_bad_images_are_explained(bad, error, match):
    with pytest.raises(error, match=match):
        small()(bad)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(block=True), TypeError, r"block must be an integer.*block index, 0\.\.1"),
    (dict(block=2), ValueError, r"block must be in 0\.\.1.*this encoder has 2 blocks"),
    (dict(grid=0), ValueError, r"grid must be an integer >= 1.*global average"),
    (dict(grid=8), ValueError, r"grid 8 is finer than the \(4, 4\) feature map.*use grid <= 4"),
])
def test_bad_block_and_grid_are_explained(kwargs, error, match):
    with pytest.raises(error, match=match):
        small()(images(), **kwargs)


# ---- bad constructor arguments ----
@pytest.mark.parametrize("make,error,match", [
    (lambda: ConvEncoder(in_channels=2), ValueError, r"in_channels must be 1 \(gray\) or 3 \(RGB\), got 2"),
    (lambda: ConvEncoder(in_channels=3.0), TypeError, r"in_channels must be an integer.*3 for colour"),
    (lambda: ConvEncoder(widths=(32, 0)), ValueError, r"each of widths must be an integer >= 1, got 0"),
    (lambda: ConvEncoder(widths=()), ValueError, r"at least one block, e\.g\. widths=\(32, 64\)"),
    (lambda: ConvEncoder(widths=32), TypeError, r"widths must be a sequence of channel counts.*\(32, 64\)"),
    (lambda: ConvEncoder(depth=0), ValueError, r"depth must be an integer >= 1.*convolutions per block"),
    (lambda: ConvEncoder(depth=1.5), TypeError, r"depth must be an integer >= 1"),
    (lambda: ConvEncoder(stem_width=-8), ValueError, r"stem_width must be an integer >= 1"),
    (lambda: ConvEncoder(std=(0.2, 0.0, 0.2)), ValueError, r"std must be > 0 for every channel"),
    (lambda: ConvEncoder(mean=(0.5,)), ValueError, r"mean needs 3 value\(s\) \(one per channel\), got 1"),
    (lambda: ConvEncoder(mean=(0.5, math.nan, 0.5)), ValueError, r"mean must be a number, got nan"),
    (lambda: ResNet18Encoder(in_channels=4), ValueError, r"in_channels must be 1 \(gray\) or 3 \(RGB\)"),
    (lambda: build_encoder(None), TypeError, r"'conv' or 'resnet18', got NoneType"),
    (lambda: ProjectionHead(0), ValueError, r"in_dim must be an integer >= 1.*encoder\.feature_dim"),
    (lambda: ProjectionHead(16, hidden_dim=0), ValueError, r"hidden_dim must be an integer >= 1.*None for in_dim"),
    (lambda: ProjectionHead(16, out_dim=0), ValueError, r"out_dim must be an integer >= 1.*width of z"),
    (lambda: ProjectionHead(16, num_layers=0), ValueError, r"num_layers must be an integer >= 1.*SimCLR's MLP"),
])
def test_bad_constructor_arguments_are_explained(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("bad,error,match", [
    (torch.randn(4, 8), ValueError, r"features h of shape \(N, 16\), got \(4, 8\).*in_dim=encoder\.feature_dim"),
    (torch.randn(4, 16, 2, 2), ValueError, r"\(N, 16\).*pool or flatten feature maps first"),
    (torch.ones(4, 16, dtype=torch.long), TypeError, r"float features.*h\.float\(\)"),
    (torch.full((4, 16), math.nan), ValueError, r"NaN.*training diverged"),
    (torch.zeros(0, 16), ValueError, r"empty batch.*at least one"),
])
def test_projection_head_explains_bad_features(bad, error, match):
    with pytest.raises(error, match=match):
        ProjectionHead(16, 32, 8).eval()(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_images_on_another_device_are_explained():
    with pytest.raises(ValueError, match=r"images are on cpu but ConvEncoder's weights are on cuda.*x\.to\("):
        small().cuda()(images())
