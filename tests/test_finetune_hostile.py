"""Hostile inputs to sslteach.finetune: each bad call fails, before any training, with a message that
says what to do, or the case is handled correctly (uint8 and float images train alike). CPU only;
at most two steps of a tiny encoder on 8x8 images."""
import pytest
import torch

from sslteach.finetune import (Classifier, classifier_accuracy, fine_tune, light_augment, make_optimizer,
                               train_from_scratch)
from sslteach.models import ConvEncoder


def tiny_encoder(in_channels=3):
    torch.manual_seed(0)
    return ConvEncoder(in_channels=in_channels, widths=(8, 8), stem_width=4)


def images(n=6, seed=0):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


LABELS = torch.tensor([0, 1, 2, 0, 1, 2])


def tune(**kwargs):
    args = {"encoder": tiny_encoder(), "images": images(), "labels": LABELS, "steps": 1, "batch_size": 3,
            "device": "cpu", **kwargs}
    return fine_tune(args.pop("encoder"), args.pop("images"), args.pop("labels"), **args)


def nan_images():
    x = images()
    x[2, 1, 3, 3] = float("nan")
    return x


# ---- fine_tune ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    # a batch of one cannot train the head's BatchNorm
    (dict(batch_size=1), ValueError, "batch_size must be an integer >= 2.*BatchNorm needs at least 2 images"),
    (dict(images=images(1), labels=LABELS[:1]), ValueError, "at least 2 labelled images.*BatchNorm"),
    (dict(num_classes=2), ValueError, r"labels go up to 2 but num_classes=2: use num_classes >= 3"),
    (dict(num_classes=1), ValueError, r"num_classes must be an integer >= 2"),
    (dict(num_classes=True), TypeError, "num_classes must be an integer"),
    (dict(labels=torch.zeros(6, dtype=torch.long)), ValueError, "single class.*num_classes=\\.\\.\\."),
    (dict(images=nan_images()), ValueError, r"1 NaN.*torch\.nan_to_num"),
    (dict(images=images() * 255), ValueError, r"divide 0-255 images by 255"),
    (dict(images=(images() * 255).long()), TypeError, r"uint8 \(0-255\) or float \(0-1\).*x\.float\(\) / 255"),
    (dict(images=images()[0]), ValueError, r"add a batch dimension"),
    (dict(images=images().numpy()), TypeError, r"torch\.as_tensor"),
    (dict(images=images()[:, :1]), ValueError, r"takes 3-channel images, got 1-channel.*in_channels=1"),
    (dict(steps=0), ValueError, "steps must be an integer >= 1"),
    (dict(steps=True), TypeError, "steps must be an integer"),
    (dict(steps=None, epochs=0), ValueError, "epochs must be an integer >= 1.*passes over"),
    (dict(epochs=2), ValueError, "give steps or epochs, not both"),
    (dict(labels=LABELS.float()), TypeError, r"integer class indices.*labels\.long\(\)"),
    (dict(labels=LABELS - 1), ValueError, "renumber the classes from 0"),
    (dict(labels=LABELS[:5]), ValueError, "one label per image, got 6 images and 5 labels"),
    (dict(lr_head=0), ValueError, "lr_head must be a number > 0"),
    (dict(lr_backbone=-1e-3), ValueError, "lr_backbone must be a number >= 0.*0 freezes the encoder"),
    (dict(lr_backbone=True), TypeError, "lr_backbone must be a number"),
    (dict(weight_decay=float("nan")), ValueError, "weight_decay must be a number >= 0"),
    (dict(freeze_blocks=True), TypeError, "freeze_blocks must be an integer"),
    (dict(freeze_blocks=3), ValueError, "freeze_blocks must be an integer >= 0 and <= 2.*2 freezes the whole"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(augment="heavy"), ValueError, r'augment must be "light", None or a callable'),
    (dict(augment=3), TypeError, r'augment must be "light", None or a callable'),
    (dict(augment=lambda x: (x, x)), TypeError, r"one-view augmentation such as light_augment\(\), not TwoViews"),
    (dict(encoder=torch.nn.Linear(3, 3)), TypeError, "Classifier needs an sslteach Encoder"),
])
def test_fine_tune_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        tune(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_fine_tune_on_an_absent_device_says_so():
    with pytest.raises(ValueError, match="no CUDA GPU here.*use device='cpu'"):
        tune(device="cuda")


def test_uint8_and_float_images_train_alike():
    x8 = (images() * 255).to(torch.uint8)
    _, h8 = tune(images=x8, steps=2, augment=None)
    _, hf = tune(images=x8.float() / 255, steps=2, augment=None)
    assert h8.step["loss"] == pytest.approx(hf.step["loss"], rel=1e-5)


def test_num_classes_may_exceed_the_labels_present():
    model, _ = tune(labels=torch.tensor([0, 1, 0, 1, 0, 1]), num_classes=5)
    assert model.head[-1].out_features == 5


def test_batch_size_above_n_is_capped():
    _, history = tune(batch_size=64, steps=2)
    assert len(history.step["loss"]) == 2


# ---- train_from_scratch, Classifier, make_optimizer, light_augment -----------------------------------

SMALL = {"name": "conv", "widths": (8, 8), "stem_width": 4}


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(lr_head=1e-3), TypeError, r"one learning rate: pass lr=\.\.\., not lr_head"),
    (dict(lr=0), ValueError, "lr must be a number > 0"),
    (dict(seed=True), TypeError, "seed must be an integer"),
    (dict(encoder_config="conv"), TypeError, r"encoder_config must be a dict such as encoder\.config"),
    (dict(steps=0), ValueError, "steps must be an integer >= 1"),
    (dict(num_classes=2), ValueError, "use num_classes >= 3"),
    (dict(images=nan_images()), ValueError, "NaN"),
])
def test_train_from_scratch_refuses_bad_arguments(kwargs, error, match):
    args = {"images": images(), "labels": LABELS, "encoder_config": SMALL, "steps": 1, "batch_size": 3,
            "device": "cpu", **kwargs}
    with pytest.raises(error, match=match):
        train_from_scratch(args.pop("images"), args.pop("labels"), **args)


