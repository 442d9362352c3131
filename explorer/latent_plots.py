"""Plotly figure of the latent map: encoded dataset, manifold map, iso-factor curves, a path.

One builder, `latent_map_figure`, takes plain arrays (already computed by `vaeflow.latent`
through the cached functions of `explorer.cache`) and returns a `go.Figure`; it does no maths
beyond picking colours. Trace names are fixed (`selection.DATA_TRACE`, `selection.GRID_TRACE`,
...) so a click's curve number can be looked up with `selection.trace_numbers`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from explorer.selection import DATA_TRACE, click_grid_trace

COLOUR_BY = ("a", "θ", "none")
# θ is an angle: θ_min and θ_max are the same image, so its colours must wrap around too.
CYCLIC_SCALES = ("Twilight", "IceFire", "Phase")
A_SCALE = "Viridis"
PATH_TRACE = "path"
ENDPOINTS_TRACE = "endpoints"
ISO_A_TRACE = "iso-a"
ISO_THETA_TRACE = "iso-θ"
T_TRACE = "t"
MARK_TRACE = "mark"
PRIOR_TRACE = "prior"
_PRIOR_COLOUR = "#ffd166"
_PRIOR_LEVELS = 8
_ISO_A_COLOUR = "#5ce1ff"
_ISO_THETA_COLOUR = "#ffffff"
# A click selects a point, and Plotly then dims every unselected point of every trace;
# the endpoints are not data and must stay as bright as before.
_NEVER_DIMMED = dict(
    selected=dict(marker=dict(opacity=1.0), textfont=dict(color="#ffffff")),
    unselected=dict(marker=dict(opacity=1.0), textfont=dict(color="#ffffff")),
)


def latent_map_figure(
    xy: np.ndarray,
    factors: np.ndarray | None,
    *,
    x_range: Sequence[float],
    y_range: Sequence[float],
    colour_by: str = "θ",
    cyclic_scale: str = "Twilight",
    theta_range: Sequence[float] = (0.0, 2 * math.pi),
    manifold: np.ndarray | str | None = None,
    iso_a: np.ndarray | None = None,
    iso_theta: np.ndarray | None = None,
    iso_a_levels: Sequence[float] | None = None,
    iso_theta_levels: Sequence[float] | None = None,
    path: np.ndarray | None = None,
    endpoints: Mapping[str, Sequence[float]] | None = None,
    t_point: Sequence[float] | None = None,
    marker: Sequence[float] | None = None,
    prior_density: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    grid_n: int = 60,
    axis_titles: tuple[str, str] = ("z₁", "z₂"),
    height: int = 560,
) -> go.Figure:
    """The clickable latent map.

    Arguments:
        xy: (N, 2) posterior means of the dataset on the plotted plane.
        factors: (N, 2) true [a, θ] of each point (for colour and hover), or None.
        x_range, y_range: the plotted rectangle; the click grid and manifold map span it.
        colour_by: "a", "θ" (on `cyclic_scale`, wrapping at `theta_range`) or "none".
        manifold: uint8 (H, W, 3) mosaic of decoded images laid over exactly the rectangle
            (see `vaeflow.latent.cell_centres`), drawn behind the points, or the same as a
            ``data:image/png;base64,…`` URI (cacheable: no re-encoding per figure); or None.
        iso_a, iso_theta: (n_curves, n_steps, 2) encoded iso-factor sweeps, or None.
        iso_a_levels, iso_theta_levels: the fixed factor of each curve (n_curves,): each
            curve is labelled with it ("a 1.2", "θ 0.79") at its end; None: no labels.
        path: (T, 2) interpolation path, or None.
        endpoints: label ("A", "B") -> (x, y) of interpolation endpoints set so far.
        t_point: (x, y) of the current interpolation frame (a ring on the path), or None.
        marker: (x, y) of a point carried from another model's map (a diamond), or None.
        prior_density: (xs (n,), ys (m,), density (m, n)) of the model's prior on the plane
            (`vaeflow.latent.prior_density_grid`), drawn as contour lines, or None.
        grid_n: side of the invisible click-catching grid.

    Returns:
        go.Figure whose traces are, in order: the dataset, then the prior's contours, iso-a,
        iso-θ, their labels, path, t, endpoints and mark (each only when given), and the click
        grid last. The axes have equal scales (a unit of z1 is as long as a unit of z2 on screen).

    Raises:
        ValueError: naming `xy`, `factors`, `colour_by` or `cyclic_scale`.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be (N, 2), got shape {xy.shape}")
    if factors is not None and np.shape(factors) != xy.shape:
        raise ValueError(f"factors must be (N, 2) like xy, got shape {np.shape(factors)}")
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {COLOUR_BY}, got {colour_by!r}")
    if cyclic_scale not in CYCLIC_SCALES:
        raise ValueError(f"cyclic_scale must be one of {CYCLIC_SCALES}, got {cyclic_scale!r}")
    if colour_by != "none" and factors is None:
        raise ValueError(f"factors are needed to colour by {colour_by}")

    # All traces are WebGL: they share one canvas, stacked in trace order, so the curves, the
    # path and the endpoints come after the points to be drawn over them.
    figure = go.Figure()
    # With curves on, the points step back so that the curves read clearly.
    points_opacity = 0.35 if (iso_a is not None or iso_theta is not None) else 1.0
    figure.add_trace(_dataset_trace(xy, factors, colour_by, cyclic_scale, theta_range, points_opacity))
    if prior_density is not None:
        figure.add_trace(_prior_trace(*prior_density))
    if iso_a is not None:
        figure.add_trace(_curves_trace(iso_a, ISO_A_TRACE, _ISO_A_COLOUR, "solid"))
    if iso_theta is not None:
        figure.add_trace(_curves_trace(iso_theta, ISO_THETA_TRACE, _ISO_THETA_COLOUR, "dash"))
    for curves, levels, factor, colour in ((iso_a, iso_a_levels, "a", _ISO_A_COLOUR),
                                           (iso_theta, iso_theta_levels, "θ", _ISO_THETA_COLOUR)):
        if curves is not None and levels is not None:
            figure.add_trace(_iso_labels_trace(curves, levels, factor, colour))
    if path is not None:
        path = np.asarray(path, dtype=np.float64)
        figure.add_trace(
            go.Scattergl(
                x=path[:, 0].tolist(), y=path[:, 1].tolist(), mode="lines", name=PATH_TRACE,
                line=dict(color="#ffffff", width=3), hoverinfo="skip", showlegend=False,
            )
        )
    if t_point is not None:
        figure.add_trace(go.Scattergl(
            x=[float(t_point[0])], y=[float(t_point[1])], mode="markers", name=T_TRACE,
            marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(color="#ffffff", width=2.5)),
            hoverinfo="skip", showlegend=False, **_NEVER_DIMMED,
        ))
    if endpoints:
        labels = list(endpoints)
        figure.add_trace(
            go.Scattergl(
                x=[float(endpoints[k][0]) for k in labels],
                y=[float(endpoints[k][1]) for k in labels],
                mode="markers+text", text=labels, textposition="top center",
                textfont=dict(color="#ffffff", size=16), name=ENDPOINTS_TRACE,
                marker=dict(size=13, color="#ff8c1a", line=dict(color="#ffffff", width=2)),
                hoverinfo="skip", showlegend=False, **_NEVER_DIMMED,
            )
        )
    if marker is not None:
        figure.add_trace(go.Scattergl(
            x=[float(marker[0])], y=[float(marker[1])], mode="markers", name=MARK_TRACE,
            marker=dict(size=15, symbol="diamond", color="#37e0ff", line=dict(color="#000000", width=2)),
            hoverinfo="skip", showlegend=False, **_NEVER_DIMMED,
        ))
    figure.add_trace(click_grid_trace(x_range, y_range, grid_n))

    if manifold is not None:
        source = manifold if isinstance(manifold, str) else Image.fromarray(np.asarray(manifold, np.uint8))
        figure.add_layout_image(
            source=source,
            xref="x", yref="y", x=float(x_range[0]), y=float(y_range[1]),
            sizex=float(x_range[1] - x_range[0]), sizey=float(y_range[1] - y_range[0]),
            sizing="stretch", layer="below", opacity=1.0,
        )
    figure.update_layout(
        height=height,
        margin=dict(l=50, r=10, t=60, b=50),
        clickmode="event+select",
        dragmode="pan",
        hovermode="closest",
        # Keep zoom and pan across reruns: the figure is rebuilt, the view is the user's.
        uirevision="latent-map",
        showlegend=False,  # the iso-curves carry labels; the caption says which is which
        plot_bgcolor="#0d0a09",
    )
    # Equal scales, kept by shrinking the plot area (constrain="domain"), not by widening a
    # range: the rectangle stays the one the manifold map and the click grid cover, and the
    # map does not stretch when the colour bar comes or goes.
    figure.update_xaxes(range=list(x_range), showgrid=False, zeroline=False, constrain="domain")
    figure.update_yaxes(range=list(y_range), showgrid=False, zeroline=False,
                        scaleanchor="x", scaleratio=1.0, constrain="domain", constraintoward="top")
    # The axis names as notes at the shrunk plot's corners: Plotly places axis titles by the
    # unconstrained domain, on top of the tick labels.
    corner = dict(xref="x domain", yref="y domain", showarrow=False, font=dict(size=13))
    # Outside the tick labels: the x name under the right end, the y name left of the top.
    figure.add_annotation(text=axis_titles[0], x=1.0, y=0.0, xanchor="right", yanchor="top",
                          yshift=-20, name="x title", **corner)
    figure.add_annotation(text=axis_titles[1], x=0.0, y=1.0, xanchor="right", yanchor="top",
                          xshift=-26, name="y title", **corner)
    return figure


