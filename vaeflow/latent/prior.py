"""The model's prior p(z) on the plotted plane: its density on a grid, and its name in words."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from vaeflow.latent.grids import embed_plane


def prior_density_grid(
    model: Any, x_range: Sequence[float], y_range: Sequence[float], n: int,
    dims: tuple[int, int] = (0, 1),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p(z) of `model.prior()` on an n×n lattice of the plane of latent axes `dims`.

    For L = 2 this is the prior's density; for L > 2 it is the slice of the joint density with
    the other coordinates at 0 (`embed_plane`), the same plane the manifold map decodes.

    Arguments:
        model: has `prior()` (a distribution of event [L]) and `latent_dim`.
        x_range, y_range: (low, high) of each axis, high > low.
        n: points per axis, 2 to 1000.

    Returns:
        (xs (n,), ys (n,), density (n, n) float64) with ``density[i, j] = p(xs[j], ys[i])``:
        row i is y = ys[i], ascending, as Plotly's contour traces take it.

    Raises:
        ValueError: naming `n`, `x_range` or `y_range`.
    """
    if isinstance(n, bool) or int(n) != n or not 2 <= n <= 1000:
        raise ValueError(f"n must be an integer in [2, 1000], got {n!r}")
    axes = []
    for name, (low, high) in (("x_range", x_range), ("y_range", y_range)):
        if not (np.isfinite(low) and np.isfinite(high) and high > low):
            raise ValueError(f"{name} must be finite (low, high) with high > low, got {(low, high)}")
        axes.append(np.linspace(float(low), float(high), int(n)))
    xs, ys = axes
    gx, gy = np.meshgrid(xs, ys)  # row i is y = ys[i]
    plane = np.stack([gx.ravel(), gy.ravel()], axis=1)
    z = embed_plane(plane, model.latent_dim, dims).astype(np.float32)
    log_p = model.prior().log_prob(tf.constant(z))
    return xs, ys, np.exp(np.asarray(log_p, np.float64)).reshape(int(n), int(n))


def describe_prior(config: Any) -> str:
    """One line naming a `ModelConfig`'s prior, e.g. ``"p(z) = N(0, I)"``."""
    if getattr(config, "prior", "normal") == "flow":
        return (f"p(z) = a learned flow: N(0, I) through {config.prior_layers} "
                f"{config.prior_coupling} coupling layers (hidden width {config.prior_hidden})")
    return "p(z) = N(0, I)"
