import pytest
import torch

from sslteach.finetune import Classifier, classifier_accuracy, fine_tune, make_optimizer, train_from_scratch
from sslteach.models import ConvEncoder, build_encoder


def tiny_encoder(seed=0):
    torch.manual_seed(seed)  # a fixed random init: the accuracy thresholds below hold for it every run
    return ConvEncoder(widths=(8, 16, 16), stem_width=8)


def colour_images(n_per_class=12, size=16, seed=0):
    """3 classes told apart by their dominant colour, with noise: learnable in a few steps."""
    y = torch.arange(3).repeat_interleave(n_per_class)
    noise = torch.rand(len(y), 3, size, size, generator=torch.Generator().manual_seed(seed))
    return (0.6 * torch.eye(3)[y].view(-1, 3, 1, 1) + 0.4 * noise).clamp(0, 1), y


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("freeze", [1, 2])
def test_freezing_freezes_weights_and_batchnorm_statistics(freeze):
    x, y = colour_images()
    torch.manual_seed(0)
    encoder = tiny_encoder()
    stem, blocks = snapshot(encoder.stem), [snapshot(b) for b in encoder.blocks]
    model, _ = fine_tune(encoder, x, y, steps=3, batch_size=12, freeze_blocks=freeze, device="cpu")
    frozen = [encoder.stem, *encoder.blocks[:freeze]]
    assert model.frozen_modules() == frozen
    for module, before in zip(frozen, [stem, *blocks[:freeze]]):
        for k, v in module.state_dict().items():  # weights AND BatchNorm running mean/var/count
            assert torch.equal(v, before[k]), k
        assert not any(p.requires_grad for p in module.parameters())
    for block, before in zip(encoder.blocks[freeze:], blocks[freeze:]):  # the rest did train
        assert not torch.equal(block[0][0].weight, before["0.0.weight"])
        assert not torch.equal(block[0][1].running_mean, before["0.1.running_mean"])
    model.train()  # fit calls this every epoch: frozen parts must stay in eval mode
    assert model.training and not any(m.training for f in frozen for m in f.modules())
    assert all(m.training for m in encoder.blocks[freeze].modules())


def test_lr_backbone_zero_is_a_linear_probe_by_sgd():
    x, y = colour_images()
    encoder = tiny_encoder()
    before = snapshot(encoder)
    # no augmentation and 60 steps: enough for the head's BatchNorm running statistics to settle, so
    # the eval-mode accuracy is > 0.9 for every random init tried (seeds 0-5), not just a lucky one
    model, history = fine_tune(encoder, x, y, steps=60, batch_size=12, lr_backbone=0, lr_head=0.05,
                               augment=None, device="cpu")
    assert model.freeze_blocks == len(encoder.blocks)
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
    assert set(history.step["lr_backbone"]) == {0.0}
    assert classifier_accuracy(model, x, y, device="cpu") > 0.9  # colours are linearly separable


def test_learning_rate_of_each_group():
    model = Classifier(tiny_encoder(), num_classes=3, freeze_blocks=1)
    opt = make_optimizer(model, lr_head=0.1, lr_backbone=0.01, weight_decay=0.0)
    head, backbone = opt.param_groups
    assert (head["name"], head["lr"], backbone["name"], backbone["lr"]) == ("head", 0.1, "backbone", 0.01)
    assert {id(p) for p in head["params"]} == {id(p) for p in model.head.parameters()}
    trainable = {id(p) for p in model.encoder.parameters() if p.requires_grad}
    assert {id(p) for p in backbone["params"]} == trainable
    assert not trainable & {id(p) for p in model.encoder.stem.parameters()}  # frozen: in no group
    # through fine_tune: warm-up and cosine scale both groups alike, peaks are the asked values
    x, y = colour_images()
    _, history = fine_tune(tiny_encoder(), x, y, steps=20, batch_size=12, lr_head=0.1, lr_backbone=0.01,
                           device="cpu")
    lr_h, lr_b = torch.tensor(history.step["lr_head"]), torch.tensor(history.step["lr_backbone"])
    assert lr_h.max().item() == pytest.approx(0.1) and lr_b.max().item() == pytest.approx(0.01)
    assert torch.allclose(lr_b, lr_h / 10)
    assert len(history.step["loss"]) == 20  # a fixed number of steps, here 60 images / 12 = 5 epochs
    with pytest.raises(ValueError, match=r"freeze_blocks must be an integer >= 0 and <= 3, got 4; 0 trains everything"):
        Classifier(tiny_encoder(), 3, freeze_blocks=4)


def test_fine_tune_learns_and_from_scratch_uses_the_same_architecture():
    x, y = colour_images()
    encoder = tiny_encoder()
    model, history = fine_tune(encoder, x, y, steps=25, batch_size=12, lr_head=1e-2, lr_backbone=1e-2,
                               device="cpu")
    assert classifier_accuracy(model, x, y, device="cpu") > 0.9
    assert history.step["loss"][-1] < history.step["loss"][0]
    scratch, _ = train_from_scratch(x, y, encoder_config=encoder.config, steps=2, batch_size=12, device="cpu")
    assert scratch.encoder.config == encoder.config
    assert {k: v.shape for k, v in scratch.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    fresh = build_encoder(**encoder.config)  # scratch starts from the set_seed(0) random init
    _, hist0 = train_from_scratch(x, y, encoder_config=encoder.config, steps=1, batch_size=36, lr=1e-9,
                                  augment=None, device="cpu")
    assert hist0.step["loss"][0] == pytest.approx(
        fine_tune(fresh, x, y, steps=1, batch_size=36, lr_head=1e-9, lr_backbone=1e-9, augment=None,
                  device="cpu")[1].step["loss"][0], rel=1e-5)
