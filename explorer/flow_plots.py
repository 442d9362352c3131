"""The flow inspector's data and figure: one (a, θ) followed through every stage of the chain.

`stage_views` pushes one seeded base sample through the stages (the same points move from panel
to panel, coloured by where they started) and evaluates each stage's density on a grid that
covers its cloud. The distributions come from `vaeflow.flows.chain`; nothing here is flow maths.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import vaeflow
from vaeflow.flows.chain import flow_stages, stage_distributions

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
    points = (spec.base_scale * rng.standard_normal((n_samples, 1, 2))).astype(np.float32)
    clouds = [points]
    for _, bijector in flow_stages(a, theta, spec):
        clouds.append(np.asarray(bijector.forward(clouds[-1])))
    views = []
    for (name, distribution), cloud in zip(stage_distributions(a, theta, spec), clouds):
        cloud = cloud[:, 0, :]
        (x0, x1), (y0, y1) = _window(cloud)
        if name == "tanh":  # the image's square, where the rendered density lives
            (x0, x1), (y0, y1) = (-spec.extent, spec.extent), (-spec.extent, spec.extent)
        xs = np.linspace(x0, x1, grid, dtype=np.float32)
        ys = np.linspace(y0, y1, grid, dtype=np.float32)
        mesh = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 1, 2)
        if name == "tanh":  # outside (−1, 1)² the density is 0; tanh's inverse is not defined
            inside = np.all(np.abs(mesh) < 1.0, axis=-1)[:, 0]
            log_p = np.asarray(distribution.log_prob(np.clip(mesh, -0.999999, 0.999999)))[:, 0]
            log_p = np.where(inside, log_p, -np.inf)
        else:
            log_p = np.asarray(distribution.log_prob(mesh))
        density = np.exp(np.nan_to_num(log_p, nan=-np.inf)).reshape(grid, grid)
        views.append(StageView(name, cloud, xs, ys, density))
    return views


def stage_figure(views: list[StageView], height: int = 440) -> go.Figure:
    """Two rows of panels, one column per stage: the sample cloud above, the density below."""
    n = len(views)
    figure = make_subplots(
        rows=2, cols=n, subplot_titles=[STAGE_TITLES[v.name] for v in views],
        vertical_spacing=0.08, horizontal_spacing=0.03,
    )
    colour = views[0].samples[:, 0]  # each point keeps its base z1 as colour, across stages
    traces, rows, cols, axes = [], [], [], {}
    for col, view in enumerate(views, start=1):
        traces.append(go.Scattergl(
            x=view.samples[:, 0], y=view.samples[:, 1], mode="markers",
            marker=dict(size=3, color=colour, colorscale="Turbo", opacity=0.7),
            hoverinfo="skip", showlegend=False,
        ))
        traces.append(go.Heatmap(
            x=view.xs, y=view.ys, z=view.density, colorscale="Hot", showscale=False,
            zmin=0.0, zmax=float(np.quantile(view.density, 0.995)) or None,
            hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>p=%{z:.3g}<extra></extra>",
        ))
        rows += [1, 2]
        cols += [col, col]
        for row in (1, 2):
            index = (row - 1) * n + col
            suffix = "" if index == 1 else str(index)
            # numbered ticks on both rows: where each stage moves the cloud, and its density
            common = dict(showticklabels=True, showgrid=False, zeroline=False,
                          tickfont=dict(size=9), nticks=4)
            axes[f"xaxis{suffix}"] = dict(range=[float(view.xs[0]), float(view.xs[-1])], **common)
            # equal aspect, so a rotation looks like a rotation
            axes[f"yaxis{suffix}"] = dict(range=[float(view.ys[0]), float(view.ys[-1])],
                                          scaleanchor=f"x{suffix}", scaleratio=1, **common)
    # One call each: plotly's per-cell update_xaxes(row=, col=) costs ~50 ms apiece.
    figure.add_traces(traces, rows=rows, cols=cols)
    figure.update_layout(height=height, margin=dict(l=5, r=5, t=30, b=5),
                         plot_bgcolor="rgba(0,0,0,0)", **axes)
    return figure
