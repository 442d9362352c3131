"""The encoder and decoder networks of each preset, as Keras 3 layers.

Every encoder maps images (N, S, S, 3) in [0, 1] to the L + L(L+1)/2 numbers that fix
q(z|x) = N(loc, scale_tril scale_triluᵀ); every decoder maps z (N, L) to per-pixel logits
(N, S, S, 3) of p(x|z). The VAE (vae.py) turns those numbers into distributions.
"""

from __future__ import annotations

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
# of them in full-resolution 3×3 convolutions with 128-256 channels. Here every convolution is
# strided (the images are smooth contour plots, so a 4×4 stride-2 kernel loses nothing a
# 2-factor code needs) and channel counts stay small.


def _default_encoder(config: ModelConfig) -> keras.Sequential:
    c1, c2 = config.encoder_channels
    (units,) = config.encoder_units
    return keras.Sequential(
        [
            keras.Input(config.image_shape),
            layers.Conv2D(c1, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2D(c2, 4, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(units, activation="relu"),
            layers.Dense(posterior_params_size(config.latent_dim)),
        ],
        name="encoder",
    )


def _default_decoder(config: ModelConfig) -> keras.Sequential:
    (units,) = config.decoder_units
    c1, c2 = config.decoder_channels
    base = config.image_size // 4
    return keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            layers.Dense(units, activation="relu"),
            layers.Dense(base * base * c1, activation="relu"),
            layers.Reshape((base, base, c1)),
            layers.Conv2DTranspose(c2, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(3, 4, strides=2, padding="same"),
        ],
        name="decoder",
    )


# --- study: the study's network, layer for layer -------------------------------------------


def _study_encoder(config: ModelConfig) -> keras.Sequential:
    stack: list[layers.Layer] = [keras.Input(config.image_shape)]
    for channels in config.encoder_channels:
        stack += [
            layers.Conv2D(channels, 3, padding="same"),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.1),
        ]
    stack.append(layers.Flatten())
    for units in config.encoder_units:
        stack += [layers.Dense(units), layers.LeakyReLU(negative_slope=0.1)]
    stack.append(layers.Dense(posterior_params_size(config.latent_dim)))
    return keras.Sequential(stack, name="encoder")


def _study_decoder(config: ModelConfig) -> keras.Sequential:
    (units,) = config.decoder_units
    c1, c2, c3, c4 = config.decoder_channels
    # 4 → 8 (same) → 15 (same, output_padding 1) → 33 (valid, output_padding 1) → 36 (valid, s1)
    transposed = [
        layers.Conv2DTranspose(c1, 4, strides=2, padding="same"),
        layers.Conv2DTranspose(c2, 4, strides=2, padding="same", output_padding=1),
        layers.Conv2DTranspose(c3, 4, strides=2, padding="valid", output_padding=1),
        layers.Conv2DTranspose(c4, 4, strides=1, padding="valid"),
    ]
    stack: list[layers.Layer] = [
        keras.Input((config.latent_dim,)),
        layers.Dense(4 * 4 * units, activation="relu"),
        layers.Reshape((4, 4, units)),
    ]
    for layer in transposed:
        stack += [layer, layers.BatchNormalization(), layers.LeakyReLU(negative_slope=0.1)]
    stack.append(layers.Conv2D(3, 3, padding="same"))
    return keras.Sequential(stack, name="decoder")
