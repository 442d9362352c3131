"""Iso-factor curves: images sharing one true factor (a fixed, θ swept; θ fixed, a swept),
encoded, to show where the model puts each family."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vaeflow import validate as _check
from vaeflow.latent.coding import posterior_means

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
        _check.integer(name, n, low=low)
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
