import pytest
import torch

from sslteach.batches import TensorLoader
from sslteach.recipes import METHODS, RECIPES, build_method, checkpoint_name, recipe_for
from sslteach.train import fit

TINY = dict(encoder=dict(name="conv", widths=(8, 16), stem_width=8), batch_size=8)


def test_recipes_and_names():
    assert set(RECIPES) == set(METHODS)
    assert RECIPES["rotation"]["k"] == 4 and RECIPES["autoencoder"]["kind"] == "masked"
    assert checkpoint_name("rotation") == "rotnet_encoder.pt"
    assert checkpoint_name("autoencoder", recipe_for("autoencoder", kind="plain")) == "ae_plain_encoder.pt"
    assert checkpoint_name("simclr", quick=True) == "simclr_encoder_quick.pt"
    assert recipe_for("rotation", quick=True)["epochs"] == 1
    with pytest.raises(ValueError, match="'rotation' has no setting temperature; its settings are"):
        recipe_for("rotation", temperature=0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        recipe_for("dino")


@pytest.mark.parametrize("method", ["moco", "byol", "simsiam", "barlow"])
def test_the_siamese_methods_build_and_train_through_fit(method):
    torch.manual_seed(0)
    overrides = dict(queue_size=16) if method == "moco" else {}
    model, step, encoder = build_method(method, recipe_for(method, **TINY, **overrides))
    images = (torch.rand(16, 3, 32, 32) * 255).to(torch.uint8)
    history = fit(model, step, TensorLoader(images, batch_size=8, drop_last=True),
                  torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3),
                  epochs=1, device="cpu", progress=False)
    assert len(history.step["loss"]) == 2 and all(torch.isfinite(torch.tensor(history.step["loss"])))
    assert encoder is getattr(model, "encoder")


def test_the_collapse_switches_reach_the_model():
    model, _, _ = build_method("simsiam", recipe_for("simsiam", **TINY, predictor=False, stop_gradient=False))
    assert isinstance(model.predictor, torch.nn.Identity) and model.stop_gradient is False
    byol, _, _ = build_method("byol", recipe_for("byol", **TINY))
    assert byol.momentum == 0.99 and hasattr(byol, "target_encoder")
