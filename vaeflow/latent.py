"""Maths on the latent space that the explorer draws: paths, grids, neighbours, iso-factor curves.

Everything here is numpy on arrays, except the three functions that take a `model` (anything
with `encode(x) -> distribution with .mean()` and `decode(z) -> images in [0, 1]`, i.e. a
`vaeflow.VAE`) and the one that renders images through `vaeflow.render_images`.

* `interpolate` / `interpolation_path`: z(t) on the segment from z_a to z_b (``"linear"``), or
  on the arc that turns z_a into z_b around the origin (``"spherical"``, slerp), t ∈ [0, 1].
* `latent_grid`: an n×n lattice over a rectangle of two latent axes, rows from the top (largest
  y) down, so that decoding it in one batch and tiling row-major gives the manifold map as it
  sits on the plot.
* `embed_plane`: a point (x, y) of the plotted plane -> a full latent vector, the other
  coordinates at the prior mean 0.
* `nearest_index`: the row of a point cloud nearest (Euclidean) to each query.
* `iso_factor_sweeps` / `iso_curves`: images that share one true factor (a fixed, θ swept; θ
  fixed, a swept), encoded: where the model puts each family of images.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Sequence

import numpy as np

Method = Literal["linear", "spherical"]
METHODS: tuple[str, ...] = ("linear", "spherical")

# Below this angle (radians) between z_a and z_b, slerp's sin(Ω) in the denominator loses
# precision, and the arc is indistinguishable from the chord anyway.
_SLERP_MIN_ANGLE = 1e-4


def _as_vector(z: Any, name: str) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1 or z.shape[0] < 1:
        raise ValueError(f"{name} must be a 1-D latent vector, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} must be finite, got {z}")
    return z


def interpolate(z_a: Any, z_b: Any, t: Any, method: Method = "linear") -> np.ndarray:
    """Points z(t) on the path from `z_a` (t = 0) to `z_b` (t = 1).

    linear:    z(t) = (1 − t) z_a + t z_b.
    spherical: z(t) = sin((1 − t) Ω) / sin Ω · z_a + sin(t Ω) / sin Ω · z_b, with Ω the angle
               between z_a and z_b (White 2016, "Sampling Generative Networks"). In 2-D this
               turns around the origin while the radius moves from |z_a| to |z_b| along the way.
               Where Ω is ~0 or ~π, or an endpoint is the origin, the arc is undefined or
               degenerate and the linear path is returned instead.

    Arguments:
        z_a, z_b: latent vectors of the same length L.
        t: a number or 1-D array of numbers in [0, 1].
        method: ``"linear"`` or ``"spherical"``.

    Returns:
        float64 (T, L) for an array `t` of length T, or (L,) for a scalar `t`.

    Raises:
        ValueError: naming `z_a`, `z_b`, `t` or `method`.

    >>> interpolate([0.0, 0.0], [2.0, 4.0], 0.5)
    array([1., 2.])
    >>> np.round(interpolate([1.0, 0.0], [0.0, 1.0], 0.5, "spherical"), 4)
    array([0.7071, 0.7071])
    """
    z_a = _as_vector(z_a, "z_a")
    z_b = _as_vector(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same length, got {z_a.shape} and {z_b.shape}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    t_arr = np.asarray(t, dtype=np.float64)
    scalar = t_arr.ndim == 0
    t_arr = np.atleast_1d(t_arr)
    if t_arr.ndim != 1 or not np.all(np.isfinite(t_arr)) or np.any((t_arr < 0) | (t_arr > 1)):
        raise ValueError(f"t must be a number or 1-D array in [0, 1], got {t!r}")
    t_col = t_arr[:, None]

    path = (1.0 - t_col) * z_a + t_col * z_b
    if method == "spherical":
        norm_a, norm_b = np.linalg.norm(z_a), np.linalg.norm(z_b)
        if norm_a > 0 and norm_b > 0:
            cos_omega = np.clip(np.dot(z_a, z_b) / (norm_a * norm_b), -1.0, 1.0)
            omega = np.arccos(cos_omega)
            if _SLERP_MIN_ANGLE < omega < np.pi - _SLERP_MIN_ANGLE:
                sin_omega = np.sin(omega)
                path = (
                    np.sin((1.0 - t_col) * omega) / sin_omega * z_a
                    + np.sin(t_col * omega) / sin_omega * z_b
                )
    return path[0] if scalar else path


def interpolation_path(z_a: Any, z_b: Any, n: int, method: Method = "linear") -> np.ndarray:
    """`n` >= 2 evenly spaced t from 0 to 1 (both ends included) -> float64 (n, L) path."""
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    return interpolate(z_a, z_b, np.linspace(0.0, 1.0, int(n)), method)


def latent_grid(
    x_range: Sequence[float], y_range: Sequence[float], n_x: int, n_y: int | None = None
) -> np.ndarray:
    """An n_y × n_x lattice over [x0, x1] × [y0, y1], both ends included, row-major from the top.

    Row r holds y = y1 − r (y1 − y0) / (n_y − 1) (largest y first, as an image is drawn);
    column c holds x = x0 + c (x1 − x0) / (n_x − 1).

    Returns:
        float64 (n_y · n_x, 2) of (x, y) pairs.

    Raises:
        ValueError: naming `x_range`, `y_range`, `n_x` or `n_y`.

    >>> latent_grid((0, 1), (0, 1), 2)
    array([[0., 1.],
           [1., 1.],
           [0., 0.],
           [1., 0.]])
    """
    n_y = n_x if n_y is None else n_y
    for name, n in (("n_x", n_x), ("n_y", n_y)):
        if isinstance(n, bool) or int(n) != n or n < 2:
            raise ValueError(f"{name} must be an integer >= 2, got {n!r}")
    x0, x1 = _range(x_range, "x_range")
    y0, y1 = _range(y_range, "y_range")
    xs = np.linspace(x0, x1, int(n_x))
    ys = np.linspace(y1, y0, int(n_y))
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)


def cell_centres(
    x_range: Sequence[float], y_range: Sequence[float], n: int
) -> np.ndarray:
    """Centres of an n×n tiling of the rectangle, row-major from the top-left, (n², 2).

    Decoding these and tiling the images n per row gives a mosaic whose cells sit exactly
    over the rectangle, each cell's image decoded at its centre.
    """
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    (x0, x1), (y0, y1) = _range(x_range, "x_range"), _range(y_range, "y_range")
    half_x, half_y = (x1 - x0) / (2 * n), (y1 - y0) / (2 * n)
    return latent_grid((x0 + half_x, x1 - half_x), (y0 + half_y, y1 - half_y), int(n))


def _range(r: Sequence[float], name: str) -> tuple[float, float]:
    values = np.asarray(r, dtype=np.float64)
    if values.shape != (2,) or not np.all(np.isfinite(values)) or not values[1] > values[0]:
        raise ValueError(f"{name} must be finite (low, high) with high > low, got {r!r}")
    return float(values[0]), float(values[1])


def embed_plane(xy: Any, latent_dim: int, dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Points (x, y) of the plotted plane (latent axes `dims`) -> full latent vectors.

    The coordinates not plotted are set to 0, the prior's mean, which is where a
    2-D slice through a larger latent space is most typical.

    Arguments:
        xy: (2,) or (N, 2).
        latent_dim: L >= 2.
        dims: the two distinct latent axes drawn as x and y, each in [0, L).

    Returns:
        float32 (L,) or (N, L).

    Raises:
        ValueError: naming `xy`, `latent_dim` or `dims`.
    """
    if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or latent_dim < 2:
        raise ValueError(f"latent_dim must be an integer >= 2, got {latent_dim!r}")
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be two distinct axes in [0, {latent_dim}), got {dims!r}")
    xy = np.asarray(xy, dtype=np.float64)
    single = xy.ndim == 1
    xy = np.atleast_2d(xy)
    if xy.ndim != 2 or xy.shape[1] != 2 or not np.all(np.isfinite(xy)):
        raise ValueError(f"xy must be finite (2,) or (N, 2), got shape {xy.shape}")
    z = np.zeros((xy.shape[0], int(latent_dim)), dtype=np.float32)
    z[:, dims[0]] = xy[:, 0]
    z[:, dims[1]] = xy[:, 1]
    return z[0] if single else z


