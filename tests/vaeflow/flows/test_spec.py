"""FlowSpec: the study's defaults, validation that names the field, JSON round trip."""

from __future__ import annotations

import math

import pytest

from vaeflow.flows.spec import FlowSpec


def test_defaults_are_the_studys_chain():
    spec = FlowSpec()
    assert (spec.base_scale, spec.shift, spec.scale) == (0.3, (0.0, -2.0), (1.0, 0.5))
    assert (spec.a_mean, spec.a_std, spec.theta_min, spec.theta_max) == (3.0, 1.0, 0.0, 2 * math.pi)
    assert (spec.tanh, spec.grid_size, spec.extent, spec.image_size, spec.levels, spec.cmap) == (
        True, 100, 1.0, 36, 100, "hot",
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("base_scale", 0.0),
        ("base_scale", -1.0),
        ("base_scale", float("nan")),
        ("a_std", 0.0),
        ("a_mean", float("inf")),
        ("extent", 0.0),
        ("shift", (1.0,)),
        ("shift", (0.0, float("nan"))),
        ("scale", (1.0, 0.0)),
        ("theta_max", 0.0),
        ("grid_size", 1),
        ("grid_size", 2.5),
        ("grid_size", True),
        ("image_size", 7),
        ("image_size", 513),
        ("levels", 0),
        ("cmap", "jet"),
    ],
)
def test_bad_values_are_value_errors_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"FlowSpec.{field}"):
        FlowSpec(**{field: value})


def test_values_are_normalised_and_frozen():
    spec = FlowSpec(grid_size=50.0, shift=[1, 2], base_scale=1)
    assert spec.grid_size == 50 and isinstance(spec.grid_size, int)
    assert spec.shift == (1.0, 2.0) and isinstance(spec.base_scale, float)
    with pytest.raises(AttributeError):
        spec.levels = 3


def test_json_round_trip_and_unknown_keys():
    spec = FlowSpec(cmap="viridis", tanh=False, shift=(0.5, -1.0))
    assert FlowSpec.from_json(spec.to_json()) == spec
    assert FlowSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="colour"):
        FlowSpec.from_dict({**spec.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="JSON object"):
        FlowSpec.from_dict([1, 2])


def test_every_listed_cmap_is_accepted():
    for name in FlowSpec.cmaps():
        assert FlowSpec(cmap=name).cmap == name
