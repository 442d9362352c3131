"""The study's renderer, kept as the fidelity reference: one TFP distribution and one matplotlib
figure per image (``contourf(levels, cmap)``, axis off, ``tight_layout(pad=0)``, S/100 in at 100 dpi).

Slow by design (~17 images/s); only the fidelity tests and the benchmark use it.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaeflow.flows.chain import flow_distribution  # noqa: E402
from vaeflow.flows.spec import FlowSpec  # noqa: E402


def reference_density(a: float, theta: float, spec: FlowSpec | None = None) -> np.ndarray:
    """p(x) of one image's flow on the spec's grid, float32 (G, G); row i is y_i, column j is x_j.

    Points where the flow has no finite density (the tanh edge, |x| = 1) are NaN, as in the study.
    """
    spec = spec or FlowSpec()
    g = np.linspace(-spec.extent, spec.extent, spec.grid_size)
    X, Y = np.meshgrid(g, g)
    points = np.stack([X, Y], axis=-1).astype(np.float32)[..., None, :]  # (G, G, 1, 2)
    dist = flow_distribution(np.array([a]), np.array([theta]), spec)
    return dist.prob(points).numpy()[..., 0]


def draw_study_figure(fig, a: float, theta: float, spec: FlowSpec | None = None):
    """Draw one image onto `fig` as the study did — ``contourf(X, Y, p, levels, cmap)``, axis
    off, ``tight_layout(pad=0)`` — and return (axes, contour set, density grid p); the caller
    draws the canvas."""
    spec = spec or FlowSpec()
    g = np.linspace(-spec.extent, spec.extent, spec.grid_size)
    X, Y = np.meshgrid(g, g)
    p = reference_density(a, theta, spec)
    ax = fig.add_subplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contours = ax.contourf(X, Y, p, levels=spec.levels, cmap=spec.cmap)
        ax.axis("off")
        fig.tight_layout(pad=0)
    return ax, contours, p


def reference_render(a: float, theta: float, spec: FlowSpec | None = None) -> np.ndarray:
    """One image as the study drew it: uint8 (S, S, 3), row 0 is y = +extent."""
    spec = spec or FlowSpec()
    size = spec.image_size / 100.0
    fig = Figure(figsize=(size, size), dpi=100)
    canvas = FigureCanvasAgg(fig)
    draw_study_figure(fig, a, theta, spec)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def reference_render_many(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """`reference_render` in a per-image Python loop: uint8 (N, S, S, 3)."""
    return np.stack([reference_render(float(ai), float(ti), spec) for ai, ti in zip(a, theta)])


def study_render(a: float, theta: float, spec: FlowSpec | None = None) -> np.ndarray:
    """`reference_render` the way the study's loop drew it: through pyplot (a figure manager per
    image, closed afterwards). Same pixels; this is the loop the issue's 16.8 images/s refers to."""
    import matplotlib.pyplot as plt

    spec = spec or FlowSpec()
    size = spec.image_size / 100.0
    fig = plt.figure(figsize=(size, size), dpi=100)
    draw_study_figure(fig, a, theta, spec)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def study_render_many(a, theta, spec: FlowSpec | None = None) -> np.ndarray:
    """`study_render` in the study's per-image Python loop: uint8 (N, S, S, 3)."""
    return np.stack([study_render(float(ai), float(ti), spec) for ai, ti in zip(a, theta)])
