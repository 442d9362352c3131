"""`ModelConfig`: every number that fixes a VAE's shape, in one typed, frozen, validated record.

It is saved as JSON beside the weights and checked on load, so a checkpoint can only ever be
read back into the network that wrote it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vaeflow import validate as _check
from vaeflow.records import JsonRecord

PRESETS = ("default", "study")
LIKELIHOODS = ("bernoulli", "continuous_bernoulli")
PRIORS = ("normal", "flow")
COUPLINGS = ("spline", "affine")

# Widths used when a field is left at None; one entry per preset (see architectures.py).
_DEFAULT_WIDTHS: dict[str, dict[str, tuple[int, ...]]] = {
    "default": {
        "encoder_channels": (16, 32, 64),
        "encoder_units": (256,),
        "decoder_units": (384, 512, 512),
        "decoder_channels": (),
    },
    "study": {
        "encoder_channels": (32, 64, 128, 256),
        "encoder_units": (128, 64, 32),
        "decoder_units": (1024,),
        "decoder_channels": (512, 256, 128, 64),
    },
}
_WIDTH_LENGTHS = {  # how many entries each preset's builder reads: (fewest, most)
    "default": {
        "encoder_channels": (1, 4),
        "encoder_units": (1, 3),
        "decoder_units": (1, 4),
        "decoder_channels": (0, 0),
    },
    "study": {
        "encoder_channels": (4, 4),
        "encoder_units": (3, 3),
        "decoder_units": (1, 1),
        "decoder_channels": (4, 4),
    },
}
_DEFAULT_FOURIER = {"default": (128, 0.5), "study": (0, 0.0)}


@dataclasses.dataclass(frozen=True)
class ModelConfig(JsonRecord):
    """The architecture and likelihood of a `VAE`.

    Arguments:
        preset: ``"default"`` (the compact network designed for 36×36 flow images) or
            ``"study"`` (the study's 54 M-parameter network, layer for layer).
        latent_dim: size L of z; q(z|x) is an L-variate normal with a full (Cholesky) covariance.
        likelihood: p(x|z), independent per pixel and channel: ``"bernoulli"`` on logits (the
            study's, pixel intensities in [0, 1] as targets) or ``"continuous_bernoulli"``.
        image_size: images are (image_size, image_size, 3), 8 to 512. The study preset's
            transposed convolutions fix it at 36.
        encoder_channels, encoder_units, decoder_units, decoder_channels: layer widths, read
            by the preset's builder in `architectures.py`; None picks the preset's own widths.
            The default preset has 1-4 encoder convolutions, 1-3 encoder dense layers, 1-4
            decoder dense layers and no decoder convolutions (``decoder_channels=()``).
        fourier_features, fourier_scale: the default decoder first maps z to
            [sin 2πBz, cos 2πBz, z] with B (L × fourier_features) fixed, drawn N(0, scale²) at
            initialisation; 0 features means no mapping. None picks the preset's value
            (default: 128 features, scale 0.5; study: none).
        min_scale: added to the softplus of the posterior's Cholesky diagonal, so the
            posterior never collapses to a singular covariance.
        prior: p(z): ``"normal"`` (N(0, I)) or ``"flow"`` (N(0, I) pushed through
            `prior_layers` learned coupling layers, see `priors.py`; needs latent_dim ≥ 2).
        prior_layers: coupling layers of the flow prior, 1 to 16.
        prior_hidden: width of the two hidden layers of each coupling's conditioner, 1 to 1024.
        prior_coupling: each coupling's elementwise map: ``"spline"`` (rational-quadratic,
            identity outside [-5, 5]) or ``"affine"`` (shift and scale, as RealNVP).

    Raises:
        ValueError: naming the field, for an unknown preset or likelihood, a non-positive
            width or size, or widths of the wrong length for the preset.

    >>> ModelConfig().latent_dim
    2
    >>> ModelConfig(latent_dim=0)
    Traceback (most recent call last):
    ...
    ValueError: ModelConfig.latent_dim must be an integer in [1, 64], got 0
    """

    preset: str = "default"
    latent_dim: int = 2
    likelihood: str = "bernoulli"
    image_size: int = 36
    encoder_channels: tuple[int, ...] | None = None
    encoder_units: tuple[int, ...] | None = None
    decoder_units: tuple[int, ...] | None = None
    decoder_channels: tuple[int, ...] | None = None
    fourier_features: int | None = None
    fourier_scale: float | None = None
    min_scale: float = 1e-4
    prior: str = "normal"
    prior_layers: int = 4
    prior_hidden: int = 64
    prior_coupling: str = "spline"

    def __post_init__(self) -> None:
        _check.one_of("ModelConfig.preset", self.preset, PRESETS)
        _check.one_of("ModelConfig.likelihood", self.likelihood, LIKELIHOODS)
        _set(self, "latent_dim", _check.integer("ModelConfig.latent_dim", self.latent_dim, 1, 64))
        _set(self, "image_size", _check.integer("ModelConfig.image_size", self.image_size, 8, 512))
        if self.preset == "study" and self.image_size != 36:
            raise ValueError(
                f"ModelConfig.image_size must be 36 for preset 'study' (its transposed "
                f"convolutions produce 36×36), got {self.image_size}"
            )
        for name, default in _DEFAULT_WIDTHS[self.preset].items():
            value = getattr(self, name)
            widths = default if value is None else _widths(self, name, value)
            fewest, most = _WIDTH_LENGTHS[self.preset][name]
            if not fewest <= len(widths) <= most:
                count = f"{fewest}" if fewest == most else f"{fewest} to {most}"
                raise ValueError(
                    f"ModelConfig.{name} must have {count} entries for preset {self.preset!r}, "
                    f"got {len(widths)}"
                )
            _set(self, name, widths)
        features, scale = _DEFAULT_FOURIER[self.preset]
        if self.fourier_features is not None:
            features = _check.integer("ModelConfig.fourier_features", self.fourier_features, 0, 4096)
        if self.fourier_scale is not None:
            scale = _check.real("ModelConfig.fourier_scale", self.fourier_scale)
        if self.preset == "study" and features:
            raise ValueError("ModelConfig.fourier_features must be 0 for preset 'study' (it has none)")
        if features and not 0.0 < scale <= 100.0:
            raise ValueError(f"ModelConfig.fourier_scale must be in (0, 100], got {scale!r}")
        _set(self, "fourier_features", features)
        _set(self, "fourier_scale", scale if features else 0.0)
        min_scale = _check.real("ModelConfig.min_scale", self.min_scale)
        if not 0.0 < min_scale < 1.0:
            raise ValueError(f"ModelConfig.min_scale must be in (0, 1), got {self.min_scale!r}")
        _set(self, "min_scale", min_scale)
        _check.one_of("ModelConfig.prior", self.prior, PRIORS)
        _check.one_of("ModelConfig.prior_coupling", self.prior_coupling, COUPLINGS)
        _set(self, "prior_layers", _check.integer("ModelConfig.prior_layers", self.prior_layers, 1, 16))
        _set(self, "prior_hidden", _check.integer("ModelConfig.prior_hidden", self.prior_hidden, 1, 1024))
        if self.prior == "flow" and self.latent_dim < 2:
            raise ValueError(
                "ModelConfig.prior 'flow' needs latent_dim >= 2 (a coupling layer conditions one "
                f"part of z on the other), got latent_dim {self.latent_dim}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)


def _set(config: ModelConfig, name: str, value: Any) -> None:
    object.__setattr__(config, name, value)


def _widths(config: ModelConfig, name: str, value: Any) -> tuple[int, ...]:
    try:
        widths = tuple(value)
    except TypeError:
        raise ValueError(f"ModelConfig.{name} must be a sequence of positive integers, got {value!r}") from None
    try:
        return tuple(_check.integer(f"ModelConfig.{name}", w, 1, 8192) for w in widths)
    except ValueError:
        raise ValueError(f"ModelConfig.{name} must hold integers in [1, 8192], got {value!r}") from None
