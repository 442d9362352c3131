"""Grids, planes and neighbours in latent space: the manifold map's lattice, the plotted plane,
the plot's ranges and the nearest point of a cloud."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vaeflow import validate as _check
from vaeflow.neighbours import squared_distances


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
        _check.integer(name, n, low=2)
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
    n = _check.integer("n", n, low=2)
    (x0, x1), (y0, y1) = _range(x_range, "x_range"), _range(y_range, "y_range")
    half_x, half_y = (x1 - x0) / (2 * n), (y1 - y0) / (2 * n)
    return latent_grid((x0 + half_x, x1 - half_x), (y0 + half_y, y1 - half_y), int(n))


def cell_index(xy: Any, x_range: Sequence[float], y_range: Sequence[float], n: int) -> int:
    """The cell of `cell_centres(x_range, y_range, n)` that holds the point (x, y).

    Cells are numbered row-major from the top-left, like `cell_centres`; a point on a shared
    edge belongs to the cell right of it / below it, and a point outside the rectangle to the
    nearest edge cell.

    Raises:
        ValueError: naming `xy`, `x_range`, `y_range` or `n`.

    >>> cell_index((0.9, 0.9), (0, 1), (0, 1), 2), cell_index((0.1, 0.1), (0, 1), (0, 1), 2)
    (1, 2)
    """
    n = _check.integer("n", n, low=2)
    (x0, x1), (y0, y1) = _range(x_range, "x_range"), _range(y_range, "y_range")
    point = np.asarray(xy, dtype=np.float64)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"xy must be a finite (x, y) pair, got {xy!r}")
    n = int(n)
    column = min(max(int(np.floor((point[0] - x0) / (x1 - x0) * n)), 0), n - 1)
    row = min(max(int(np.floor((y1 - point[1]) / (y1 - y0) * n)), 0), n - 1)
    return row * n + column


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
    latent_dim = _check.integer("latent_dim", latent_dim, low=2)
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
    sq = squared_distances(queries, points)
    indices = np.argmin(sq, axis=1)
    distances = np.sqrt(np.maximum(sq[np.arange(len(indices)), indices], 0.0))
    if single:
        return indices[0], distances[0]
    return indices, distances
