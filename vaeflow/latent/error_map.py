"""The decode-vs-truth error map: how wrong the decoder is, cell by cell of the latent plane.

For a latent vector z, the held-out encodings say which flow it stands for: the factors of its
k nearest posterior means, averaged (θ on the circle). The decoder's image at z is compared
with the true image rendered at those factors, by

    KL(Bernoulli(x) ‖ Bernoulli(x̂)) = Σ_pixels x log(x / x̂) + (1 − x) log((1 − x) / (1 − x̂))
                                    = CE(x, x̂) − H(x)                      (nats per image),

the Bernoulli cross-entropy of the true image x under the decoded mean x̂ minus the true
image's own entropy (the floor no decoder can go under). It is 0 exactly when x̂ = x.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vaeflow import validate as _check
from vaeflow.metrics.factors import factor_targets, knn_predict

# A float32 sigmoid rounds to exactly 0 or 1 once |logit| > ~17, which would make one wrong
# pixel cost an infinite KL; both images are held this far from 0 and 1 (the same clip on both
# sides keeps x̂ = x at exactly 0).
PROBABILITY_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class ErrorMap:
    """Per-cell decode errors over a set of latent vectors (the cells of a grid).

    Attributes:
        errors: float64 (M,) KL(Bernoulli(true) ‖ Bernoulli(decoded)) per cell, nats per image.
        a, theta: float64 (M,) the factors predicted for each cell (θ in [θ_min, θ_min + 2π)).
        decoded: float32 (M, S, S, 3) the decoder's mean image at each cell, in [0, 1].
        true: uint8 (M, S, S, 3) the flow rendered at the predicted factors.
    """

    errors: np.ndarray
    a: np.ndarray
    theta: np.ndarray
    decoded: np.ndarray
    true: np.ndarray


def predict_factors(z: Any, means: Any, factors: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The factors (a, θ) that the k held-out encodings nearest to each z stand for.

    a is the neighbours' mean; θ their circular mean, atan2(mean sin θ, mean cos θ), so that
    neighbours at θ = π − ε and θ = −π + ε average to π, not to 0.

    Arguments:
        z: (L,) or (M, L) latent vectors.
        means: (N, L) posterior means of the held-out images, N >= k.
        factors: (N, 2) their true [a, θ].
        k: neighbours per query (`vaeflow.metrics.factors.knn_predict`, ties by row).

    Returns:
        (a, theta), float64 (M,) each; θ in (−π, π].

    Raises:
        ValueError: naming `z`, `means`, `factors` or `k`.

    >>> a, theta = predict_factors([0.0], [[-1.0], [1.0], [5.0]], [[2.0, 3.0], [4.0, -3.0], [9.0, 0.0]], k=2)
    >>> float(a[0]), round(float(theta[0]), 4)
    (3.0, 3.1416)
    """
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or means.shape[0] == 0 or not np.all(np.isfinite(means)):
        raise ValueError(f"means must be a non-empty finite (N, L) array, got shape {means.shape}")
    targets = factor_targets(factors)  # [a, cos θ, sin θ]; ValueError names `factors`
    if len(targets) != len(means):
        raise ValueError(f"factors must have one row per mean ({len(means)}), got {len(targets)}")
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    if z.ndim != 2 or z.shape[1] != means.shape[1] or not np.all(np.isfinite(z)):
        raise ValueError(f"z must be finite (L,) or (M, L) with L = {means.shape[1]}, got shape {z.shape}")
    k = _check.integer("k", k)
    predicted = knn_predict(means, targets, z, k=int(k))
    return predicted[:, 0], np.arctan2(predicted[:, 2], predicted[:, 1])


def decode_error(true: Any, decoded: Any) -> np.ndarray:
    """KL(Bernoulli(true) ‖ Bernoulli(decoded)) summed over each image's pixels, in nats.

    Equal to the Bernoulli cross-entropy of `true` under `decoded` minus the entropy of
    `true`; >= 0, and 0 exactly where the images are equal. Both are clipped to
    [`PROBABILITY_EPS`, 1 − `PROBABILITY_EPS`] first.

    Arguments:
        true: a batch (N, ...) of images, uint8 (divided by 255) or float in [0, 1].
        decoded: the same shape, uint8 or float in [0, 1].

    Returns:
        float64 (N,), one sum per image.

    Raises:
        ValueError: naming `true` or `decoded` for a shape mismatch or values outside [0, 1].

    >>> decode_error(np.array([[0.25]]), np.array([[0.5]])).round(6)  # ¼ log ½ + ¾ log 1.5
    array([0.130812])
    """
    x = _probabilities(true, "true")
    x_hat = _probabilities(decoded, "decoded")
    if x.shape != x_hat.shape:
        raise ValueError(f"true and decoded must have the same shape, got {x.shape} and {x_hat.shape}")
    if x.ndim < 2:
        raise ValueError(f"true must be (N, ...) images, got shape {x.shape}")
    x = np.clip(x, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    x_hat = np.clip(x_hat, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    per_pixel = x * (np.log(x) - np.log(x_hat)) + (1.0 - x) * (np.log1p(-x) - np.log1p(-x_hat))
    return per_pixel.reshape(len(per_pixel), -1).sum(axis=1)


def _probabilities(images: Any, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    images = images.astype(np.float64)
    if not np.all((images >= 0.0) & (images <= 1.0)):  # also refuses NaN
        raise ValueError(f"{name} must be uint8 or float in [0, 1]")
    return images


def error_map(
    model: Any, grid: Any, means: Any, factors: Any, spec: Any, *, k: int = 10,
    batch_size: int = 512,
) -> ErrorMap:
    """Decode every z of `grid`, render the flow at its predicted factors, and score the pair.

    Arguments:
        model: has `decode(z float32 (B, L))` returning mean images in [0, 1] (a `VAE`).
        grid: (M, L) latent vectors, e.g. `embed_plane(cell_centres(...), L, dims)`.
        means: (N, L) posterior means of the held-out images; factors: (N, 2) their [a, θ].
        spec: the `FlowSpec` the true images are rendered with (the model's training spec).
        k: neighbours for `predict_factors`.

    Returns:
        ErrorMap, cells in the order of `grid`.

    Raises:
        ValueError: naming the bad argument (see `predict_factors`, `decode_error`).
    """
    from vaeflow import render_images  # deferred: the renderer pulls in TensorFlow

    a, theta = predict_factors(grid, means, factors, k)
    # Rotation is 2π-periodic; report θ in the spec's own window.
    theta = spec.theta_min + np.mod(theta - spec.theta_min, 2.0 * np.pi)
    z = np.asarray(grid, dtype=np.float32).reshape(len(a), -1)
    decoded = np.concatenate([
        np.asarray(model.decode(z[start : start + batch_size]), dtype=np.float32)
        for start in range(0, len(z), batch_size)
    ])
    decoded = np.clip(decoded, 0.0, 1.0)
    true = render_images(a, theta, spec)
    return ErrorMap(decode_error(true, decoded), a, theta, decoded, true)
