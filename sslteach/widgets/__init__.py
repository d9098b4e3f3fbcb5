"""Interactive widgets for the notebooks (ipywidgets).

One module per widget, each a thin shell over package functions: the picture it shows is computed by a plain
function (``augmentation_views``, ``temperature_figure``) that tests call directly, and the
widget classes expose their controls as attributes so tests can set them and check the output.
Pictures are shown as PNG ``ipywidgets.Image`` values, so they render in JupyterLab, Voilà and
in saved notebooks alike.
"""
from .augmentation import OPS, AugmentationExplorer, augmentation_ops, augmentation_views
from .collapse import CollapseSwitchboard, collapse_run, switchboard_figure
from .common import png_of_figure, png_of_images
from .language import FillMask, Generate, fill_mask_figure, next_token_probs, sampling_figure
from .masks import CORRUPTIONS, MaskExplorer, corruption_preview
from .temperature import TemperatureExplorer, hard_negative_share, temperature_figure, temperature_summary
from .words import WordNeighbours, neighbour_figure

__all__ = ["OPS", "AugmentationExplorer", "augmentation_ops", "augmentation_views", "png_of_figure",
           "png_of_images", "CORRUPTIONS", "MaskExplorer", "corruption_preview", "TemperatureExplorer",
           "hard_negative_share", "temperature_figure", "temperature_summary", "WordNeighbours",
           "neighbour_figure", "CollapseSwitchboard", "collapse_run", "switchboard_figure",
           "FillMask", "Generate", "fill_mask_figure", "next_token_probs", "sampling_figure"]
