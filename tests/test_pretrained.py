import pytest
import torch

from sslteach import data, pretrained
from sslteach.data import DataError
from sslteach.models import ConvEncoder
from sslteach.pretrained import load_encoder, pretrained_encoder, shipped_encoder
from sslteach.recipes import recipe_for
from sslteach.checkpoint import CheckpointError, checksum_path, save_checkpoint

TINY = dict(encoder=dict(name="conv", widths=(8, 16), stem_width=8), n_per_class=2, batch_size=8, epochs=1)


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTEACH_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("SSLTEACH_QUICK", "0")


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


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
    path = pretrained.pretrain("rotation", progress=False, **TINY).save(tmp_path / "rot.pt")
    with pytest.raises(CheckpointError, match=r"recipe epochs: expected 2, found 1.*Delete the file"):
        pretrained_encoder("rotation", path=path, **{**TINY, "epochs": 2})
    with pytest.raises(CheckpointError, match=r"config: expected .*'widths': \(32, 64, 128, 256\)"):
        pretrained_encoder("rotation", path=path)  # the classroom recipe: another architecture
    with pytest.raises(CheckpointError, match="method: expected 'autoencoder', found 'rotation'"):
        pretrained_encoder("autoencoder", path=path, **TINY)
    # a file without a recorded method and recipe cannot be checked: it is refused, with the way out
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, encoder := ConvEncoder(), config=encoder.config, metrics={"epochs": 5})
    with pytest.raises(CheckpointError, match=r"records no method and recipe.*load_encoder"):
        pretrained_encoder("rotation", path=bare, train_if_missing=False)
    assert same_weights(load_encoder(bare), encoder)


def test_sha_mismatch_and_missing_file(tmp_path):
    path = pretrained.pretrain("rotation", progress=False, **TINY).save(tmp_path / "rot.pt")
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1  # one flipped bit
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r"corrupt or was changed: its sha256 is .*Delete both files"):
        pretrained_encoder("rotation", path=path, **TINY)
    with pytest.raises(FileNotFoundError, match="no pre-trained rotation encoder at .*train_if_missing=True"):
        pretrained_encoder("rotation", path=tmp_path / "none.pt", train_if_missing=False)


def test_quick_mode_prefers_a_fitting_classroom_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    fake = {}

    def fake_run(quick, **overrides):  # a run with the recipe's record, without training
        recipe = recipe_for("rotation", quick=quick, **overrides)
        enc = ConvEncoder()
        fake[quick] = enc
        return pretrained.PretrainRun(enc, enc, None, dict(method="rotation", recipe=recipe, seed=0, quick=quick))

    fake_run(False).save()
    assert (folder / "rotnet_encoder.pt").is_file()
    assert same_weights(pretrained_encoder("rotation", quick=True, train_if_missing=False), fake[False])
    fake_run(False, epochs=2).save(folder / "rotnet_encoder.pt")  # the classroom file no longer fits
    fake_run(True).save()                                          # rotnet_encoder_quick.pt is used
    assert same_weights(pretrained_encoder("rotation", quick=True, train_if_missing=False), fake[True])


def test_run_save_default_path_only_for_the_recipe(tmp_path):
    run = pretrained.pretrain("rotation", progress=False, **TINY)
    with pytest.raises(ValueError, match=r"changed the recipe \(encoder=.*pass a path"):
        run.save()
    assert run.save(tmp_path / "mine.pt").is_file()


def test_initial_encoder_is_where_pretrain_starts(monkeypatch):
    start = {}
    real_fit = pretrained.fit

    def spy(model, *args, **kwargs):
        start.update({k: v.clone() for k, v in model.encoder.state_dict().items()})
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(pretrained, "fit", spy)
    pretrained.pretrain("rotation", progress=False, seed=3, **TINY)
    initial = pretrained.initial_encoder("rotation", seed=3, **TINY)
    assert all(torch.equal(initial.state_dict()[k], v) for k, v in start.items())


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


def test_accumulate_splits_the_recipes_batch_and_keeps_the_step_count():
    run = pretrained.pretrain("rotation", quick=True, n_per_class=4, batch_size=20, accumulate=2,
                              progress=False)                                           # 40 images: 2 steps of 20
    assert run.info["accumulate"] == 2 and len(run.history.step["loss"]) == 4             # 4 batches of 10
    assert run.history["lr"][-1] == pytest.approx(0.0, abs=1e-12)                         # the schedule ran to its end
    with pytest.raises(ValueError, match="accumulate=3 must divide the batch of 20 images.*e.g. accumulate=2"):
        pretrained.pretrain("rotation", quick=True, batch_size=20, accumulate=3, progress=False)


def test_pretrain_takes_other_unlabelled_images_of_any_square_size():
    x = data.load_cifar10("train", n_per_class=2).images                                 # (20, 3, 32, 32)
    big = torch.nn.functional.interpolate(x.float(), size=48).round().to(torch.uint8)      # (20, 3, 48, 48)
    run = pretrained.pretrain("simclr", quick=True, n_per_class=None, batch_size=10, images=big, progress=False)
    assert len(run.history.step["loss"]) == 2 and run.encoder(big[:2].float() / 255).shape == (2, 256)
    with pytest.raises(ValueError, match="n_per_class=50 picks images per class"):
        pretrained.pretrain("simclr", quick=True, images=big, progress=False)
    with pytest.raises(TypeError, match="images must be uint8 images"):
        pretrained.pretrain("simclr", quick=True, n_per_class=None, images=big.float(), progress=False)
    with pytest.raises(ValueError, match="must be square"):
        pretrained.pretrain("simclr", quick=True, n_per_class=None, images=big[..., :40], progress=False)
