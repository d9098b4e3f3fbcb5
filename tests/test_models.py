import pytest
import torch

from sslteach.models import ConvEncoder, ProjectionHead, ResNet18Encoder, build_encoder


@pytest.mark.parametrize("channels,size,downsample,sides", [(3, 32, "stride", [16, 8, 4, 2]),
                                                            (1, 28, "stride", [14, 7, 4, 2]),
                                                            (3, 32, "pool", [16, 8, 4, 2]),
                                                            (1, 28, "pool", [14, 7, 3, 1])])
def test_conv_encoder_shapes_and_blocks(channels, size, downsample, sides):
    enc = ConvEncoder(in_channels=channels, downsample=downsample)
    x = torch.rand(4, channels, size, size)
    h = enc(x)
    assert h.shape == (4, enc.feature_dim) == (4, 256)
    maps = enc.forward_blocks(x)
    assert [m.shape[1] for m in maps] == list(enc.block_dims)
    assert [m.shape[-1] for m in maps] == sides
    for i, dim in enumerate(enc.block_dims):
        assert enc(x, block=i).shape == (4, dim)
    enc.eval()
    assert torch.allclose(enc(x, block=-1), enc(x))
    assert len(enc.forward_blocks(x, upto=1)) == 2


def test_encoder_rejects_bad_input():
    enc = ConvEncoder()
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        enc(torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="x.float\\(\\) / 255"):
        enc(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="block must be in 0..3"):
        enc(torch.rand(2, 3, 32, 32), block=4)


def test_pool_encoder_convolves_at_full_resolution_then_pools():
    enc = ConvEncoder(widths=(8, 16), depth=2, downsample="pool")
    assert isinstance(enc.stem, torch.nn.Identity)
    first = enc.blocks[0]
    assert [m[0].stride for m in first[:2]] == [(1, 1), (1, 1)] and isinstance(first[2], torch.nn.MaxPool2d)
    assert first[0][0].in_channels == 3
    clone = build_encoder(**enc.config)
    clone.load_state_dict(enc.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(clone.eval()(x), enc.eval()(x))
    with pytest.raises(ValueError, match="'stride' or 'pool'"):
        ConvEncoder(downsample="avg")


def test_build_encoder_round_trips_config():
    enc = ConvEncoder(widths=(8, 16), depth=1, stem_width=8)
    clone = build_encoder(**enc.config)
    assert clone.block_dims == (8, 16)
    clone.load_state_dict(enc.state_dict())  # same architecture -> same keys and shapes
    with pytest.raises(ValueError, match="'conv' or 'resnet18'"):
        build_encoder("vit")


def test_channels_last_matches_nchw_and_survives_loading():
    torch.manual_seed(0)
    enc = ConvEncoder()
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in enc.parameters() if p.ndim == 4)
    x = torch.rand(8, 3, 32, 32)
    nchw = ConvEncoder()
    nchw.memory_format = torch.contiguous_format
    nchw.load_state_dict(enc.state_dict())
    nchw.to(memory_format=torch.contiguous_format)
    enc.eval(), nchw.eval()
    maps = enc.forward_blocks(x)
    assert maps[0].is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(enc(x), nchw(x), rtol=1e-4, atol=1e-5)
    again = ConvEncoder()                    # loading keeps the layout of the new encoder's weights
    again.load_state_dict(nchw.state_dict())
    assert again.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(again.eval()(x), enc(x))


def test_grid_pooling_keeps_where_things_are():
    torch.manual_seed(0)
    enc = ConvEncoder().eval()
    x = torch.rand(4, 3, 32, 32)
    fmap = enc.forward_blocks(x, upto=1)[-1]                     # (4, 64, 8, 8)
    torch.testing.assert_close(enc(x, block=1, grid=1), fmap.mean(dim=(2, 3)))
    pooled = enc(x, block=1, grid=2)                             # (4, 64 * 2 * 2)
    assert pooled.shape == (4, 256)
    torch.testing.assert_close(pooled.view(4, 64, 2, 2)[..., 0, 1], fmap[..., :4, 4:].mean(dim=(2, 3)))
    for bad, error in ((0, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="grid must be an integer >= 1"):
            enc(x, grid=bad)
    with pytest.raises(ValueError, match="finer than"):
        enc(x, grid=4)                                           # the last map is 2x2


def test_resnet18_cifar_stem():
    enc = ResNet18Encoder()
    x = torch.rand(2, 3, 32, 32)
    assert enc(x).shape == (2, 512)
    assert [m.shape[-1] for m in enc.forward_blocks(x)] == [32, 16, 8, 4]  # no early down-sampling


def test_projection_head():
    head = ProjectionHead(256, 512, 128)
    assert head(torch.randn(5, 256)).shape == (5, 128)
    assert ProjectionHead(16, num_layers=1)(torch.randn(2, 16)).shape == (2, 128)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_encoder_on_cuda():
    enc = ConvEncoder().to("cuda")
    assert enc(torch.rand(2, 3, 32, 32, device="cuda")).device.type == "cuda"
