"""`FlowSpec`: every number of the flow dataset, in one typed, frozen, validated record.

The defaults are the study's chain: z ~ N(0, 0.3² I), then

    x = tanh ∘ rotate(θ) ∘ shear(a) ∘ scale(1, 0.5) ∘ shift(0, −2) (z),

with a ~ N(3, 1) and θ ~ U[0, 2π) drawn per image, rendered as a 100-level 'hot' contour
plot of p(x) on a 100×100 grid over [−1, 1]² at 36×36×3.
"""

from __future__ import annotations

import dataclasses
import math

from vaeflow.records import JsonRecord

# The colour maps a FlowSpec may name: those whose tables vaeflow.rendering.colormaps holds, so
# the renderer paints them without matplotlib.
CMAPS = ("hot", "viridis", "magma", "inferno", "plasma", "gray", "bone", "copper", "cool")


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
        ValueError: naming the field, for any non-finite or out-of-range value.

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
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2:
                raise ValueError(f"FlowSpec.{name} must have 2 entries, got {len(value)}")
            object.__setattr__(self, name, value)
        for name in ("base_scale", "a_mean", "a_std", "theta_min", "theta_max", "extent"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("grid_size", "image_size", "levels"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"FlowSpec.{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "tanh", bool(self.tanh))

        for name in ("base_scale", "a_mean", "a_std", "theta_min", "theta_max", "extent"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"FlowSpec.{name} must be finite, got {getattr(self, name)}")
        for name in ("shift", "scale"):
            if not all(math.isfinite(v) for v in getattr(self, name)):
                raise ValueError(f"FlowSpec.{name} must be finite, got {getattr(self, name)}")
        _positive(self, "base_scale")
        _positive(self, "a_std")
        _positive(self, "extent")
        if any(v == 0.0 for v in self.scale):
            raise ValueError(f"FlowSpec.scale must be non-zero on both axes, got {self.scale}")
        if not self.theta_max > self.theta_min:
            raise ValueError(
                f"FlowSpec.theta_max must exceed theta_min, got [{self.theta_min}, {self.theta_max})"
            )
        if self.grid_size < 2:
            raise ValueError(f"FlowSpec.grid_size must be >= 2, got {self.grid_size}")
        if not 8 <= self.image_size <= 512:
            raise ValueError(f"FlowSpec.image_size must be in [8, 512], got {self.image_size}")
        if not 1 <= self.levels <= 1000:
            raise ValueError(f"FlowSpec.levels must be in [1, 1000], got {self.levels}")
        if self.cmap not in CMAPS:
            raise ValueError(f"FlowSpec.cmap must be one of {CMAPS}, got {self.cmap!r}")

    @staticmethod
    def cmaps() -> tuple[str, ...]:
        return CMAPS


def _positive(spec: FlowSpec, name: str) -> None:
    if not getattr(spec, name) > 0:
        raise ValueError(f"FlowSpec.{name} must be > 0, got {getattr(spec, name)}")
