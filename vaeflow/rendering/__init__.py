"""The renderer: flow factors → the study's contour images, batched, without matplotlib.

- `pipeline`: `render_images`, the compiled stages and the chunking around them.
- `density`: the chain's density on the grid in closed form (`density_grid`).
- `raster`: the maximum of the bilinear field over each pixel's square.
- `coverage`: Agg's 1/256-of-a-pixel rule, which band a pixel shows.
- `levels`: matplotlib's contour level choice (`contour_levels`).
- `colormaps`: the colour tables as Agg paints them.
- `version`: `RENDERER_VERSION`, which changes with any of the above.
"""

from vaeflow.rendering.colormaps import colormap_bytes, colormap_index
from vaeflow.rendering.density import density_grid, grid_coordinates, valid_nodes
from vaeflow.rendering.levels import ContourLevels, contour_levels
from vaeflow.rendering.pipeline import render_images
from vaeflow.rendering.version import RENDERER_VERSION

__all__ = [
    "RENDERER_VERSION",
    "render_images",
    "density_grid",
    "grid_coordinates",
    "valid_nodes",
    "contour_levels",
    "ContourLevels",
    "colormap_bytes",
    "colormap_index",
]