def _iso_labels_trace(curves: np.ndarray, levels: Sequence[float], factor: str, colour: str) -> go.Scatter:
    """Each curve's fixed factor ("a 1.20", "θ 0.79") written at its last point."""
    curves = np.asarray(curves, dtype=np.float64)
    if len(levels) != len(curves):
        raise ValueError(f"{len(levels)} iso-{factor} levels for {len(curves)} curves")
    font = dict(color=colour)
    return go.Scatter(
        x=curves[:, -1, 0].tolist(), y=curves[:, -1, 1].tolist(),
        text=[f"{factor} {level:.2f}" for level in levels], mode="text",
        textposition="middle right", textfont=dict(color=colour, size=11),
        name=f"iso-{factor} labels", hoverinfo="skip", showlegend=False,
        selected=dict(textfont=font), unselected=dict(textfont=font),
    )


# Above the plot, left half (the error map's bar has the right half): a bar at the side would
# take width from the map, and the map would change size when colouring by "none".
_POINTS_COLOURBAR = dict(orientation="h", thickness=10, x=0.0, xanchor="left", y=1.0,
                         yanchor="bottom", len=0.45, ypad=4)


def _dataset_trace(
    xy: np.ndarray,
    factors: np.ndarray | None,
    colour_by: str,
    cyclic_scale: str,
    theta_range: Sequence[float],
    opacity: float = 1.0,
) -> go.Scattergl:
    marker: dict = dict(size=6, opacity=opacity, line=dict(width=0.5, color="rgba(0,0,0,0.6)"))
    if colour_by == "a":
        marker.update(color=factors[:, 0].tolist(), colorscale=A_SCALE, showscale=True,
                      colorbar=_POINTS_COLOURBAR | dict(title=dict(text="a", side="top")))
    elif colour_by == "θ":
        marker.update(color=factors[:, 1].tolist(), colorscale=cyclic_scale, showscale=True,
                      cmin=float(theta_range[0]), cmax=float(theta_range[1]),
                      colorbar=_POINTS_COLOURBAR | dict(title=dict(text="θ", side="top")))
    else:
        marker.update(color="rgba(255, 200, 120, 0.85)")
    n = xy.shape[0]
    # customdata as Python lists: the row travels back in the click payload.
    if factors is not None:
        customdata = np.column_stack([np.arange(n), np.round(factors, 3)]).tolist()
        hovertemplate = "#%{customdata[0]}<br>a = %{customdata[1]:.2f}<br>θ = %{customdata[2]:.2f}<extra></extra>"
    else:
        customdata = np.arange(n)[:, None].tolist()
        hovertemplate = "#%{customdata[0]}<extra></extra>"
    xy = np.round(xy, 5)  # sub-pixel precision, a smaller JSON figure
    return go.Scattergl(
        x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode="markers", name=DATA_TRACE,
        customdata=customdata, hovertemplate=hovertemplate, marker=marker, showlegend=False,
        # A click selects one point; keep the others as they were instead of greying them out.
        selected=dict(marker=dict(size=12, color="#ffffff", opacity=1.0)),
        unselected=dict(marker=dict(opacity=opacity)),
    )


