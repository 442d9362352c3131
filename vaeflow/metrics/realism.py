"""Unrealistic prior samples: decoded prior draws that are far from every true image.

For each image q, its distance to a reference set R of true images is

    d(q) = min_{r ∈ R} mean over pixels and channels of (q − r)²     (intensities in [0, 1]).

A reconstruction of a held-out image is as realistic as the model gets, so its distances set
the scale: a prior sample is *unrealistic* when d(sample) > factor · (the `quantile` of d over
reconstructions of held-out images), factor 3 and quantile 0.9 by default.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaeflow.metrics.bounds import as_unit_float


def nearest_mse(queries, references, *, batch_size: int = 500) -> np.ndarray:
    """d(q) for each query: the pixel MSE to its nearest reference image, float64 (N,).

    Arguments:
        queries: (N, S, S, 3) uint8 or float in [0, 1].
        references: (M, S, S, 3) likewise, M ≥ 1, the same image shape.

    Raises:
        ValueError: naming `queries` or `references` for bad arrays or differing shapes.
    """
    q = as_unit_float(queries, "queries").reshape(len(queries), -1)
    r = as_unit_float(references, "references").reshape(len(references), -1)
    if len(r) == 0 or len(q) == 0:
        raise ValueError("queries and references must each hold at least one image")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and references differ in image shape: {np.shape(queries)[1:]} "
                         f"vs {np.shape(references)[1:]}")
    # ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r: one matrix product per batch of queries.
    r_t = tf.constant(r)
    r_sq = tf.reduce_sum(tf.square(r_t), axis=1)
    out = []
    for start in range(0, len(q), batch_size):
        q_t = tf.constant(q[start:start + batch_size])
        d = (tf.reduce_sum(tf.square(q_t), axis=1, keepdims=True) + r_sq[None, :]
             - 2.0 * tf.matmul(q_t, r_t, transpose_b=True))
        out.append(np.maximum(tf.reduce_min(d, axis=1).numpy().astype(np.float64), 0.0))
    return np.concatenate(out) / q.shape[1]


def unrealistic_share(sample_distances, reconstruction_distances, *, factor: float = 3.0,
                      quantile: float = 0.9) -> dict[str, float]:
    """The share of samples whose distance exceeds factor × the reconstructions' quantile.

    Arguments:
        sample_distances: d of the decoded prior samples, (n,).
        reconstruction_distances: d of reconstructions of held-out images, (m,).
        factor: > 0. quantile: in (0, 1).

    Returns:
        {"unrealistic_share": in [0, 1], "threshold": factor · quantile of the
         reconstructions' d, "reconstruction_quantile": that quantile}.
    """
    samples = np.asarray(sample_distances, np.float64)
    recon = np.asarray(reconstruction_distances, np.float64)
    for name, values in (("sample_distances", samples), ("reconstruction_distances", recon)):
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be a non-empty finite 1-D array")
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    level = float(np.quantile(recon, quantile))
    threshold = factor * level
    return {"unrealistic_share": float(np.mean(samples > threshold)), "threshold": threshold,
            "reconstruction_quantile": level}


def prior_sample_realism(model, held_out_images, reference_images, *, n_samples: int = 2000,
                         seed: int = 0, batch_size: int = 500) -> dict[str, float]:
    """`unrealistic_share` of `n_samples` decoded draws of `model.prior()` against the
    reconstructions decode(E[z|x]) of `held_out_images`, both measured by `nearest_mse` to
    `reference_images` (true images, disjoint from the held-out ones).

    Returns:
        `unrealistic_share`'s dict plus ``n_samples``, ``n_reference``, ``n_reconstructions``,
        and the median d of samples and of reconstructions.
    """
    from vaeflow.metrics.evaluate import prior_samples

    held_out = as_unit_float(held_out_images, "held_out_images")
    samples = prior_samples(model, n_samples, seed=seed, batch_size=batch_size)
    reconstruct = tf.function(lambda x: model(x))
    recon = np.concatenate([reconstruct(tf.constant(held_out[i:i + batch_size])).numpy()
                            for i in range(0, len(held_out), batch_size)])
    d_samples = nearest_mse(samples, reference_images)
    d_recon = nearest_mse(recon, reference_images)
    return {**unrealistic_share(d_samples, d_recon), "n_samples": int(n_samples),
            "n_reference": len(reference_images), "n_reconstructions": len(held_out),
            "sample_median": float(np.median(d_samples)),
            "reconstruction_median": float(np.median(d_recon))}
