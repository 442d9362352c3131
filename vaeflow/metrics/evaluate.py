"""`evaluate(model, dataset)`: every held-out metric of issue 3 in one dict.

    neg_elbo, reconstruction, kl    −ELBO (β = 1) and its terms, nats/image, 1 sample per image
    neg_iwae, iwae_k                −IWAE-k, nats/image (≤ neg_elbo in expectation)
    r2_a, r2_cos_theta, r2_sin_theta   10-NN R² from the posterior mean, fit/score on halves
    fid                             FID between held-out images and decode(z), z ~ model.prior(), in
                                    the shipped feature network's space (features.py)
    fid_study_encoder               the same pair of image sets, in the VAE's own posterior-mean
                                    space (the study's protocol; for comparison only: a model
                                    grades itself, and a 2-D space hides most differences)
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from vaeflow import validate as _check
from vaeflow import latent
from vaeflow.metrics.bounds import as_unit_float, negative_elbo, negative_iwae
from vaeflow.metrics.factors import factor_r2
from vaeflow.metrics.features import FeatureNet, load_feature_net
from vaeflow.metrics.fid import frechet_distance
from vaeflow.models.vae import VAE


def evaluate(model: VAE, dataset, *, iwae_k: int = 512, seed: int = 0,
             feature_net: FeatureNet | None = None, batch_size: int = 500) -> dict:
    """All metrics of `model` on the held-out `dataset`; deterministic for a fixed `seed`.

    Arguments:
        model: the VAE.
        dataset: a `FlowDataset`, or any object with `images` (uint8 (N, S, S, 3) or float in
            [0, 1]) and `factors` ((N, 2) [a, θ]); N ≥ 20 for the kNN protocol.
        iwae_k: samples of the IWAE bound; 0 skips it (it costs N·k decoder passes).
        seed: seeds the ELBO samples, the IWAE samples and the prior samples for FID.
        feature_net: the FID feature network; None loads the shipped one.

    Returns:
        A JSON-ready dict of floats (see the module docstring) plus "n_images", "iwae_k",
        "seed" and "seconds".

    Raises:
        ValueError: naming `dataset`, `images` or `factors` when they are malformed, or from
            the model when the image size does not match it.
    """
    if not hasattr(dataset, "images") or not hasattr(dataset, "factors"):
        raise ValueError(f"dataset must have .images and .factors, got {type(dataset).__name__}")
    iwae_k = _check.integer("iwae_k", iwae_k, low=0)
    start = time.time()
    images = as_unit_float(dataset.images)
    factors = np.asarray(dataset.factors)
    if len(factors) != len(images):
        raise ValueError(f"factors has {len(factors)} rows but images has {len(images)}")
    metrics: dict = {"n_images": len(images), "seed": seed}
    metrics.update(negative_elbo(model, images, seed=seed, batch_size=batch_size))
    metrics["iwae_k"] = int(iwae_k)
    metrics["neg_iwae"] = negative_iwae(model, images, iwae_k, seed=seed) if iwae_k else None

    latents = posterior_means(model, images, batch_size)
    metrics.update(factor_r2(latents, factors))

    generated = prior_samples(model, len(images), seed=seed, batch_size=batch_size)
    net = load_feature_net() if feature_net is None else feature_net
    metrics["fid"] = frechet_distance(net.features(images), net.features(generated))
    metrics["fid_study_encoder"] = frechet_distance(
        latents, posterior_means(model, generated, batch_size)
    )
    metrics["seconds"] = round(time.time() - start, 1)
    return metrics


def posterior_means(model: VAE, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """E[z|x] per image, float64 (N, L) for the kNN and FID statistics (`vaeflow.latent`'s encoder loop)."""
    return latent.posterior_means(model, images, batch_size).astype(np.float64)


def prior_samples(model: VAE, n: int, *, seed: int = 0, batch_size: int = 500) -> np.ndarray:
    """Mean images decode(z), z ~ model.prior() (`latent.prior_draws`, as the explorer draws
    them): float32 (n, S, S, 3) in [0, 1], the same for a seed."""
    z = latent.prior_draws(model, n, seed)
    decode = tf.function(model.decode)
    return np.concatenate([decode(z[i : i + batch_size]).numpy() for i in range(0, n, batch_size)])
