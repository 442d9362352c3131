"""The encoder and decoder networks of each preset, as Keras 3 layers.

Every encoder maps images (N, S, S, 3) in [0, 1] to the L + L(L+1)/2 numbers that fix
q(z|x) = N(loc, scale_tril scale_triluᵀ); every decoder maps z (N, L) to per-pixel logits
(N, S, S, 3) of p(x|z). The VAE (vae.py) turns those numbers into distributions.

References:
    Tancik et al., "Fourier Features Let Networks Learn High Frequency Functions in Low
    Dimensional Domains", NeurIPS 2020.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from vaeflow.models.config import ModelConfig


def posterior_params_size(latent_dim: int) -> int:
    """Numbers per image that fix an L-variate normal: a mean and a lower-triangular factor."""
    return latent_dim + latent_dim * (latent_dim + 1) // 2


def build_encoder(config: ModelConfig) -> keras.Sequential:
    return {"default": _default_encoder, "study": _study_encoder}[config.preset](config)


def build_decoder(config: ModelConfig) -> keras.Sequential:
    return {"default": _default_decoder, "study": _study_decoder}[config.preset](config)


# --- default: compact, designed for 36×36 flow images --------------------------------------
#
# Cost is what matters on a CPU: the study's network spends ~1.1 G multiply-adds per image, most
# of them in full-resolution 3×3 convolutions with 128-256 channels. The default spends ~2.4 M.
#
# Encoder: the images are smooth contour plots, so 4×4 stride-2 convolutions (36 → 18 → 9 → 5)
# lose nothing a 2-factor code needs, and leave only 5·5·64 numbers for the dense layer.
#
# Decoder: every image is a deterministic function of 2 numbers with sharp, thin bands, i.e. a
# high-frequency function of a 2-D input, which ReLU networks fit slowly ("spectral bias").
# Fourier features of z (Tancik et al., 2020) lift z to [sin 2πBz, cos 2πBz, z] first; then
# dense layers write all 36·36·3 logits at once. In a side-by-side run on this CPU this reached
# a given −ELBO ~4× sooner than a transposed-convolution decoder of the same cost.


class FourierFeatures(layers.Layer):
    """z (N, L) ↦ [sin 2πzB, cos 2πzB, z] (N, 2m + L), B (L, m) ~ N(0, scale²), fixed.

    B is a non-trainable weight, so it is saved and restored with the model's other weights.
    """

    def __init__(self, features: int, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.features, self.scale = int(features), float(scale)

    def build(self, input_shape) -> None:
        self.frequencies = self.add_weight(
            shape=(int(input_shape[-1]), self.features),
            initializer=keras.initializers.RandomNormal(stddev=self.scale),
            trainable=False,
            name="frequencies",
        )

    def call(self, z):
        phase = 2.0 * math.pi * keras.ops.matmul(z, self.frequencies)
        return keras.ops.concatenate([keras.ops.sin(phase), keras.ops.cos(phase), z], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * self.features + int(input_shape[-1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "features": self.features, "scale": self.scale}


def _default_encoder(config: ModelConfig) -> keras.Sequential:
    stack: list[layers.Layer] = [keras.Input(config.image_shape)]
    stack += [
        layers.Conv2D(channels, 4, strides=2, padding="same", activation="relu", name=f"conv_{i}")
        for i, channels in enumerate(config.encoder_channels)
    ]
    stack.append(layers.Flatten(name="flatten"))
    stack += [layers.Dense(units, activation="relu", name=f"dense_{i}")
              for i, units in enumerate(config.encoder_units)]
    stack.append(layers.Dense(posterior_params_size(config.latent_dim), name="posterior_params"))
    return keras.Sequential(stack, name="encoder")


def _default_decoder(config: ModelConfig) -> keras.Sequential:
    stack: list[layers.Layer] = [keras.Input((config.latent_dim,))]
    if config.fourier_features:
        stack.append(FourierFeatures(config.fourier_features, config.fourier_scale,
                                     name="fourier_features"))
    stack += [layers.Dense(units, activation="relu", name=f"dense_{i}")
              for i, units in enumerate(config.decoder_units)]
    stack += [
        layers.Dense(math.prod(config.image_shape), name="logits"),
        layers.Reshape(config.image_shape, name="reshape"),
    ]
    return keras.Sequential(stack, name="decoder")


# --- study: the study's network, layer for layer -------------------------------------------


def _study_encoder(config: ModelConfig) -> keras.Sequential:
    stack: list[layers.Layer] = [keras.Input(config.image_shape)]
    for i, channels in enumerate(config.encoder_channels):
        stack += [
            layers.Conv2D(channels, 3, padding="same", name=f"conv_{i}"),
            layers.BatchNormalization(name=f"conv_{i}_norm"),
            layers.LeakyReLU(negative_slope=0.1, name=f"conv_{i}_act"),
        ]
    stack.append(layers.Flatten(name="flatten"))
    for i, units in enumerate(config.encoder_units):
        stack += [layers.Dense(units, name=f"dense_{i}"),
                  layers.LeakyReLU(negative_slope=0.1, name=f"dense_{i}_act")]
    stack.append(layers.Dense(posterior_params_size(config.latent_dim), name="posterior_params"))
    return keras.Sequential(stack, name="encoder")


def _study_decoder(config: ModelConfig) -> keras.Sequential:
    (units,) = config.decoder_units
    c1, c2, c3, c4 = config.decoder_channels
    # 4 → 8 (same) → 15 (same, output_padding 1) → 33 (valid, output_padding 1) → 36 (valid, s1)
    transposed = [
        layers.Conv2DTranspose(c1, 4, strides=2, padding="same", name="deconv_0"),
        layers.Conv2DTranspose(c2, 4, strides=2, padding="same", output_padding=1, name="deconv_1"),
        layers.Conv2DTranspose(c3, 4, strides=2, padding="valid", output_padding=1, name="deconv_2"),
        layers.Conv2DTranspose(c4, 4, strides=1, padding="valid", name="deconv_3"),
    ]
    stack: list[layers.Layer] = [
        keras.Input((config.latent_dim,)),
        layers.Dense(4 * 4 * units, activation="relu", name="dense_0"),
        layers.Reshape((4, 4, units), name="reshape"),
    ]
    for i, layer in enumerate(transposed):
        stack += [layer, layers.BatchNormalization(name=f"deconv_{i}_norm"),
                  layers.LeakyReLU(negative_slope=0.1, name=f"deconv_{i}_act")]
    stack.append(layers.Conv2D(3, 3, padding="same", name="logits"))
    return keras.Sequential(stack, name="decoder")
