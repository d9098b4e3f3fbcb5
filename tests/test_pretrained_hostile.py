"""Hostile inputs to sslteach.pretrained: bad recipes and overrides fail before any data is loaded
or any training starts, and broken or foreign checkpoint files are refused with the way out. CPU
only, tiny recipes, checkpoints in tmp_path."""
import pytest
import torch

from sslteach import pretrained
from sslteach.models import ConvEncoder
from sslteach.pretrained import check_checkpoint, initial_encoder, load_encoder, pretrain, pretrained_encoder
from sslteach.recipes import recipe_for
from sslteach.checkpoint import CheckpointError, save_checkpoint

TINY = dict(encoder=dict(name="conv", widths=(8, 16), stem_width=8), n_per_class=2, batch_size=8, epochs=1)


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("SSLTEACH_QUICK", "0")


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if data is loaded or training starts: the error must come before."""
    def refuse(*args, **kwargs):
        raise AssertionError("the bad argument should have been refused before loading data or training")

    monkeypatch.setattr(pretrained, "load_cifar10", refuse)
    monkeypatch.setattr(pretrained, "fit", refuse)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
    (dict(epochs="3"), TypeError, "epochs must be an integer"),
    (dict(lr=-1), ValueError, "lr must be a number > 0"),
    (dict(seed=-1), ValueError, r"seed must be an integer >= 0.*e\.g\. seed=0"),
    (dict(device="gpu"), ValueError, "device must be 'cpu', 'cuda'"),
    (dict(progress="no"), TypeError, "progress must be True or False"),
])
def test_pretrain_refuses_bad_arguments_before_loading_data(no_training, kwargs, error, match):
    with pytest.raises(error, match=match):
        pretrain("rotation", **{**TINY, **kwargs})


def test_pretrain_refuses_a_batch_larger_than_the_data(monkeypatch):
    monkeypatch.setattr(pretrained, "fit", lambda *a, **k: pytest.fail("should not train"))
    with pytest.raises(ValueError, match=r"batch_size=64 is larger than the 20 training images.*batch_size <= 20"):
        pretrain("rotation", **{**TINY, "batch_size": 64})


def test_initial_encoder_checks_its_seed():
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        initial_encoder("rotation", seed=-5, **TINY)


def test_pretrained_encoder_with_a_folder_as_path_fails_before_training(no_training, tmp_path):
    with pytest.raises(CheckpointError, match=r"is a folder; give a file name inside it, e\.g\. .*model\.pt"):
        pretrained_encoder("rotation", path=tmp_path, **TINY)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match=r"file is a file, not a folder"):
        pretrained_encoder("rotation", path=tmp_path / "file" / "rot.pt", **TINY)


def test_pretrained_encoder_refuses_bad_flags(no_training, tmp_path):
    with pytest.raises(TypeError, match="train_if_missing must be True or False, got 'no'"):
        pretrained_encoder("rotation", tmp_path / "r.pt", train_if_missing="no", **TINY)
    with pytest.raises(TypeError, match=r"quick must be True, False or None \(None: \$SSLTEACH_QUICK decides\)"):
        pretrained_encoder("rotation", quick=1, **TINY)
    with pytest.raises(TypeError, match=r"must be a path \(a str or pathlib.Path\)"):
        pretrained_encoder("rotation", path=3, **TINY)


def test_checkpoint_folder_variable_pointing_at_a_file(no_training, tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("SSLTEACH_CHECKPOINTS", str(tmp_path / "f"))
    with pytest.raises(ValueError, match=r"\$SSLTEACH_CHECKPOINTS must be a folder, but .* is a file"):
        pretrained_encoder("rotation", **TINY)


def test_load_encoder_without_config(tmp_path):
    path = save_checkpoint(tmp_path / "bare.pt", ConvEncoder())
    with pytest.raises(CheckpointError, match=r"has no encoder config.*config=encoder\.config\)"):
        load_encoder(path)


def test_load_encoder_with_weights_that_do_not_fit_the_config(tmp_path):
    small = ConvEncoder(widths=(8, 16), stem_width=8)
    path = save_checkpoint(tmp_path / "mixed.pt", ConvEncoder(), config=small.config)
    with pytest.raises(CheckpointError, match="the weights do not fit the encoder its config describes.*train it again"):
        load_encoder(path)


def test_load_encoder_with_a_config_that_builds_nothing(tmp_path):
    path = save_checkpoint(tmp_path / "odd.pt", ConvEncoder(), config={"name": "vit"})
    with pytest.raises(CheckpointError, match=r"config that does not build an encoder \(encoder name must be"):
        load_encoder(path)


def test_load_encoder_on_a_text_file_or_a_folder(tmp_path):
    (tmp_path / "notes.pt").write_text("not weights\n")
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_encoder(tmp_path / "notes.pt")
    with pytest.raises(CheckpointError, match="is a folder, not a file"):
        load_encoder(tmp_path)


def test_check_checkpoint_with_a_foreign_recipe_record(tmp_path):
    enc = ConvEncoder(widths=(8, 16), stem_width=8)
    path = save_checkpoint(tmp_path / "r.pt", enc, config=enc.config, method="rotation", recipe="classroom")
    with pytest.raises(CheckpointError, match=r"records no method and recipe.*load_encoder"):
        check_checkpoint(path, "rotation", recipe_for("rotation", **TINY))
    with pytest.raises(TypeError, match=r"recipe must be a recipe dict, e\.g\. recipe_for\('rotation'\)"):
        check_checkpoint(path, "rotation", "classroom")


def test_a_tiny_run_still_trains_and_round_trips(tmp_path):
    run = pretrain("rotation", progress=False, **TINY)
    path = run.save(tmp_path / "tiny.pt")
    again = load_encoder(path)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), run.encoder.cpu().state_dict().values()))
