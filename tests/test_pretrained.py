import pytest
import torch

from sslteach import data, pretrained
from sslteach.data import DataError
from sslteach.models import ConvEncoder
from sslteach.pretrained import (RECIPES, checkpoint_name, load_encoder, pretrained_encoder, recipe_for,
                                 save_pretrained, shipped_encoder)
from sslteach.train import CheckpointError, checksum_path, save_checkpoint

TINY = dict(encoder=dict(name="conv", widths=(8, 16), stem_width=8), n_per_class=2, batch_size=8, epochs=1)


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("SSLTEACH_QUICK", "0")


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_recipes_and_names():
    assert set(RECIPES) == set(pretrained.METHODS)
    assert RECIPES["rotation"]["k"] == 4 and RECIPES["autoencoder"]["kind"] == "masked"
    assert checkpoint_name("rotation") == "rotnet_encoder.pt"
    assert checkpoint_name("autoencoder", recipe_for("autoencoder", kind="plain")) == "ae_plain_encoder.pt"
    assert checkpoint_name("simclr", quick=True) == "simclr_encoder_quick.pt"
    assert recipe_for("rotation", quick=True)["epochs"] == 1
    with pytest.raises(ValueError, match="'rotation' has no setting temperature; its settings are"):
        recipe_for("rotation", temperature=0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        recipe_for("byol")


def test_train_if_missing_then_load_round_trip(tmp_path, monkeypatch):
    encoder = pretrained_encoder("rotation", **TINY)  # trains on 20 images, saves
    path = tmp_path / "checkpoints" / "rotnet_encoder.pt"
    assert path.is_file() and checksum_path(path).is_file() and not encoder.training
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["method"] == "rotation" and ckpt["recipe"] == recipe_for("rotation", **TINY)

    def no_training(*args, **kwargs):
        raise AssertionError("the saved checkpoint should have been loaded, not trained again")

    monkeypatch.setattr(pretrained, "pretrain", no_training)
    state = torch.get_rng_state()
    again = pretrained_encoder("rotation", **TINY)
    assert same_weights(again, encoder) and again.config == encoder.config
    assert torch.equal(torch.get_rng_state(), state)  # loading leaves the caller's random state alone
    assert same_weights(load_encoder(path), encoder)


def test_mismatched_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "rot.pt"
    encoder, info = pretrained.pretrain("rotation", progress=False, **TINY)
    save_pretrained(path, encoder, info)
    with pytest.raises(CheckpointError, match=r"recipe epochs: expected 2, found 1.*Delete the file"):
        pretrained_encoder("rotation", path=path, **{**TINY, "epochs": 2})
    with pytest.raises(CheckpointError, match=r"config: expected .*'widths': \(32, 64, 128, 256\)"):
        pretrained_encoder("rotation", path=path)  # the classroom recipe: another architecture
    with pytest.raises(CheckpointError, match="method: expected 'autoencoder', found 'rotation'"):
        pretrained_encoder("autoencoder", path=path, **TINY)
    # a notebook-style checkpoint (config + metrics, no recipe): the epochs in its metrics are checked
    legacy = tmp_path / "legacy.pt"
    save_checkpoint(legacy, ConvEncoder(), config=ConvEncoder().config, metrics={"epochs": 1, "quick": True})
    with pytest.raises(CheckpointError, match=f"epochs: expected {RECIPES['rotation']['epochs']}, found 1"):
        pretrained_encoder("rotation", path=legacy)
    save_checkpoint(legacy, encoder := ConvEncoder(), config=encoder.config, metrics={"epochs": RECIPES["rotation"]["epochs"]})
    assert same_weights(pretrained_encoder("rotation", path=legacy, train_if_missing=False), encoder)


def test_sha_mismatch_and_missing_file(tmp_path):
    path = tmp_path / "rot.pt"
    save_checkpoint(path, encoder := ConvEncoder(), config=encoder.config, metrics={"epochs": RECIPES["rotation"]["epochs"]})
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1  # one flipped bit
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r"corrupt or was changed: its sha256 is .*Delete both files"):
        pretrained_encoder("rotation", path=path)
    with pytest.raises(FileNotFoundError, match="no pre-trained rotation encoder at .*train_if_missing=True"):
        pretrained_encoder("rotation", path=tmp_path / "none.pt", train_if_missing=False)


def test_quick_mode_prefers_a_fitting_classroom_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "rotnet_encoder.pt", classroom := ConvEncoder(), config=classroom.config,
                    metrics={"epochs": RECIPES["rotation"]["epochs"]})
    assert same_weights(pretrained_encoder("rotation", quick=True, train_if_missing=False), classroom)
    save_checkpoint(folder / "rotnet_encoder.pt", ConvEncoder(), config=classroom.config, metrics={"epochs": 2})
    save_checkpoint(folder / "rotnet_encoder_quick.pt", quick := ConvEncoder(), config=quick.config,
                    metrics={"epochs": 1})  # the classroom file does not fit: the quick one is used
    assert same_weights(pretrained_encoder("rotation", quick=True, train_if_missing=False), quick)


def test_shipped_encoder_is_checked_by_the_data_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_DATA", str(tmp_path))
    file = tmp_path / pretrained.SHIPPED
    monkeypatch.delitem(data.SHA256, pretrained.SHIPPED, raising=False)
    with pytest.raises(DataError, match=f"data/{pretrained.SHIPPED} is not shipped"):
        shipped_encoder()
    file.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(file, encoder := ConvEncoder(), config=encoder.config)
    monkeypatch.setitem(data.SHA256, pretrained.SHIPPED, data.sha256sum(file))
    assert same_weights(shipped_encoder(), encoder)
    monkeypatch.setitem(data.SHA256, pretrained.SHIPPED, "0" * 64)
    with pytest.raises(DataError, match=f"{file.name} is corrupt or was changed"):
        shipped_encoder()
    file.unlink()
    with pytest.raises(DataError, match=f"{file.name} is missing"):
        shipped_encoder()