def plot_ranges(
    points: Any, *, pad: float = 0.15, quantile: float = 0.002, min_half_width: float = 1.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """x and y ranges that frame a 2-D point cloud, ignoring the most extreme `quantile`.

    Each axis spans the [quantile, 1 − quantile] range of the points, widened by `pad` of its
    width on each side and to at least ±`min_half_width` around its centre (so a collapsed
    cloud still leaves room to click around it).

    Returns:
        ((x0, x1), (y0, y1)), each with x1 > x0.

    Raises:
        ValueError: naming `points` when it is not a non-empty finite (N, 2) array.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (N, 2) array, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("points must be finite")
    ranges = []
    for axis in range(2):
        lo, hi = np.quantile(points[:, axis], [quantile, 1.0 - quantile])
        width = hi - lo
        lo, hi = lo - pad * width, hi + pad * width
        centre = 0.5 * (lo + hi)
        half = max(0.5 * (hi - lo), min_half_width)
        ranges.append((float(centre - half), float(centre + half)))
    return ranges[0], ranges[1]


def nearest_index(points: Any, queries: Any) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the row of `points` nearest to it (Euclidean) and the distance.

    Arguments:
        points: (N, D), N >= 1.
        queries: (D,) or (M, D).

    Returns:
        (indices int64, distances float64), each (M,), or numpy scalars for a single query.

    Raises:
        ValueError: naming `points` or `queries` on shape mismatch.

    >>> index, distance = nearest_index([[0.0, 0.0], [5.0, 5.0]], [4.0, 4.5])
    >>> int(index), round(float(distance), 4)
    (1, 1.118)
    """
    points = np.asarray(points, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (N, D) array, got shape {points.shape}")
    single = queries.ndim == 1
    queries = np.atleast_2d(queries)
    if queries.ndim != 2 or queries.shape[1] != points.shape[1]:
        raise ValueError(
            f"queries must be (D,) or (M, D) with D = {points.shape[1]}, got shape {queries.shape}"
        )
    # |q − p|² = |q|² − 2 q·p + |p|²; one matrix product instead of an (M, N, D) difference.
    sq = (
        np.sum(queries**2, axis=1)[:, None]
        - 2.0 * queries @ points.T
        + np.sum(points**2, axis=1)[None, :]
    )
    indices = np.argmin(sq, axis=1)
    distances = np.sqrt(np.maximum(sq[np.arange(len(indices)), indices], 0.0))
    if single:
        return indices[0], distances[0]
    return indices, distances


@dataclasses.dataclass(frozen=True)
class IsoSweeps:
    """True factors of the images on iso-a and iso-θ curves.

    Attributes:
        a_levels: (n_a,) the a held fixed along each iso-a curve.
        theta_levels: (n_theta,) the θ held fixed along each iso-θ curve.
        iso_a: (n_a, n_steps, 2) factors [a, θ]: a fixed per curve, θ swept over its range.
        iso_theta: (n_theta, n_steps, 2) factors [a, θ]: θ fixed per curve, a swept.
    """

    a_levels: np.ndarray
    theta_levels: np.ndarray
    iso_a: np.ndarray
    iso_theta: np.ndarray


def iso_factor_sweeps(
    spec: Any, n_a: int = 5, n_theta: int = 8, n_steps: int = 48, a_width: float = 2.0
) -> IsoSweeps:
    """The factors to render for iso-a and iso-θ curves of a `FlowSpec`.

    a levels are a_mean + k · a_std for n_a evenly spaced k in [−a_width, a_width] (i.e.
    ±`a_width` standard deviations, where most images lie); along an iso-a curve θ runs over
    [theta_min, theta_max] with both ends included, so a full turn closes the loop. θ levels
    split [theta_min, theta_max) evenly; along an iso-θ curve a runs over the same ±`a_width`
    std range.

    Returns:
        IsoSweeps with float32 arrays.

    Raises:
        ValueError: naming `n_a`, `n_theta`, `n_steps` or `a_width`.
    """
    for name, n, low in (("n_a", n_a, 1), ("n_theta", n_theta, 1), ("n_steps", n_steps, 2)):
        if isinstance(n, bool) or int(n) != n or n < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {n!r}")
    if not np.isfinite(a_width) or a_width <= 0:
        raise ValueError(f"a_width must be > 0, got {a_width!r}")
    k = np.linspace(-a_width, a_width, int(n_a)) if n_a > 1 else np.zeros(1)
    a_levels = spec.a_mean + k * spec.a_std
    theta_levels = spec.theta_min + (spec.theta_max - spec.theta_min) * np.arange(n_theta) / n_theta
    theta_sweep = np.linspace(spec.theta_min, spec.theta_max, int(n_steps))
    a_sweep = np.linspace(spec.a_mean - a_width * spec.a_std, spec.a_mean + a_width * spec.a_std, int(n_steps))
    iso_a = np.stack(
        [np.stack([np.full_like(theta_sweep, a), theta_sweep], axis=1) for a in a_levels]
    )
    iso_theta = np.stack(
        [np.stack([a_sweep, np.full_like(a_sweep, th)], axis=1) for th in theta_levels]
    )
    f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    return IsoSweeps(f32(a_levels), f32(theta_levels), f32(iso_a), f32(iso_theta))


def posterior_means(model: Any, images: Any, batch_size: int = 512) -> np.ndarray:
    """E[z | x] of the model's posterior for each image, encoded in batches.

    Arguments:
        model: has `encode(x float32 [0, 1] (B, H, W, 3))` returning a distribution with `mean()`.
        images: uint8 (N, H, W, 3) (divided by 255) or float in [0, 1].

    Returns:
        float32 (N, L).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, C) batch, got {images.shape}")
    scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0
    means = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].astype(np.float32) * np.float32(scale)
        means.append(np.asarray(model.encode(x).mean(), dtype=np.float32))
    return np.concatenate(means, axis=0)


def decode_uint8(model: Any, z: Any, batch_size: int = 1024) -> np.ndarray:
    """The decoder's mean image for each latent vector, as uint8 (N, H, W, 3), in batches.

    Arguments:
        model: has `decode(z float32 (B, L))` returning images in [0, 1].
        z: (L,) or (N, L); a single vector gives a batch of one.
    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    if z.ndim != 2 or z.shape[0] == 0 or not np.all(np.isfinite(z)):
        raise ValueError(f"z must be finite (L,) or (N, L), got shape {z.shape}")
    out = []
    for start in range(0, z.shape[0], batch_size):
        x = np.asarray(model.decode(z[start : start + batch_size]), dtype=np.float32)
        out.append(np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8))
    return np.concatenate(out, axis=0)


def iso_curves(model: Any, spec: Any, sweeps: IsoSweeps) -> tuple[np.ndarray, np.ndarray]:
    """Render the swept images of `sweeps` with `spec` and encode them (posterior means).

    Returns:
        (iso_a (n_a, n_steps, L), iso_theta (n_theta, n_steps, L)), float32.
    """
    from vaeflow import render_images  # deferred: the renderer pulls in TensorFlow

    factors = np.concatenate(
        [sweeps.iso_a.reshape(-1, 2), sweeps.iso_theta.reshape(-1, 2)], axis=0
    )
    images = render_images(factors[:, 0], factors[:, 1], spec)
    means = posterior_means(model, images)
    n_a = sweeps.iso_a.shape[0] * sweeps.iso_a.shape[1]
    iso_a = means[:n_a].reshape(sweeps.iso_a.shape[0], sweeps.iso_a.shape[1], -1)
    iso_theta = means[n_a:].reshape(sweeps.iso_theta.shape[0], sweeps.iso_theta.shape[1], -1)
    return iso_a, iso_theta
