"""`FlowSpec`: every number of the flow dataset, in one typed, frozen, validated record.

The defaults are the study's chain: z ~ N(0, 0.3² I), then

    x = tanh ∘ rotate(θ) ∘ shear(a) ∘ scale(1, 0.5) ∘ shift(0, −2) (z),

with a ~ N(3, 1) and θ ~ U[0, 2π) drawn per image, rendered as a 100-level 'hot' contour
plot of p(x) on a 100×100 grid over [−1, 1]² at 36×36×3.
"""

from __future__ import annotations

import dataclasses
import math

from vaeflow import validate as _check
from vaeflow.records import JsonRecord

# The colour maps a FlowSpec may name: those whose tables vaeflow.rendering.colormaps holds, so
# the renderer paints them without matplotlib.
CMAPS = ("hot", "viridis", "magma", "inferno", "plasma", "gray", "bone", "copper", "cool")

# What the renderer can draw on a desktop machine, per field: [low, high] (for `shift` and
# `scale`, the magnitude of each entry). `base_scale`, `a_std` and `extent` must also be > 0.
# The renderer holds a chunk of 512 images × grid_size² float32 values in flight per worker:
# grid_size 400 peaked at 1.6 GB resident for 1,024 images, and the memory grows as
# grid_size², so 512 keeps a render under ~2.5 GB. Past a magnitude of 1e3 the density
# underflows to a blank image or overflows float32, which draws nothing a user could want.
LIMITS: dict[str, tuple[float, float]] = {
    "base_scale": (1e-4, 1e3),
    "shift": (0.0, 1e3),
    "scale": (1e-3, 1e3),
    "a_mean": (-1e3, 1e3),
    "a_std": (0.0, 1e3),
    "theta_min": (-1e3, 1e3),
    "theta_max": (-1e3, 1e3),
    "extent": (1e-3, 1e3),
    "grid_size": (2, 512),
    "image_size": (8, 512),
    "levels": (1, 1000),
}


@dataclasses.dataclass(frozen=True)
class FlowSpec(JsonRecord):
    """The flow, its factor distribution and its rendering.

    Arguments:
        base_scale: standard deviation of the 2-D normal base, per axis.
        shift: f1, added to z.
        scale: f2, multiplies each coordinate.
        a_mean, a_std: the shear coefficient a ~ N(a_mean, a_std²), one per image.
        theta_min, theta_max: the rotation angle θ ~ U[theta_min, theta_max), one per image.
        tanh: whether f5 (elementwise tanh) squashes the result into (−1, 1)².
        grid_size: points per axis of the density grid.
        extent: the grid spans [−extent, extent]².
        image_size: output images are (image_size, image_size, 3) uint8.
        levels: number of filled contour levels asked of the renderer (matplotlib's `levels=`).
        cmap: colour map name.

    Raises:
        ValueError: naming the field, for any non-finite value or one outside `LIMITS`.

    >>> FlowSpec().image_size
    36
    >>> FlowSpec(base_scale=0.0)
    Traceback (most recent call last):
    ...
    ValueError: FlowSpec.base_scale must be > 0, got 0.0
    """

    base_scale: float = 0.3
    shift: tuple[float, float] = (0.0, -2.0)
    scale: tuple[float, float] = (1.0, 0.5)
    a_mean: float = 3.0
    a_std: float = 1.0
    theta_min: float = 0.0
    theta_max: float = 2 * math.pi
    tanh: bool = True
    grid_size: int = 100
    extent: float = 1.0
    image_size: int = 36
    levels: int = 100
    cmap: str = "hot"

    def __post_init__(self) -> None:
        for name in ("shift", "scale"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
                raise ValueError(f"FlowSpec.{name} must have 2 entries, got {value!r}")
            high = LIMITS[name][1]
            entries = tuple(_check.real(f"FlowSpec.{name}", v, -high, high) for v in value)
            object.__setattr__(self, name, entries)
        for name in ("base_scale", "a_mean", "a_std", "theta_min", "theta_max", "extent"):
            low, high = LIMITS[name]
            positive = name in ("base_scale", "a_std", "extent")
            value = _check.real(f"FlowSpec.{name}", getattr(self, name), positive=positive)
            object.__setattr__(self, name, _check.real(f"FlowSpec.{name}", value, low, high))
        for name in ("grid_size", "image_size", "levels"):
            low, high = LIMITS[name]
            object.__setattr__(self, name, _check.integer(f"FlowSpec.{name}", getattr(self, name), low, high))
        object.__setattr__(self, "tanh", _check.boolean("FlowSpec.tanh", self.tanh))

        if any(abs(v) < LIMITS["scale"][0] for v in self.scale):
            raise ValueError(f"FlowSpec.scale must be at least {LIMITS['scale'][0]} in magnitude "
                             f"on both axes, got {self.scale}")
        if not self.theta_max > self.theta_min:
            raise ValueError(
                f"FlowSpec.theta_max must exceed theta_min, got [{self.theta_min}, {self.theta_max})"
            )
        if not isinstance(self.cmap, str) or self.cmap not in CMAPS:
            raise ValueError(f"FlowSpec.cmap must be one of {CMAPS}, got {self.cmap!r}")

    @staticmethod
    def cmaps() -> tuple[str, ...]:
        return CMAPS

