"""Colour tables built without matplotlib, checked against matplotlib and Agg's painting."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaeflow.rendering.colormaps import CMAPS, SEGMENT_DATA, colormap_bytes, colormap_index, colormap_table  # noqa: E402
from vaeflow.flows.spec import FlowSpec  # noqa: E402


def agg_painted(colors: np.ndarray) -> np.ndarray:
    """The bytes Agg paints for each float RGB colour, as contourf's unantialiased fills do."""
    fig = Figure(figsize=(len(colors) / 100, 0.05), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    ax.set_xlim(0, len(colors))
    ax.set_ylim(0, 1)
    boxes = [[(i, 0), (i + 1, 0), (i + 1, 1), (i, 1)] for i in range(len(colors))]
    ax.add_collection(PolyCollection(boxes, facecolors=colors, antialiaseds=False, edgecolors="none"))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[2, :, :3]


@pytest.mark.parametrize("name", sorted(SEGMENT_DATA))
def test_segment_tables_equal_matplotlibs(name):
    np.testing.assert_array_equal(colormap_table(name), colormaps[name](np.arange(256))[:, :3])


@pytest.mark.parametrize("name", CMAPS)
def test_bytes_are_what_agg_paints(name):
    np.testing.assert_array_equal(colormap_bytes(name), agg_painted(colormaps[name](np.arange(256))[:, :3]))


def test_hot_starts_dark_red_not_black():
    assert colormap_bytes("hot")[0].tolist() == [11, 0, 0]  # Agg rounds 0.0416·255 = 10.6 up


def test_index_rule_equals_matplotlibs_lookup():
    x = np.concatenate([np.random.default_rng(0).random(10000), [0.0, 1.0, 0.5, 1 / 256, 255 / 256]])
    np.testing.assert_array_equal(colormap_table("hot")[colormap_index(x)], colormaps["hot"](x)[:, :3])


def test_flowspec_accepts_exactly_the_maps_the_renderer_paints():
    for name in FlowSpec.cmaps():
        assert colormap_bytes(FlowSpec(cmap=name).cmap).shape == (256, 3)
    # a map matplotlib knows but the renderer does not paint is refused where a spec is made
    assert "jet" in colormaps
    with pytest.raises(ValueError, match="cmap"):
        FlowSpec(cmap="jet")
    with pytest.raises(ValueError, match="cmap"):
        colormap_bytes("jet")
