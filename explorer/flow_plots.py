"""The flow inspector's data and figure: one (a, θ) followed through every stage of the chain.

`stage_views` pushes one seeded base sample through the stages (the same points move from panel
to panel, coloured by where they started) and evaluates each stage's density on a grid that
covers its cloud. The distributions come from `vaeflow.flows.chain`; nothing here is flow maths.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go

import vaeflow
from vaeflow.flows.chain import STAGE_NAMES, stage_clouds, stage_log_probs

STAGE_TITLES = {
    "base": "base z",
    "shift": "f1 shift",
    "scale": "f2 scale",
    "shear": "f3 shear",
    "rotation": "f4 rotation",
    "tanh": "f5 tanh",
}


@dataclasses.dataclass(frozen=True)
class StageView:
    """One panel: the cloud after a stage and its density on a grid.

    Attributes:
        name: "base" or a stage name from `vaeflow.flows.chain.STAGE_NAMES`.
        samples: float (n, 2), the same base points pushed through stages 1..k.
        xs, ys: grid coordinates, each (grid,), increasing.
        density: float (grid, grid), p(x) after the stage, row i at ys[i], column j at xs[j].
    """

    name: str
    samples: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    density: np.ndarray


def _window(points: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """A box holding the central 99% of the cloud, padded by 15% (never degenerate)."""
    low, high = np.quantile(points, [0.005, 0.995], axis=0)
    pad = np.maximum(0.15 * (high - low), 0.05)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def stage_views(a: float, theta: float, spec: "vaeflow.FlowSpec | None" = None, *,
                n_samples: int = 1500, grid: int = 80, seed: int = 0) -> list[StageView]:
    """The base and the distribution after each stage, for one image's (a, θ).

    Arguments:
        a, theta: the image's shear coefficient and rotation angle (radians).
        spec: the flow (`FlowSpec()` when None).
        n_samples: points in each cloud.
        grid: density grid points per axis.
        seed: seeds the base sample.

    Returns:
        [base, shift, scale, shear, rotation(, tanh)] as `StageView`s.
    """
    spec = spec or vaeflow.FlowSpec()
    rng = np.random.default_rng(seed)
    points = spec.base_scale * rng.standard_normal((n_samples, 2))
    names = ["base", *(name for name in STAGE_NAMES if name != "tanh" or spec.tanh)]
    clouds = stage_clouds(points, a, theta, spec)  # compiled: a slider's rerun waits for it
    axes, grids = [], []
    for name, cloud in zip(names, clouds):
        (x0, x1), (y0, y1) = _window(cloud)
        if name == "tanh":  # the image's square, where the rendered density lives
            (x0, x1), (y0, y1) = (-spec.extent, spec.extent), (-spec.extent, spec.extent)
        xs = np.linspace(x0, x1, grid, dtype=np.float32)
        ys = np.linspace(y0, y1, grid, dtype=np.float32)
        axes.append((xs, ys))
        grids.append(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2))
    grids = np.stack(grids)
    if names[-1] == "tanh":  # outside (−1, 1)² the density is 0; tanh's inverse is not defined
        inside = np.all(np.abs(grids[-1]) < 1.0, axis=-1)
        grids[-1] = np.clip(grids[-1], -0.999999, 0.999999)
    log_p = stage_log_probs(grids, a, theta, spec)
    if names[-1] == "tanh":
        log_p[-1] = np.where(inside, log_p[-1], -np.inf)
    views = []
    for name, cloud, (xs, ys), log_density in zip(names, clouds, axes, log_p):
        density = np.exp(np.nan_to_num(log_density, nan=-np.inf)).reshape(grid, grid)
        views.append(StageView(name, cloud, xs, ys, density))
    return views


def stage_figure(views: list[StageView], height: int = 440) -> go.Figure:
    """Two rows of panels, one column per stage: the sample cloud above, the density below."""
    n = len(views)
    # The grid of axes is written out, not made by plotly's make_subplots and per-cell updates,
    # which cost 5-10x more: this figure is rebuilt on every change of a Dataset control.
    h_gap, v_gap = 0.03, 0.08
    width, row_height = (1.0 - (n - 1) * h_gap) / n, (1.0 - v_gap) / 2
    colour = views[0].samples[:, 0]  # each point keeps its base z1 as colour, across stages
    traces, layout, titles = [], {}, []
    for col, view in enumerate(views):
        x_domain = [col * (width + h_gap), col * (width + h_gap) + width]
        titles.append(dict(text=STAGE_TITLES[view.name], x=sum(x_domain) / 2, y=1.0, xref="paper",
                           yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                           font=dict(size=16)))
        for row, y_domain in enumerate(([1.0 - row_height, 1.0], [0.0, row_height])):
            index = row * n + col + 1
            suffix = "" if index == 1 else str(index)
            if row == 0:
                traces.append(go.Scattergl(
                    x=view.samples[:, 0], y=view.samples[:, 1], mode="markers",
                    marker=dict(size=3, color=colour, colorscale="Turbo", opacity=0.7),
                    hoverinfo="skip", showlegend=False, xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                ))
            else:
                traces.append(go.Heatmap(
                    x=view.xs, y=view.ys, z=view.density, colorscale="Hot", showscale=False,
                    zmin=0.0, zmax=float(np.quantile(view.density, 0.995)) or None,
                    hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>p=%{z:.3g}<extra></extra>",
                    xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                ))
            # numbered ticks on both rows: where each stage moves the cloud, and its density
            common = dict(showticklabels=True, showgrid=False, zeroline=False,
                          tickfont=dict(size=9), nticks=4)
            layout[f"xaxis{suffix}"] = dict(domain=x_domain, anchor=f"y{suffix}",
                                            range=[float(view.xs[0]), float(view.xs[-1])], **common)
            # equal aspect, so a rotation looks like a rotation
            layout[f"yaxis{suffix}"] = dict(domain=y_domain, anchor=f"x{suffix}",
                                            range=[float(view.ys[0]), float(view.ys[-1])],
                                            scaleanchor=f"x{suffix}", scaleratio=1, **common)
    return go.Figure(data=traces, layout=dict(
        height=height, margin=dict(l=5, r=5, t=30, b=5), plot_bgcolor="rgba(0,0,0,0)",
        annotations=titles, **layout))
