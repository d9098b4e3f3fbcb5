"""Mask explorer (notebook 05): corrupted input and a trained autoencoder's reconstruction."""
from __future__ import annotations

import torch

from ..batches import as_float_images
from ..utils import check_number
from .common import png_of_images

CORRUPTIONS = ("masked", "noise", "dropout")
LEVELS = {"masked": ("mask ratio", dict(low=0, high=1, high_open=True)),   # what `level` means, its range
          "noise": ("noise std", dict(low=0)),
          "dropout": ("drop probability", dict(low=0, high=1))}


def _check_kind(kind) -> None:
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")


def _check_model(model) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an autoencoder (a torch.nn.Module mapping images to images, e.g. "
                        f"ConvAutoencoder()), got {type(model).__name__}")


def corruption_preview(model: torch.nn.Module, images: torch.Tensor, kind: str = "masked",
                       level: float = 0.5, patch_size: int = 4, seed: int = 0) -> dict:
    """Corrupt ``images`` and reconstruct them with ``model`` (eval mode, no grad, on its device).

    Args:
        model: an autoencoder, (N, C, H, W) -> (N, C, H, W) in [0, 1].
        images: (N, C, H, W) float images in [0, 1] (or uint8).
        kind: ``"masked"`` (``level`` = mask ratio in [0, 1)), ``"noise"`` (``level`` = noise std
            >= 0) or ``"dropout"`` (``level`` = pixel drop probability in [0, 1]).
        patch_size: side of a masked patch.
        seed: seed of the corruption (an integer >= 0).

    Returns:
        ``{"x": clean, "x_in": corrupted, "x_hat": reconstruction}`` (each (N, C, H, W), CPU),
        ``"mse"``: mean squared error of the reconstruction against the clean images and
        ``"mse_hidden"``: the same over masked pixels only (``None`` unless ``kind="masked"``).
    """
    from ..autoencoder import masked_mse, reconstruct
    from ..corruption import Corruption

    _check_model(model)
    _check_kind(kind)
    meaning, bounds = LEVELS[kind]
    check_number(level, "level", **bounds, hint=f"for kind={kind!r} it is the {meaning}")
    seed = check_number(seed, "seed", low=0, integer=True)
    levels = {"masked": dict(mask_ratio=level), "noise": dict(noise_std=level), "dropout": dict(drop_p=level)}
    x = as_float_images(images, "corruption_preview").float().cpu()
    g = torch.Generator().manual_seed(seed)
    x_c, mask = Corruption(patch_size=patch_size, generator=g, **levels[kind]).with_mask(x)
    param = next(model.parameters(), None)
    device = param.device if param is not None else "cpu"
    _, x_hat = reconstruct(model, x_c, batch_size=len(x_c), device=device)     # (N, C, H, W)
    hidden = masked_mse(x_hat, x, mask).item() if kind == "masked" and mask.sum() > 0 else None
    return {"x": x, "x_in": x_c, "x_hat": x_hat, "mse": ((x_hat - x) ** 2).mean().item(),
            "mse_hidden": hidden}


class MaskExplorer:
    """Slide the mask ratio (or noise level) and see the corrupted input and the reconstruction.

    Each column of the picture is one image: clean on top, corrupted in the middle, the model's
    reconstruction below.

    Args:
        models: an autoencoder, or ``{"name": autoencoder}`` to choose from with a dropdown.
        images: (N, C, H, W) images (a few, e.g. 8) in [0, 1] or uint8.
        kind: the first corruption shown: ``"masked"``, ``"noise"`` or ``"dropout"``.
        patch_size: side of a masked patch.
    """

    def __init__(self, models, images: torch.Tensor, kind: str = "masked", patch_size: int = 4):
        import ipywidgets as W

        self.models = models if isinstance(models, dict) else {"model": models}
        if not self.models:
            raise ValueError("MaskExplorer needs at least one model: an autoencoder or {'name': autoencoder}")
        for model in self.models.values():
            _check_model(model)
        _check_kind(kind)
        check_number(patch_size, "patch_size", low=1, integer=True, hint="the side of a patch in pixels, e.g. 4")
        images = as_float_images(images, "MaskExplorer images")   # fail now, not at the first redraw
        self.images, self.patch_size, self.seed = images, patch_size, 0
        self.model = W.Dropdown(options=list(self.models), description="model")
        self.kind = W.Dropdown(options=CORRUPTIONS, value=kind, description="corruption")
        self.level = W.FloatSlider(value=0.5, min=0.0, max=0.95, step=0.05, description="ratio / std",
                                   continuous_update=False)
        self.resample = W.Button(description="new mask", icon="refresh")
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        for control in (self.model, self.kind, self.level):
            control.observe(lambda _: self.redraw(), names="value")
        self.resample.on_click(lambda _: self.new_sample())
        self.widget = W.VBox([W.HBox([self.model, self.kind]), W.HBox([self.level, self.resample]),
                              self.readout, self.picture])
        self.redraw()

    def new_sample(self) -> None:
        self.seed += 1
        self.redraw()

    def redraw(self) -> None:
        self.result = r = corruption_preview(self.models[self.model.value], self.images, self.kind.value,
                                             self.level.value, self.patch_size, self.seed)
        grid = torch.cat([r["x"], r["x_in"], r["x_hat"]])                      # (3N, C, H, W)
        self.picture.value = png_of_images(grid, ncols=len(r["x"]), scale=max(1, 96 // grid.shape[-1]))
        hidden = "" if r["mse_hidden"] is None else f" &nbsp; on hidden pixels {r['mse_hidden']:.4f}"
        self.readout.value = (f"rows: clean / {self.kind.value} ({self.level.value:.2f}) / reconstruction"
                              f" &nbsp; <b>MSE {r['mse']:.4f}</b>{hidden}")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
