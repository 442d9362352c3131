"""FlowSpec holds only what the renderer can draw: every field is bounded (`LIMITS`), and the
renderer draws a valid image at each corner of the bounds."""

from __future__ import annotations

import numpy as np
import pytest

from vaeflow.datasets import sample_factors
from vaeflow.flows.spec import LIMITS, FlowSpec
from vaeflow.rendering import render_images


@pytest.mark.parametrize("field, value", [
    ("grid_size", 20_000),
    ("grid_size", 1_000_000),
    ("grid_size", 513),
    ("image_size", 10_000),
    ("base_scale", 1e308),
    ("base_scale", 1e-300),
    ("extent", 1e300),
    ("a_mean", -1e9),
    ("a_std", 1e30),
    ("theta_min", -1e300),
    ("theta_max", 1e300),
    ("shift", (1e300, 0.0)),
    ("scale", (1e-300, 1.0)),
    ("scale", (1.0, -1e300)),
    ("tanh", "false"),  # was bool("false") == True
    ("tanh", 1),
    ("levels", 10_000),
    ("cmap", ["hot"]),
])
def test_out_of_bounds_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"FlowSpec\.{field}\b"):
        FlowSpec(**{field: value})


def test_every_bounded_field_has_a_limit():
    numeric = {"base_scale", "shift", "scale", "a_mean", "a_std", "theta_min", "theta_max",
               "grid_size", "extent", "image_size", "levels"}
    assert set(LIMITS) == numeric


CORNERS = [
    dict(base_scale=LIMITS["base_scale"][0]),
    dict(base_scale=LIMITS["base_scale"][1]),
    dict(scale=(1e3, -1e3)),
    dict(scale=(1e-3, -1e-3)),
    dict(shift=(1e3, -1e3)),
    dict(extent=1e3),
    dict(extent=1e-3),
    dict(extent=1e3, tanh=False),
    dict(a_mean=1e3, a_std=1e3),
    dict(a_mean=-1e3, a_std=1e-300),
    dict(theta_min=-1e3, theta_max=1e3),
    dict(base_scale=1e-4, extent=1e3, tanh=False),
    dict(base_scale=1e3, extent=1e-3, scale=(1e-3, 1e-3)),
]


@pytest.mark.parametrize("fields", CORNERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_the_renderer_draws_every_corner_of_the_bounds(fields):
    spec = FlowSpec(**fields)
    factors = sample_factors(3, seed=0, spec=spec)
    images = render_images(factors[:, 0], factors[:, 1], spec)
    assert images.shape == (3, 36, 36, 3) and images.dtype == np.uint8
