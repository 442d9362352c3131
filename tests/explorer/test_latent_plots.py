"""explorer.latent_plots: the latent map figure's traces, colours, layers and clickability."""

import math

import numpy as np
import pytest

from explorer.latent_plots import ENDPOINTS_TRACE, ISO_A_TRACE, ISO_THETA_TRACE, PATH_TRACE, latent_map_figure
from explorer.selection import DATA_TRACE, GRID_TRACE, trace_numbers

RNG = np.random.default_rng(0)
XY = RNG.normal(size=(50, 2))
FACTORS = np.column_stack([RNG.normal(3, 1, 50), RNG.uniform(0, 2 * math.pi, 50)])
RANGES = dict(x_range=(-3.0, 3.0), y_range=(-2.0, 4.0))


def test_dataset_points_carry_their_row_and_sit_under_the_click_grid():
    figure = latent_map_figure(XY, FACTORS, **RANGES)
    numbers = trace_numbers(figure)
    data = figure.data[numbers[DATA_TRACE]]
    assert [row[0] for row in data.customdata] == list(range(50))
    np.testing.assert_allclose(data.x, XY[:, 0], atol=1e-5)
    # The grid is the last trace and spans the plotted rectangle.
    assert numbers[GRID_TRACE] == len(figure.data) - 1
    grid = figure.data[-1]
    assert (min(grid.x), max(grid.x), min(grid.y), max(grid.y)) == (-3.0, 3.0, -2.0, 4.0)
    assert tuple(figure.layout.xaxis.range) == (-3.0, 3.0)


def test_theta_uses_a_cyclic_scale_pinned_to_the_angle_range():
    figure = latent_map_figure(XY, FACTORS, colour_by="θ", cyclic_scale="IceFire",
                               theta_range=(0.0, 2 * math.pi), **RANGES)
    marker = figure.data[trace_numbers(figure)[DATA_TRACE]].marker
    # θ = 0 and θ = 2π are the same image: with cmin/cmax at the range ends they share a colour.
    assert (marker.cmin, marker.cmax) == (0.0, pytest.approx(2 * math.pi))
    first, last = marker.colorscale[0][1], marker.colorscale[-1][1]
    assert first == last
    np.testing.assert_allclose(marker.color, FACTORS[:, 1])


def test_colour_by_a_and_none():
    by_a = latent_map_figure(XY, FACTORS, colour_by="a", **RANGES)
    np.testing.assert_allclose(by_a.data[trace_numbers(by_a)[DATA_TRACE]].marker.color, FACTORS[:, 0])
    plain = latent_map_figure(XY, None, colour_by="none", **RANGES)
    assert isinstance(plain.data[trace_numbers(plain)[DATA_TRACE]].marker.color, str)


def test_optional_layers_appear_only_when_given():
    bare = latent_map_figure(XY, FACTORS, **RANGES)
    assert set(trace_numbers(bare)) == {DATA_TRACE, GRID_TRACE}
    assert not bare.layout.images
    iso = np.zeros((3, 10, 2))
    full = latent_map_figure(
        XY, FACTORS, manifold=np.zeros((60, 60, 3), np.uint8), iso_a=iso, iso_theta=iso[:2],
        path=np.zeros((5, 2)), endpoints={"A": (0.0, 1.0), "B": (1.0, 0.0)}, **RANGES,
    )
    names = trace_numbers(full)
    assert {ISO_A_TRACE, ISO_THETA_TRACE, PATH_TRACE, ENDPOINTS_TRACE} <= set(names)
    # three iso-a curves in one trace, separated by gaps
    assert list(full.data[names[ISO_A_TRACE]].x).count(None) == 3
    assert list(full.data[names[ENDPOINTS_TRACE]].text) == ["A", "B"]
    # lines must not swallow clicks meant for the grid or the points
    for name in (ISO_A_TRACE, PATH_TRACE, ENDPOINTS_TRACE):
        assert full.data[names[name]].hoverinfo == "skip"
    (image,) = full.layout.images
    assert (image.x, image.y, image.sizex, image.sizey) == (-3.0, 4.0, 6.0, 6.0)
    assert image.layer == "below"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(xy=np.zeros((5, 3)), factors=None, colour_by="none"), "xy"),
        (dict(xy=XY, factors=FACTORS[:10]), "factors"),
        (dict(xy=XY, factors=FACTORS, colour_by="hue"), "colour_by"),
        (dict(xy=XY, factors=FACTORS, cyclic_scale="Jet"), "cyclic_scale"),
        (dict(xy=XY, factors=None, colour_by="a"), "factors"),
    ],
)
def test_bad_arguments_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        latent_map_figure(**kwargs, **RANGES)


