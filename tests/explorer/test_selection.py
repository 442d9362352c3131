"""explorer.selection: Plotly click payloads -> latent points; the click-catching grid."""

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.selection import (
    DATA_TRACE,
    GRID_TRACE,
    Click,
    click_from_selection,
    click_grid_trace,
    trace_numbers,
)


def _event(*points):
    return {"selection": {"points": list(points), "point_indices": [], "box": [], "lasso": []}}


def test_a_click_on_a_dataset_point_gives_its_row_from_customdata():
    event = _event({"curve_number": 1, "point_number": 7, "point_index": 7, "x": 0.5, "y": -1.25, "customdata": [42]})
    assert click_from_selection(event, data_curve=1, grid_curve=2, n_points=100) == Click((0.5, -1.25), 42)


def test_without_customdata_the_point_index_is_the_row():
    event = _event({"curve_number": 0, "point_index": 3, "x": 1.0, "y": 2.0})
    assert click_from_selection(event, data_curve=0, grid_curve=1, n_points=10) == Click((1.0, 2.0), 3)


def test_a_click_on_empty_space_lands_on_the_grid_and_gives_its_xy():
    event = _event({"curve_number": 2, "point_index": 812, "x": -0.75, "y": 3.0})
    click = click_from_selection(event, data_curve=1, grid_curve=2, n_points=100)
    assert click == Click((-0.75, 3.0), None)


def test_a_dataset_point_wins_over_a_grid_marker_in_the_same_payload():
    grid = {"curve_number": 2, "point_index": 5, "x": 0.0, "y": 0.0}
    data = {"curve_number": 1, "point_index": 9, "x": 0.01, "y": 0.02, "customdata": [9]}
    assert click_from_selection(_event(grid, data), data_curve=1, grid_curve=2, n_points=10).index == 9


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        _event(),  # a click that deselected everything
        _event({"curve_number": 0, "point_index": 1, "x": 1.0, "y": 1.0}),  # another trace (a path)
        _event({"curve_number": 1, "point_index": 1, "x": 1.0, "y": 1.0, "customdata": [500]}),  # row out of range
        _event({"curve_number": 2, "point_index": 1, "x": float("nan"), "y": 1.0}),
        _event({"curve_number": 2, "point_index": 1, "y": 1.0}),
    ],
)
def test_nothing_usable_gives_none(event):
    assert click_from_selection(event, data_curve=1, grid_curve=2, n_points=100) is None


def test_the_inner_selection_dict_is_accepted_too():
    inner = _event({"curve_number": 2, "x": 1.0, "y": 2.0})["selection"]
    assert click_from_selection(inner, data_curve=1, grid_curve=2, n_points=1) == Click((1.0, 2.0))


def test_grid_trace_covers_the_ranges_invisibly_but_clickably():
    trace = click_grid_trace((-2.0, 2.0), (-1.0, 3.0), n=11)
    x, y = np.asarray(trace.x), np.asarray(trace.y)
    assert len(x) == 121
    assert (x.min(), x.max(), y.min(), y.max()) == (-2.0, 2.0, -1.0, 3.0)
    # spacing: 11 evenly spaced columns
    np.testing.assert_allclose(np.unique(x), np.linspace(-2.0, 2.0, 11))
    assert trace.marker.opacity == 0.0 and trace.unselected.marker.opacity == 0.0
    # "skip" would drop the click events; "none" only hides the tooltip.
    assert trace.hoverinfo == "none"
    assert isinstance(trace.x, tuple | list)  # plain Python lists, as the selection payload needs


def test_trace_numbers_are_positions_in_the_figure():
    figure = go.Figure([go.Scatter(name="path"), go.Scattergl(name=DATA_TRACE), click_grid_trace((0, 1), (0, 1), 3)])
    assert trace_numbers(figure) == {"path": 0, DATA_TRACE: 1, GRID_TRACE: 2}
