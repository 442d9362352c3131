"""`VAE`: q(z|x) a full-covariance normal, p(z) = N(0, I) or a flow, p(x|z) independent per pixel.

    elbo(x)  = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))
    loss     = reconstruction + β · kl,   reconstruction = −E_q[log p(x|z)]   (nats per image)
    iwae_k(x) = E[log (1/k) Σ_i p(x, z_i) / q(z_i|x)],   z_i ~ q(z|x)

elbo ≤ iwae_k ≤ iwae_{k'} ≤ log p(x) for k ≤ k' (Burda et al., 2016). The KL is analytic for
p(z) = N(0, I) and the one-sample Monte Carlo estimate log q(z|x) − log p(z), with the z that
the reconstruction term uses, for a flow prior (priors.py).

References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", 2014.
    Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2016.
    Loaiza-Ganem & Cunningham, "The continuous Bernoulli", 2019.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaeflow import validate as _check
from vaeflow.models.architectures import build_decoder, build_encoder
from vaeflow.models.config import ModelConfig
from vaeflow.models.priors import build_conditioners, flow_prior, standard_normal

# The terms `VAE.elbo_terms` returns, in the order the trainer logs and the plots draw them.
TERMS = ("loss", "reconstruction", "kl")

tfd = tfp.distributions

# Largest number of decoded images (samples × images) one IWAE chunk holds in memory:
# 4096 × 36·36·3 float32 logits ≈ 64 MB.
_IWAE_CHUNK_IMAGES = 4096


class VAE(keras.Model):
    """A variational autoencoder with the encoder and decoder of `config.preset`.

    Arguments:
        config: the architecture; `ModelConfig()` is the compact default.

    Images are float32 in [0, 1], shaped (N, S, S, 3) with S = `config.image_size`; an image of
    another size is a `ValueError` naming `images`. Every method is traceable in a
    `tf.function` and runs under a `tf.distribute` strategy.

    >>> model = VAE(ModelConfig())
    >>> model.encode(np.zeros((2, 36, 36, 3), np.float32)).event_shape
    TensorShape([2])
    """

    def __init__(self, config: ModelConfig | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = ModelConfig() if config is None else config
        if not isinstance(self.config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        self.encoder = build_encoder(self.config)
        self.decoder = build_decoder(self.config)
        self.prior_conditioners = build_conditioners(self.config)
        self.latent_dim = self.config.latent_dim
        # Both networks start from a keras.Input, so every variable exists already.
        self.built = True

    # --- distributions ----------------------------------------------------------------------

    def prior(self) -> tfd.Distribution:
        """p(z), event [L]: N(0, I_L), or for ``config.prior == "flow"`` a
        `tfd.TransformedDistribution` of N(0, I_L) by the learned coupling layers.

        Everything that samples or scores z under the prior (the ELBO's KL, the IWAE bound,
        `vaeflow.latent.prior_draws`, the explorer) asks this method.
        """
        if self.config.prior == "flow":
            return flow_prior(self.config, self.prior_conditioners)
        return standard_normal(self.latent_dim)

    def encode(self, images, training: bool = False) -> tfd.MultivariateNormalTriL:
        """q(z|x): batch N, event L. `images` float32 in [0, 1], (N, S, S, 3)."""
        loc, scale_tril = self.posterior_params(images, training=training)
        return tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)

    def posterior_params(self, images, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(loc (N, L), scale_tril (N, L, L)) of q(z|x); the diagonal is softplus + min_scale > 0."""
        images = self._check_images(images)
        params = self.encoder(images, training=training)
        L = self.latent_dim
        loc, raw_tril = params[:, :L], params[:, L:]
        tril = tfp.math.fill_triangular(raw_tril)
        # softplus keeps the diagonal positive without exp's overflow; the floor keeps the
        # Cholesky factor invertible however confident the encoder becomes.
        diag = tf.nn.softplus(tf.linalg.diag_part(tril)) + self.config.min_scale
        return loc, tf.linalg.set_diag(tril, diag)

    def decode_logits(self, z, training: bool = False) -> tf.Tensor:
        """Per-pixel logits (N, S, S, 3) of p(x|z), for z (N, L)."""
        return self.decoder(tf.convert_to_tensor(z, tf.float32), training=training)

    def likelihood(self, z, training: bool = False) -> tfd.Distribution:
        """p(x|z): batch N, event (S, S, 3), independent over pixels and channels."""
        logits = self.decode_logits(z, training=training)
        if self.config.likelihood == "bernoulli":
            # dtype float32 so log_prob takes intensities in [0, 1], as the study did.
            pixel = tfd.Bernoulli(logits=logits, dtype=tf.float32)
        else:
            pixel = tfd.ContinuousBernoulli(logits=logits)
        return tfd.Independent(pixel, reinterpreted_batch_ndims=3)

    def decode(self, z, training: bool = False) -> tf.Tensor:
        """Mean images E[x|z], float32 (N, S, S, 3) in [0, 1]."""
        logits = self.decode_logits(z, training=training)
        if self.config.likelihood == "bernoulli":
            return tf.sigmoid(logits)
        return tf.clip_by_value(tfd.ContinuousBernoulli(logits=logits).mean(), 0.0, 1.0)

    def log_likelihood(self, x, logits) -> tf.Tensor:
        """log p(x|z) summed over pixels and channels, (N,), from the decoder's logits."""
        if self.config.likelihood == "bernoulli":
            # log p = x·logit − softplus(logit): the cross-entropy, stable for any logit, and
            # broadcasting x (N, S, S, 3) against logits (k, N, S, S, 3) for the IWAE.
            return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=[-3, -2, -1])
        return tf.reduce_sum(tfd.ContinuousBernoulli(logits=logits).log_prob(x), axis=[-3, -2, -1])

    # --- objectives ---------------------------------------------------------------------------

    @staticmethod
    def kl(loc, scale_tril) -> tf.Tensor:
        """KL(N(loc, LLᵀ) ‖ N(0, I)) = ½ (tr LLᵀ + ‖loc‖² − d − log det LLᵀ), per row (N,)."""
        d = tf.cast(tf.shape(loc)[-1], loc.dtype)
        trace = tf.reduce_sum(tf.square(scale_tril), axis=[-2, -1])
        log_det = 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(scale_tril)), axis=-1)
        return 0.5 * (trace + tf.reduce_sum(tf.square(loc), axis=-1) - d - log_det)

    def monte_carlo_kl(self, q: tfd.Distribution, z) -> tf.Tensor:
        """log q(z|x) − log p(z) at samples z (..., N, L) of q: an unbiased estimate of
        KL(q ‖ p) per image, (..., N), for any prior."""
        return q.log_prob(z) - self.prior().log_prob(z)

    def elbo_terms(self, x, beta=1.0, seed=None, training: bool = False) -> dict:
        """One-sample estimates over a batch, each a scalar mean over images (nats per image).

        Arguments:
            x: images float32 in [0, 1], (N, S, S, 3).
            beta: weight of the KL term in `loss` (a float or a scalar tensor, so a schedule
                can change it without retracing).
            seed: None (stateful sampling: fresh noise each call), or an int or a shape-[2]
                int tensor (stateless: the same seed gives the same numbers, also inside
                `tf.function` and on every replica of a `tf.distribute` strategy).
            training: passed to the networks (BatchNorm in the study preset).

        Returns:
            {"loss": reconstruction + beta·kl, "reconstruction": −log p(x|z), z ~ q(z|x),
             "kl": KL(q(z|x) ‖ p(z)), analytic for the normal prior, else `monte_carlo_kl`
             at the same z}.
        """
        x = self._check_images(x)
        loc, scale_tril = self.posterior_params(x, training=training)
        q = tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
        z = q.sample(seed=_stateless(seed))
        reconstruction = -self.log_likelihood(x, self.decode_logits(z, training=training))
        kl = self.kl(loc, scale_tril) if self.config.prior == "normal" else self.monte_carlo_kl(q, z)
        reconstruction, kl = tf.reduce_mean(reconstruction), tf.reduce_mean(kl)
        return {"loss": reconstruction + beta * kl, "reconstruction": reconstruction, "kl": kl}

    def iwae_bound(self, x, k: int, seed=0) -> tf.Tensor:
        """The IWAE-k lower bound on log p(x), per image, (N,) float32 in nats.

        Samples are decoded in chunks so that at most ~4096 decoded images sit in memory at
        once, whatever k and N. k = 1 is an unbiased one-sample ELBO estimate.

        Arguments:
            x: images float32 in [0, 1], (N, S, S, 3).
            k: number of importance samples, >= 1.
            seed: an int or a shape-[2] int tensor; the same seed gives the same bound.
        """
        k = _check.integer("k", k, low=1)
        x = self._check_images(x)
        loc, scale_tril = self.posterior_params(x)
        q = tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
        # All k·N latents at once (small: k·N·L numbers), so the bound does not depend on how
        # the decoding is chunked; only the decoded images are chunked.
        z = q.sample(k, seed=_stateless(0 if seed is None else seed))  # (k, N, L)
        log_prior_ratio = self.prior().log_prob(z) - q.log_prob(z)  # (k, N)
        n = int(x.shape[0]) if x.shape[0] is not None else _IWAE_CHUNK_IMAGES
        per_chunk = max(1, _IWAE_CHUNK_IMAGES // max(n, 1))
        log_px = tf.concat(
            [self._chunk_log_likelihood(x, z[i : i + per_chunk]) for i in range(0, k, per_chunk)],
            axis=0,
        )
        return tf.reduce_logsumexp(log_px + log_prior_ratio, axis=0) - math.log(k)

    def _chunk_log_likelihood(self, x, z) -> tf.Tensor:
        """log p(x|z) for z (s, N, L), (s, N)."""
        logits = self.decode_logits(tf.reshape(z, [-1, self.latent_dim]))
        logits = tf.reshape(logits, tf.concat([tf.shape(z)[:2], tf.shape(logits)[1:]], axis=0))
        return self.log_likelihood(x, logits)

    # --- keras.Model plumbing -----------------------------------------------------------------

    def call(self, images, training: bool = False) -> tf.Tensor:
        """Reconstruction from the posterior mean: decode(E[z|x]), (N, S, S, 3) in [0, 1]."""
        loc, _ = self.posterior_params(images, training=training)
        return self.decode(loc, training=training)

    def _check_images(self, images) -> tf.Tensor:
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.float32:
            if images.dtype.is_floating:
                images = tf.cast(images, tf.float32)
            else:
                raise ValueError(
                    f"images must be float32 in [0, 1], got dtype {images.dtype.name} "
                    "(divide uint8 images by 255)"
                )
        expected = self.config.image_shape
        if images.shape.rank != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must have shape (N, {expected[0]}, {expected[1]}, {expected[2]}) for "
                f"this model (image_size={self.config.image_size}), got {tuple(images.shape)}"
            )
        return images


def _stateless(seed):
    """An int becomes the stateless seed [seed, 0]; None and tensors pass through."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([int(seed), 0], tf.int32)
    return seed