def test_the_manifold_can_be_given_as_a_ready_data_uri():
    uri = "data:image/png;base64,iVBORw0KGgo="
    figure = latent_map_figure(XY, FACTORS, manifold=uri, **RANGES)
    assert figure.layout.images[0].source == uri


def test_error_heatmap_sits_behind_everything_with_each_cell_where_it_belongs():
    from explorer.latent_plots import ERROR_MAP_TRACE, add_error_heatmap
    from vaeflow.latent import cell_centres, cell_index

    n = 4
    errors = np.arange(1.0, n * n + 1) ** 3  # 1 … 4096 nats, every cell distinct
    figure = add_error_heatmap(latent_map_figure(XY, FACTORS, manifold=np.zeros((8, 8, 3), np.uint8), **RANGES),
                               errors, RANGES["x_range"], RANGES["y_range"])
    numbers = trace_numbers(figure)
    assert numbers[ERROR_MAP_TRACE] == 0 and numbers[GRID_TRACE] == len(figure.data) - 1
    assert not figure.layout.images
    heat = figure.data[0]
    for x, y in cell_centres(RANGES["x_range"], RANGES["y_range"], n):
        i, j = list(heat.y).index(pytest.approx(y)), list(heat.x).index(pytest.approx(x))
        assert 10 ** heat.z[i][j] == pytest.approx(errors[cell_index((x, y), **RANGES, n=n)], rel=1e-3)
    # the bar is labelled in nats at whole decades
    assert list(heat.colorbar.ticktext) == ["1", "10", "100", "1000", "10000"]


@pytest.mark.parametrize("errors", [np.ones(15), np.array([1.0, -1.0, 1.0, 1.0]), np.full(4, np.nan)])
def test_error_heatmap_refuses_bad_errors(errors):
    from explorer.latent_plots import add_error_heatmap

    with pytest.raises(ValueError, match="errors"):
        add_error_heatmap(latent_map_figure(XY, FACTORS, **RANGES), errors, (-3.0, 3.0), (-2.0, 4.0))


def test_the_map_has_equal_scales_and_its_size_does_not_depend_on_the_colour_bar():
    by_theta = latent_map_figure(XY, FACTORS, colour_by="θ", **RANGES).layout
    by_none = latent_map_figure(XY, FACTORS, colour_by="none", **RANGES).layout
    assert by_theta.yaxis.scaleanchor == "x" and by_theta.yaxis.scaleratio == 1.0
    assert by_theta.xaxis.constrain == by_theta.yaxis.constrain == "domain"  # ranges kept
    assert tuple(by_theta.xaxis.range) == RANGES["x_range"]
    bar = latent_map_figure(XY, FACTORS, colour_by="θ", **RANGES).data[0].marker.colorbar
    assert bar.orientation == "h"  # above the plot: it takes no width from the map
    assert by_theta.margin == by_none.margin


def test_t_and_a_carried_point_are_marked_and_iso_curves_labelled():
    curves = np.stack([np.column_stack([np.linspace(0, 1, 5), np.full(5, float(k))]) for k in range(3)])
    figure = latent_map_figure(
        XY, FACTORS, **RANGES, path=np.array([[0.0, 0.0], [1.0, 1.0]]), t_point=(0.5, 0.5),
        marker=(2.0, -1.0), iso_a=curves, iso_a_levels=[1.0, 2.0, 3.5])
    names = trace_numbers(figure)
    t = figure.data[names["t"]]
    assert (t.x[0], t.y[0]) == (0.5, 0.5)
    mark = figure.data[names["mark"]]
    assert (mark.x[0], mark.y[0]) == (2.0, -1.0) and mark.marker.symbol == "diamond"
    labels = figure.data[names["iso-a labels"]]
    assert list(labels.text) == ["a 1.00", "a 2.00", "a 3.50"]
    assert list(labels.x) == [1.0, 1.0, 1.0] and list(labels.y) == [0.0, 1.0, 2.0]  # at each curve's end
    assert names["click grid"] == len(figure.data) - 1  # still on top for clicks
    with pytest.raises(ValueError, match="levels"):
        latent_map_figure(XY, FACTORS, **RANGES, iso_a=curves, iso_a_levels=[1.0])
