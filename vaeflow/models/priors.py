"""The prior p(z) of a `VAE`: N(0, I), or N(0, I) pushed through learned coupling layers.

A flow prior is p(z) = N(f⁻¹(z); 0, I) · |det ∂f⁻¹/∂z| with f = c_K ∘ P ∘ … ∘ P ∘ c_1, where P
reverses the coordinates and each coupling c_k keeps the first ⌊L/2⌋ coordinates z_a and maps
the others elementwise by a bijection whose parameters a small network reads from z_a
(RealNVP; Dinh et al., 2017). The elementwise bijection is a rational-quadratic spline on
[-B, B], the identity outside (Durkan et al., 2019), or an affine map.

Every conditioner's last layer starts at zero, and both maps are then the identity, so a fresh
flow prior *is* N(0, I): a model trained with the normal prior can be fine-tuned with a flow
prior from the same ELBO.

References:
    Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017.
    Durkan, Bekasov, Murray & Papamakarios, "Neural Spline Flows", NeurIPS 2019.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers

from vaeflow.models.config import ModelConfig

tfb = tfp.bijectors
tfd = tfp.distributions

SPLINE_BINS = 8
SPLINE_BOUND = 5.0  # the spline acts on [-B, B]; q(z|x) of a trained model lies well inside
_MIN_BIN = 1e-3
_MIN_SLOPE = 1e-3
# softplus(this) + _MIN_SLOPE = 1: a zero net gives unit slopes, so the spline is the identity.
_UNIT_SLOPE_OFFSET = math.log(math.expm1(1.0 - _MIN_SLOPE))


def standard_normal(latent_dim: int) -> tfd.Distribution:
    """N(0, I_L): batch [], event [L]."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim]))


def build_conditioners(config: ModelConfig) -> list[keras.Sequential]:
    """One conditioner network per coupling layer (empty for the normal prior).

    Each maps the ⌊L/2⌋ kept coordinates to the parameters of the other L − ⌊L/2⌋ coordinates'
    maps. Layers are named, so the variables' paths are ``prior_coupling_<k>/<layer>/<var>``.
    """
    if config.prior != "flow":
        return []
    kept = config.latent_dim // 2
    changed = config.latent_dim - kept
    per_coordinate = 3 * SPLINE_BINS - 1 if config.prior_coupling == "spline" else 2
    nets = []
    for k in range(config.prior_layers):
        nets.append(keras.Sequential([
            keras.Input((kept,)),
            layers.Dense(config.prior_hidden, activation="silu", name="hidden_0"),
            layers.Dense(config.prior_hidden, activation="silu", name="hidden_1"),
            layers.Dense(changed * per_coordinate, kernel_initializer="zeros", name="params"),
        ], name=f"prior_coupling_{k}"))
    return nets


def flow_prior(config: ModelConfig, conditioners: list[keras.Sequential]) -> tfd.Distribution:
    """p(z) as a `tfd.TransformedDistribution` of N(0, I) by the coupling layers: event [L]."""
    latent_dim = config.latent_dim
    reverse = tfb.Permute(list(reversed(range(latent_dim))))
    steps: list[tfb.Bijector] = []
    for k, net in enumerate(conditioners):
        if k:
            steps.append(reverse)
        steps.append(tfb.RealNVP(num_masked=latent_dim // 2,
                                 bijector_fn=_coupling_map(net, config),
                                 name=f"coupling_{k}"))
    # tfb.Chain applies its last bijector first: base noise goes through coupling_0 first.
    return tfd.TransformedDistribution(standard_normal(latent_dim), tfb.Chain(steps[::-1]),
                                       name="flow_prior")


def _coupling_map(net: keras.Sequential, config: ModelConfig):
    """RealNVP's bijector_fn: kept coordinates (..., d) → the elementwise map of the others."""
    # Sizes from the config: inside a traced step RealNVP may only know them as tensors.
    kept_units = config.latent_dim // 2
    output_units = config.latent_dim - kept_units

    def bijector_fn(kept, unused_output_units, **unused):
        # The conditioner is a 2-D network; IWAE passes z as (k, N, L).
        lead = tf.shape(kept)[:-1]
        params = net(tf.reshape(kept, [-1, kept_units]))
        if config.prior_coupling == "affine":
            params = tf.reshape(params, tf.concat([lead, [output_units, 2]], 0))
            # tanh bounds one layer's scale to [e^-2, e^2]: no overflow early in training.
            log_scale = 2.0 * tf.tanh(params[..., 1] / 2.0)
            return tfb.Chain([tfb.Shift(params[..., 0]), tfb.Scale(log_scale=log_scale)])
        params = tf.reshape(params, tf.concat([lead, [output_units, 3 * SPLINE_BINS - 1]], 0))
        widths, heights, slopes = tf.split(params, [SPLINE_BINS, SPLINE_BINS, SPLINE_BINS - 1], -1)
        span = 2.0 * SPLINE_BOUND - SPLINE_BINS * _MIN_BIN
        return tfb.RationalQuadraticSpline(
            bin_widths=tf.nn.softmax(widths, axis=-1) * span + _MIN_BIN,
            bin_heights=tf.nn.softmax(heights, axis=-1) * span + _MIN_BIN,
            knot_slopes=tf.nn.softplus(slopes + _UNIT_SLOPE_OFFSET) + _MIN_SLOPE,
            range_min=-SPLINE_BOUND)

    return bijector_fn
