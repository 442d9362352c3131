"""Fréchet distance between Gaussians fitted to two feature sets (FID when the features are
a network's activations on real and generated images).

    FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{½} Σ₂ Σ₁^{½})^{½}

References:
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", 2017.
"""

from __future__ import annotations

import numpy as np


def frechet_distance(features_a, features_b) -> float:
    """FID between the rows of `features_a` (N, D) and `features_b` (M, D); ≥ 0, 0 iff equal moments.

    Computed in float64 through symmetric eigendecompositions, so it needs no scipy and stays
    real-valued: tr (Σ₁Σ₂)^{½} = Σ √λ(Σ₁^{½} Σ₂ Σ₁^{½}), the eigenvalues of a PSD matrix.

    Raises:
        ValueError: for non-2-D inputs, different feature sizes, or fewer than 2 rows.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D), got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("features need at least 2 rows each to estimate a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    sqrt_a = _sqrtm_psd(cov_a)
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0.0, None)).sum()
    fid = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(max(fid, 0.0))


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
