"""PNG helpers shared by the widgets: pictures travel as ``ipywidgets.Image`` values."""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import torch


def png_of_images(images: torch.Tensor, ncols: int = 8, scale: int = 1) -> bytes:
    """A grid of images (N, C, H, W) in [0, 1] as PNG bytes (nearest-neighbour upscaling)."""
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=ncols, padding=2, pad_value=1.0)
    img = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_of_figure(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
