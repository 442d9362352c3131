"""Factor recovery: how well the posterior mean determines the flow's factors (a, cos θ, sin θ).

Protocol (issue 3): a 10-nearest-neighbour regression from the posterior mean to the targets,
fitted on one half of the held-out set and scored (R²) on the other half. θ enters as
(cos θ, sin θ) because an angle's value jumps at 2π while the image does not.
"""

from __future__ import annotations

import numpy as np

from vaeflow.neighbours import squared_distances

TARGETS = ("a", "cos_theta", "sin_theta")


def factor_targets(factors) -> np.ndarray:
    """(N, 2) factors [a, θ] → (N, 3) targets [a, cos θ, sin θ], float64.

    Raises:
        ValueError: naming `factors`, for a wrong shape or a non-finite value.
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[1] != 2:
        raise ValueError(f"factors must have shape (N, 2) [a, theta], got {factors.shape}")
    if not np.all(np.isfinite(factors)):
        raise ValueError("factors must be finite")
    a, theta = factors[:, 0], factors[:, 1]
    return np.stack([a, np.cos(theta), np.sin(theta)], axis=1)


def knn_predict(train_x, train_y, query_x, k: int = 10, chunk: int = 1024) -> np.ndarray:
    """Mean of the targets of the k nearest (Euclidean) training points, per query: (M, T).

    Ties in distance are broken by training index (stable sort), so the result is deterministic.
    """
    train_x, query_x = np.asarray(train_x, np.float64), np.asarray(query_x, np.float64)
    train_y = np.asarray(train_y, np.float64)
    if not 1 <= k <= len(train_x):
        raise ValueError(f"k must be in [1, {len(train_x)}] (the training points), got {k}")
    out = np.empty((len(query_x), train_y.shape[1]))
    for start in range(0, len(query_x), chunk):
        d2 = squared_distances(query_x[start : start + chunk], train_x)
        nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
        out[start : start + chunk] = train_y[nearest].mean(axis=1)
    return out


def r2_score(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination per column: 1 − Σ(y − ŷ)² / Σ(y − ȳ)²; 1 is perfect."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    residual = ((y_true - y_pred) ** 2).sum(0)
    total = ((y_true - y_true.mean(0)) ** 2).sum(0)
    return 1.0 - residual / np.maximum(total, np.finfo(float).tiny)


def factor_r2(latents, factors, k: int = 10) -> dict[str, float]:
    """kNN R² of (a, cos θ, sin θ) from `latents` (N, L): fit on the first half, score on the second.

    Returns:
        {"r2_a", "r2_cos_theta", "r2_sin_theta"}.

    Raises:
        ValueError: for mismatched lengths or fewer than 2k images.
    """
    latents = np.asarray(latents, np.float64)
    targets = factor_targets(factors)
    if latents.ndim != 2 or len(latents) != len(targets):
        raise ValueError(
            f"latents must be (N, L) with N = len(factors) = {len(targets)}, got {latents.shape}"
        )
    if len(latents) < 2 * k:
        raise ValueError(f"factor R² needs at least {2 * k} images for k = {k}, got {len(latents)}")
    half = len(latents) // 2
    predicted = knn_predict(latents[:half], targets[:half], latents[half:], k=k)
    scores = r2_score(targets[half:], predicted)
    return {f"r2_{name}": float(s) for name, s in zip(TARGETS, scores)}
