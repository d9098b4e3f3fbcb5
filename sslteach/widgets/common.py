"""PNG helpers shared by the widgets: pictures travel as ``ipywidgets.Image`` values."""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import torch

from ..batches import as_float_images
from ..utils import check_number


def png_of_images(images: torch.Tensor, ncols: int = 8, scale: int = 1) -> bytes:
    """A grid of images (N, C, H, W) (or one (C, H, W)), float in [0, 1] or uint8, as PNG bytes
    (``ncols`` per row, each pixel upscaled to ``scale`` x ``scale`` by nearest neighbour)."""
    from PIL import Image
    from torchvision.utils import make_grid

    if isinstance(images, torch.Tensor) and images.ndim == 3:
        images = images[None]
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"png_of_images expects a tensor of images (N, C, H, W), got {type(images).__name__}; "
                        f"for a list of images use torch.stack(images)")
    images = as_float_images(images, "png_of_images")       # (N, C, H, W) float in [0, 1], checked
    check_number(ncols, "ncols", low=1, integer=True, hint="images per row, e.g. 8")
    check_number(scale, "scale", low=1, integer=True, hint="1 for the images' own size, 3 to triple it")
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=ncols, padding=2, pad_value=1.0)
    img = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_of_figure(fig) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    if not hasattr(fig, "savefig"):
        raise TypeError(f"png_of_figure expects a matplotlib Figure, got {type(fig).__name__}; "
                        f"for an Axes pass ax.figure")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