def test_classifier_and_optimizer_refuse_bad_arguments():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2.*one output per class"):
        Classifier(tiny_encoder(), num_classes=0)
    with pytest.raises(TypeError, match=r"model must be a Classifier\(encoder, num_classes\)"):
        make_optimizer(tiny_encoder(), 1e-3, 1e-3)
    with pytest.raises(ValueError, match="lr_head must be a number > 0"):
        make_optimizer(Classifier(tiny_encoder(), 3), lr_head=-1, lr_backbone=0)
    with pytest.raises(TypeError, match="size must be an integer"):
        light_augment(size=32.0)


# ---- classifier_accuracy --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    return Classifier(tiny_encoder(), num_classes=3).eval()


@pytest.mark.parametrize("x,y,kwargs,error,match", [
    (images()[:0], LABELS[:0], {}, ValueError, "the test set is empty.*at least one image"),  # was ZeroDivisionError
    (images(), LABELS + 1, {}, ValueError, r"labels go up to 3 but the model has 3 outputs.*num_classes=4"),
    (images(), LABELS.float(), {}, TypeError, r"labels\.long\(\)"),
    (images(), LABELS[:4], {}, ValueError, "6 images and 4 labels"),
    (images(), LABELS, {"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
    (images() * 255, LABELS, {}, ValueError, "divide 0-255 images by 255"),
    (images().tolist(), LABELS, {}, TypeError, r"torch\.as_tensor"),
])
def test_classifier_accuracy_refuses_bad_inputs(model, x, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        classifier_accuracy(model, x, y, device="cpu", **kwargs)


def test_classifier_accuracy_of_a_diverged_model_is_refused():
    broken = Classifier(tiny_encoder(), num_classes=3).eval()
    with torch.no_grad():
        broken.head[-1].bias[0] = float("nan")
    with pytest.raises(ValueError, match="model's outputs holds .*NaN.*diverged"):
        classifier_accuracy(broken, images(), LABELS, device="cpu")


def test_classifier_accuracy_of_one_image(model):
    assert classifier_accuracy(model, images(1), LABELS[:1], device="cpu") in (0.0, 1.0)
