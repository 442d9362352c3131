"""From a Plotly click to a latent point: the selection payload and the click-catching grid.

`st.plotly_chart(..., on_select=...)` only reports a click that lands on a marker. So that a
click on empty space means something too, the latent map carries an invisible dense grid of
markers (`click_grid_trace`); a click anywhere lands on a grid marker or on a dataset point,
and `click_from_selection` turns the payload Streamlit hands back into a `Click`.

These are pure functions of plain data (no Streamlit), tested without a browser.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from vaeflow.latent import latent_grid

DATA_TRACE = "dataset"
GRID_TRACE = "click grid"


@dataclasses.dataclass(frozen=True)
class Click:
    """Where the user clicked on the latent map.

    Attributes:
        xy: the (x, y) of the plotted latent plane.
        index: the dataset row when a dataset point was clicked, else None (empty space).
    """

    xy: tuple[float, float]
    index: int | None = None


def click_grid_trace(
    x_range: Sequence[float], y_range: Sequence[float], n: int = 80
) -> go.Scattergl:
    """An invisible n×n grid of markers over the plot ranges that catches clicks on empty space.

    The markers are transparent (marker opacity 0) but still hit-tested: `hoverinfo="none"`
    hides their tooltip while keeping the click events (``"skip"`` would drop them). The
    selected marker is drawn as a small ring so the user sees where the click landed.
    WebGL keeps ~10⁴ markers cheap to draw and to hit-test.
    """
    # Rounded: the figure travels to the browser as JSON, and 5 decimals are far below a pixel.
    xy = np.round(latent_grid(x_range, y_range, n), 5)
    return go.Scattergl(
        x=xy[:, 0].tolist(),
        y=xy[:, 1].tolist(),
        mode="markers",
        name=GRID_TRACE,
        showlegend=False,
        hoverinfo="none",
        marker=dict(size=6, opacity=0.0, color="#ffffff"),
        selected=dict(marker=dict(opacity=1.0, size=11, color="#ffffff")),
        unselected=dict(marker=dict(opacity=0.0)),
    )


def trace_numbers(figure: go.Figure) -> dict[str, int]:
    """Trace name -> its curve number (position in `figure.data`), as clicks report it."""
    return {trace.name: i for i, trace in enumerate(figure.data) if trace.name}


def click_from_selection(
    event: Mapping[str, Any] | None,
    *,
    data_curve: int | None,
    grid_curve: int | None,
    n_points: int,
) -> Click | None:
    """The click described by a Streamlit Plotly selection, or None when there is none.

    A click on a dataset point wins over a grid marker reported with it. A dataset point is
    identified by its `customdata[0]` (the dataset row) when present, else by its
    `point_index`; a grid marker by its (x, y).

    Arguments:
        event: the `st.plotly_chart` return value / session-state entry
            (``{"selection": {"points": [...], ...}}``), or the inner selection itself.
        data_curve: curve number of the dataset trace (None if absent).
        grid_curve: curve number of the click-grid trace (None if absent).
        n_points: number of dataset rows; an index outside [0, n_points) is ignored.

    Returns:
        Click, or None for an empty/deselected selection, or points of other traces only.
    """
    if not event:
        return None
    selection = event.get("selection", event)
    points = (selection or {}).get("points") or []
    grid_click = None
    for point in points:
        curve = point.get("curve_number")
        xy = _finite_xy(point)
        if curve is not None and curve == data_curve:
            index = _data_index(point)
            if index is not None and 0 <= index < n_points and xy is not None:
                return Click(xy=xy, index=index)
        elif curve is not None and curve == grid_curve and xy is not None and grid_click is None:
            grid_click = Click(xy=xy, index=None)
    return grid_click


def _finite_xy(point: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        x, y = float(point["x"]), float(point["y"])
    except (KeyError, TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def _data_index(point: Mapping[str, Any]) -> int | None:
    custom = point.get("customdata")
    if isinstance(custom, (list, tuple)) and custom:
        custom = custom[0]
    candidate = custom if custom is not None else point.get("point_index", point.get("point_number"))
    try:
        value = float(candidate)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() else None