def _curves_trace(curves: np.ndarray, name: str, colour: str, dash: str) -> go.Scattergl:
    """Several polylines in one trace, separated by None gaps (one legend entry for all)."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 3 or curves.shape[2] != 2:
        raise ValueError(f"{name} curves must be (n_curves, n_steps, 2), got {curves.shape}")
    xs: list = []
    ys: list = []
    for curve in curves:
        xs += curve[:, 0].tolist() + [None]
        ys += curve[:, 1].tolist() + [None]
    return go.Scattergl(
        x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
        line=dict(color=colour, width=2.5, dash=dash),
    )


def _prior_trace(xs, ys, density) -> go.Contour:
    """Contour lines of p(z), evenly spaced between 0 and its largest value on the grid."""
    density = np.asarray(density, dtype=np.float64)
    top = float(np.nanmax(density)) if density.size else 0.0
    step = top / (_PRIOR_LEVELS + 1) if top > 0 else 1.0
    return go.Contour(
        x=np.asarray(xs, np.float64).tolist(), y=np.asarray(ys, np.float64).tolist(),
        z=density.tolist(), name=PRIOR_TRACE, showscale=False, hoverinfo="skip",
        contours=dict(coloring="none", start=step, end=top - step / 2, size=step),
        line=dict(color=_PRIOR_COLOUR, width=1.5), showlegend=False,
    )


ERROR_MAP_TRACE = "error map"
# Per-cell errors span three decades (under 1 nat where the decoder is right, hundreds
# where it invents a flow), so colours follow log10 of the error and the bar is labelled in nats.
_ERROR_SCALE = "Inferno"


def add_error_heatmap(
    figure: go.Figure, errors: np.ndarray, x_range: Sequence[float], y_range: Sequence[float]
) -> go.Figure:
    """Draw per-cell decode errors as a heatmap behind every other trace of the latent map.

    Arguments:
        figure: a `latent_map_figure`; modified in place and returned.
        errors: (n², ) errors in nats, cells row-major from the top-left exactly as
            `vaeflow.latent.cell_centres(x_range, y_range, n)` orders them.
        x_range, y_range: the rectangle the cells tile (the map's ranges).

    Returns:
        `figure`, with the heatmap (named `ERROR_MAP_TRACE`) as its first trace, a colour bar
        in nats on a log scale, and the layout image (manifold map) removed, which it would
        otherwise cover.

    Raises:
        ValueError: naming `errors` when it is not n² finite values >= 0, n >= 2.
    """
    errors = np.asarray(errors, dtype=np.float64)
    n = int(round(math.sqrt(errors.size)))
    if errors.ndim != 1 or n < 2 or n * n != errors.size:
        raise ValueError(f"errors must be n² values (n >= 2) for an n×n grid, got shape {errors.shape}")
    if not np.all(np.isfinite(errors)) or np.any(errors < 0):
        raise ValueError("errors must be finite and >= 0 (nats)")
    (x0, x1), (y0, y1) = x_range, y_range
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n  # ascending: the grid's top row goes last
    grid = errors.reshape(n, n)[::-1]
    floor = 0.1  # nats: below it a cell is as good as perfect, and log10(0) has no colour
    log_grid = np.log10(np.maximum(grid, floor))
    decades = np.arange(np.floor(log_grid.min()), np.ceil(log_grid.max()) + 1)
    heatmap = go.Heatmap(
        x=xs.tolist(), y=ys.tolist(), z=np.round(log_grid, 4).tolist(), name=ERROR_MAP_TRACE,
        colorscale=_ERROR_SCALE, zmin=float(decades[0]), zmax=float(max(decades[-1], decades[0] + 1)),
        # Clicks belong to the points and the click grid above; the heatmap never takes them.
        hoverinfo="skip", showlegend=False,
        # Above the plot, right half: the points' colour bar has the left half.
        colorbar=dict(
            title=dict(text="decode error (nats)", side="top"), orientation="h", thickness=10,
            x=1.0, xanchor="right", y=1.0, yanchor="bottom", len=0.45, ypad=4,
            tickvals=decades.tolist(), ticktext=[f"{10 ** d:g}" for d in decades],
        ),
    )
    figure.add_trace(heatmap)
    figure.data = (figure.data[-1],) + tuple(figure.data[:-1])
    figure.layout.images = ()
    return figure
