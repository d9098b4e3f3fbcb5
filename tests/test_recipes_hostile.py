"""Hostile inputs to sslteach.recipes: bad methods, settings and overrides are refused, each with the
setting, what it must be and the recipe's own value, before any data is loaded."""
import pytest

from sslteach.recipes import recipe_for


@pytest.mark.parametrize("override,error,match", [
    (dict(epochs="3"), TypeError, r"epochs must be an integer >= 1, got '3' \(str\); e\.g\. epochs=5, the rotation"),
    (dict(epochs=2.5), TypeError, r"epochs must be an integer >= 1, got 2\.5"),
    (dict(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0; e\.g\. batch_size=128"),
    (dict(batch_size=True), TypeError, r"batch_size must be an integer >= 1, got True \(bool\)"),
    (dict(lr=-1), ValueError, r"lr must be a number > 0, got -1; e\.g\. lr=0\.003"),
    (dict(lr=float("nan")), ValueError, r"lr must be a number > 0, got nan"),
    (dict(n_per_class=0), ValueError, r"n_per_class must be an integer >= 1, got 0; e\.g\. n_per_class=None \(or None\)"),
    (dict(weight_decay=-0.1), ValueError, r"weight_decay must be a number >= 0"),
    (dict(warmup_epochs=1, epochs=1), ValueError, r"warmup_epochs=1 must be less than epochs=1.*e\.g\. warmup_epochs=0\.25"),
    (dict(k=1), ValueError, r"k must be an integer >= 2"),
    (dict(encoder="conv"), TypeError, r"encoder must be an encoder config dict such as \{'name': 'conv'\}"),
])
def test_recipe_overrides_are_checked(override, error, match):
    with pytest.raises(error, match=match):
        recipe_for("rotation", **override)


@pytest.mark.parametrize("method,override,match", [
    ("simclr", dict(temperature=0), r"temperature must be a number > 0, got 0; e\.g\. temperature=0\.2"),
    ("simclr", dict(min_scale=1.5), r"min_scale must be a number > 0 and <= 1"),
    ("simclr", dict(batch_size=1), r"simclr needs batch_size >= 2 \(each image's negatives.*e\.g\. batch_size=128"),
    ("autoencoder", dict(kind="fancy"), r"kind must be one of \('plain', 'denoising', 'masked'\), got 'fancy'"),
    ("autoencoder", dict(mask_ratio=1.0), r"mask_ratio must be a number >= 0 and < 1"),
])
def test_method_settings_are_checked(method, override, match):
    with pytest.raises(ValueError, match=match):
        recipe_for(method, **override)


def test_unknown_method_or_setting():
    with pytest.raises(ValueError, match=r"method must be one of \('simclr', 'rotation', 'autoencoder', 'moco', .*got 'dino'"):
        recipe_for("dino")
    with pytest.raises(ValueError, match=r"method must be one of .*got \['simclr'\]"):
        recipe_for(["simclr"])
    with pytest.raises(ValueError, match="'rotation' has no setting temprature; its settings are"):
        recipe_for("rotation", temprature=0.5)
    with pytest.raises(TypeError, match="quick must be True or False, got 'yes'"):
        recipe_for("rotation", quick="yes")


@pytest.mark.parametrize("method,override,error,match", [
    ("simsiam", dict(momentum=0.99), ValueError, r"with momentum=0\.99 it is BYOL: use pretrain\('byol'"),
    ("byol", dict(momentum=0.0), ValueError, r"with momentum 0 it is SimSiam: use pretrain\('simsiam'"),
    ("simsiam", dict(stop_gradient="no"), TypeError, r"stop_gradient must be True or False, got 'no'"),
    ("moco", dict(queue_size=0), ValueError, r"queue_size must be an integer >= 1, got 0"),
    ("moco", dict(momentum=1.5), ValueError, r"momentum must be a number >= 0 and <= 1, got 1\.5"),
    ("barlow", dict(lambd=0), ValueError, r"lambd must be a number > 0.*\(or None\)"),
    ("byol", dict(batch_size=1), ValueError, r"byol needs batch_size >= 2"),
])
def test_siamese_settings_are_checked(method, override, error, match):
    with pytest.raises(error, match=match):
        recipe_for(method, **override)
