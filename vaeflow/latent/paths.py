"""Paths between two latent vectors: straight lines and great-circle arcs (slerp)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from vaeflow import validate as _check
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
    n = _check.integer("n", n, low=2)
    return interpolate(z_a, z_b, np.linspace(0.0, 1.0, n), method)
