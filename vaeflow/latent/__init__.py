"""Maths on the latent space that the explorer draws: paths, grids, neighbours, iso-factor curves.

Everything here is numpy on arrays, except the functions that take a `model` (anything
with `encode(x) -> distribution with .mean()` and `decode(z) -> images in [0, 1]`, i.e. a
`vaeflow.VAE`) and the one that renders images through `vaeflow.render_images`.

* `interpolate` / `interpolation_path`: z(t) on the segment from z_a to z_b (``"linear"``), or
  on the arc that turns z_a into z_b around the origin (``"spherical"``, slerp), t ∈ [0, 1].
* `latent_grid`: an n×n lattice over a rectangle of two latent axes, rows from the top (largest
  y) down, so that decoding it in one batch and tiling row-major gives the manifold map as it
  sits on the plot.
* `embed_plane`: a point (x, y) of the plotted plane -> a full latent vector, the other
  coordinates at 0.
* `nearest_index`: the row of a point cloud nearest (Euclidean) to each query.
* `iso_factor_sweeps` / `iso_curves`: images that share one true factor (a fixed, θ swept; θ
  fixed, a swept), encoded: where the model puts each family of images.
* `posterior_means` / `posterior_kl` / `decode_uint8` / `prior_draws`: images → E[z | x] and
  KL(q(z | x) || p(z)), z → images, and the one seeded sampler of z ~ model.prior(), in
  batches; `compiled_decode`, the decoder as one graph.
* `prior_density_grid` / `describe_prior`: p(z) on a lattice of the plotted plane (the map's
  prior contours), and the prior named in words.
* `error_map` / `predict_factors` / `decode_error`: per cell of a grid, the decoded image
  against the true flow at the factors its nearest held-out encodings stand for (nats);
  `cell_index` finds the cell under a click.

One module per kind: `paths`, `grids`, `factors`, `coding`, `prior`, `error_map`.
"""

from vaeflow.latent.coding import compiled_decode, decode_uint8, posterior_kl, posterior_means, prior_draws
from vaeflow.latent.error_map import ErrorMap, decode_error, error_map, predict_factors
from vaeflow.latent.factors import IsoSweeps, iso_curves, iso_factor_sweeps
from vaeflow.latent.grids import cell_centres, cell_index, embed_plane, latent_grid, nearest_index, plot_ranges
from vaeflow.latent.prior import describe_prior, prior_density_grid
from vaeflow.latent.paths import METHODS, Method, interpolate, interpolation_path

__all__ = [
    "METHODS", "Method", "interpolate", "interpolation_path",
    "latent_grid", "cell_centres", "cell_index", "embed_plane", "plot_ranges", "nearest_index",
    "IsoSweeps", "iso_factor_sweeps", "iso_curves",
    "posterior_means", "posterior_kl", "decode_uint8", "compiled_decode", "prior_draws",
    "prior_density_grid", "describe_prior",
    "ErrorMap", "error_map", "predict_factors", "decode_error",
]
