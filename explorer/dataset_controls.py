"""The Dataset page's controls as plain values: their ranges, a `FlowSpec` to and from them, and
the page's link (query parameters) to and from them.

A view is a dict ``{control name: value}`` over `CONTROLS` (the spec's controls, then the two
seeds). Links carry only the values that differ from the defaults, so the study's chain is the
bare page address; a link value that is malformed or out of its control's range is reported and
that control keeps its default.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import vaeflow

SEED_MAX = 2**31 - 1
IMAGE_SIZES = (16, 24, 32, 36, 48, 64, 96, 128)


@dataclasses.dataclass(frozen=True)
class Control:
    """One control: "float" / "int" (inclusive range, and a step for floats), "bool" or "choice"."""

    kind: str
    low: float = 0
    high: float = 0
    step: float = 1
    choices: tuple = ()

    def parse(self, text: str) -> Any:
        """The control value that `text` (a link's value) names; ValueError when none."""
        text = text.strip()
        if self.kind == "bool":
            if text.lower() in ("1", "true", "on"):
                return True
            if text.lower() in ("0", "false", "off"):
                return False
            raise ValueError("not true/false")
        if self.kind == "choice":
            for choice in self.choices:
                if text == str(choice):
                    return choice
            raise ValueError("not one of the choices")
        if self.kind == "int":
            if not text.lstrip("+-").isdigit():
                raise ValueError("not a whole number")
            value: float = int(text)
        else:
            value = float(text)  # ValueError for "abc"
            if not math.isfinite(value):
                raise ValueError("not finite")
            # the slider's grid, so the control shows exactly the value it holds
            decimals = max(0, -math.floor(math.log10(self.step)))
            value = round(self.low + round((value - self.low) / self.step) * self.step, decimals)
        if not self.low <= value <= self.high:
            raise ValueError(f"outside [{self.low:g}, {self.high:g}]")
        return value

    def text(self, value: Any) -> str:
        """The link's text for `value` (inverse of `parse`)."""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "float":
            return format(float(value), ".10g")
        return str(value)


CONTROLS: dict[str, Control] = {
    "base_scale": Control("float", 0.05, 1.0, 0.01),
    "shift_x": Control("float", -4.0, 4.0, 0.05),
    "shift_y": Control("float", -4.0, 4.0, 0.05),
    "scale_x": Control("float", 0.1, 3.0, 0.05),
    "scale_y": Control("float", 0.1, 3.0, 0.05),
    "a_mean": Control("float", -8.0, 8.0, 0.1),
    "a_std": Control("float", 0.01, 4.0, 0.01),
    "theta_start": Control("int", 0, 359),
    "theta_span": Control("int", 1, 360),
    "tanh": Control("bool"),
    "grid_size": Control("int", 16, 256),
    "extent": Control("float", 0.25, 4.0, 0.05),
    "levels": Control("int", 1, 256),
    "cmap": Control("choice", choices=vaeflow.FlowSpec.cmaps()),
    "image_size": Control("choice", choices=IMAGE_SIZES),
    "seed": Control("int", 0, SEED_MAX),
    "split_seed": Control("int", 0, SEED_MAX),
}
SPEC_CONTROLS = tuple(name for name in CONTROLS if name not in ("seed", "split_seed"))


def theta_range(start_deg: float, span_deg: float) -> tuple[float, float]:
    """(θ_min, θ_max) in radians from a start angle and a positive span, both in degrees."""
    if not span_deg > 0:
        raise ValueError(f"span_deg must be > 0, got {span_deg}")
    return math.radians(start_deg), math.radians(start_deg + span_deg)


def theta_degrees(spec: "vaeflow.FlowSpec") -> tuple[int, int]:
    """Inverse of `theta_range` for a spec, rounded to whole degrees (span at least 1°)."""
    start = int(round(math.degrees(spec.theta_min))) % 360
    span = int(round(math.degrees(spec.theta_max - spec.theta_min)))
    return start, min(360, max(1, span))


def _clamp(value: float, control: Control) -> float:
    return min(control.high, max(control.low, value))


def spec_values(spec: "vaeflow.FlowSpec | None" = None) -> dict[str, Any]:
    """The spec controls' values that show `spec` (default: the study's chain), each clamped
    to its control's range and θ rounded to whole degrees."""
    spec = spec or vaeflow.FlowSpec()
    c = CONTROLS
    start, span = theta_degrees(spec)
    return {
        "base_scale": _clamp(spec.base_scale, c["base_scale"]),
        "shift_x": _clamp(spec.shift[0], c["shift_x"]),
        "shift_y": _clamp(spec.shift[1], c["shift_y"]),
        "scale_x": _clamp(abs(spec.scale[0]), c["scale_x"]),
        "scale_y": _clamp(abs(spec.scale[1]), c["scale_y"]),
        "a_mean": _clamp(spec.a_mean, c["a_mean"]),
        "a_std": _clamp(spec.a_std, c["a_std"]),
        "theta_start": start,
        "theta_span": span,
        "tanh": bool(spec.tanh),
        "grid_size": int(_clamp(spec.grid_size, c["grid_size"])),
        "extent": _clamp(spec.extent, c["extent"]),
        "levels": int(_clamp(spec.levels, c["levels"])),
        "cmap": spec.cmap if spec.cmap in c["cmap"].choices else "hot",
        "image_size": spec.image_size if spec.image_size in IMAGE_SIZES else 36,
    }


def default_values() -> dict[str, Any]:
    """Every control's default: the study's chain, seed 0, split seed 0."""
    return {**spec_values(), "seed": 0, "split_seed": 0}


def spec_from_values(values: Mapping[str, Any]) -> "vaeflow.FlowSpec":
    """The `FlowSpec` that the spec controls' `values` describe (θ given in degrees)."""
    theta_min, theta_max = theta_range(values["theta_start"], values["theta_span"])
    return vaeflow.FlowSpec(
        base_scale=float(values["base_scale"]),
        shift=(float(values["shift_x"]), float(values["shift_y"])),
        scale=(float(values["scale_x"]), float(values["scale_y"])),
        a_mean=float(values["a_mean"]), a_std=float(values["a_std"]),
        theta_min=theta_min, theta_max=theta_max,
        tanh=bool(values["tanh"]), grid_size=int(values["grid_size"]),
        extent=float(values["extent"]), levels=int(values["levels"]),
        cmap=str(values["cmap"]), image_size=int(values["image_size"]),
    )


def link_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters of a view: the controls whose value differs from the default."""
    defaults = default_values()
    return {name: CONTROLS[name].text(values[name]) for name in CONTROLS
            if name in values and values[name] != defaults[name]}


def parse_link(query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The view a link describes, and what in it was not understood.

    Returns:
        (values, problems): `values` holds every control (the defaults, replaced by each link
        value that parses and lies in its control's range); `problems` names each parameter
        that was unknown or refused, e.g. ``"a_mean='abc'"``, in the link's order.
    """
    values, problems = default_values(), []
    for name, text in query.items():
        control = CONTROLS.get(name)
        if control is None:
            problems.append(f"{name}={str(text)[:40]!r}")
            continue
        try:
            values[name] = control.parse(str(text))
        except ValueError:
            problems.append(f"{name}={str(text)[:40]!r}")
    return values, problems
