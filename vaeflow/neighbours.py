"""Euclidean distances between two point clouds, the one computation behind every nearest-neighbour
look-up in vaeflow (`metrics.factors.knn_predict`, `latent.grids.nearest_index`)."""

from __future__ import annotations

import numpy as np


def squared_distances(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """|q − p|² for every query row q (M, D) and point row p (N, D): float64 (M, N).

    Computed as |q|² − 2 q·p + |p|², one matrix product instead of an (M, N, D) difference, so
    an entry may fall a rounding error below 0 (clip before taking a square root). The order of
    the entries along a row, which is what a neighbour search reads, is not affected.

    >>> squared_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [[25.0, 1.0]]
    """
    queries, points = np.asarray(queries, np.float64), np.asarray(points, np.float64)
    return (queries**2).sum(axis=1)[:, None] - 2.0 * queries @ points.T + (points**2).sum(axis=1)[None, :]
