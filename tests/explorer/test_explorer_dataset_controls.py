"""The Dataset page's controls as values: spec round trip, and its link (query parameters)."""

import math

import pytest

import vaeflow
from explorer.dataset_controls import (CONTROLS, default_values, link_query, parse_link,
                                       spec_from_values, spec_values)


def test_the_default_controls_show_the_study_chain_and_make_a_bare_link():
    assert spec_from_values(default_values()) == vaeflow.FlowSpec()
    assert link_query(default_values()) == {}
    assert parse_link({}) == (default_values(), [])


def test_a_view_survives_its_link():
    values = {**default_values(), "a_mean": 2.5, "shift_y": -1.25, "theta_start": 30,
              "theta_span": 90, "tanh": False, "cmap": "viridis", "image_size": 64,
              "levels": 12, "seed": 2**31 - 1, "split_seed": 7}
    query = link_query(values)
    assert query["a_mean"] == "2.5" and query["tanh"] == "false" and "base_scale" not in query
    assert parse_link(query) == (values, [])
    spec = spec_from_values(values)
    assert spec.a_mean == 2.5 and spec.theta_min == pytest.approx(math.radians(30))
    assert spec.theta_max == pytest.approx(math.radians(120)) and spec.image_size == 64


@pytest.mark.parametrize("name, text", [
    ("a_mean", "abc"), ("a_mean", "nan"), ("a_mean", "inf"), ("a_mean", "99"),
    ("theta_span", "0"), ("theta_span", "7.5"), ("levels", "1e3"), ("seed", "-1"),
    ("seed", str(2**64)), ("tanh", "maybe"), ("cmap", "jet"), ("image_size", "37"),
    ("grid_size", ""),
])
def test_a_bad_link_value_is_reported_and_its_control_keeps_the_default(name, text):
    values, problems = parse_link({"a_std": "0.5", name: text})
    assert problems == [f"{name}={text!r}"]
    assert values == {**default_values(), "a_std": 0.5}


def test_link_values_land_on_the_slider_grid_and_spec_values_clamp_to_the_ranges():
    values, problems = parse_link({"a_mean": "2.54", "base_scale": "0.333"})
    assert not problems and values["a_mean"] == 2.5 and values["base_scale"] == 0.33
    wide = vaeflow.FlowSpec(a_mean=20.0, grid_size=512)
    shown = spec_values(wide)
    assert shown["a_mean"] == CONTROLS["a_mean"].high and shown["grid_size"] == 256


def test_other_pages_parameters_are_ignored():
    assert parse_link({"model": "run-1", "t": "0.5", "seed": "4"}) == (
        {**default_values(), "seed": 4}, [])
