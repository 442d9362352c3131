"""The flow inspector's stage views: one cloud followed through the chain, densities that
integrate to one, and a figure with a cloud and a density panel per stage."""

import numpy as np
import pytest

import vaeflow
from explorer.flow_plots import stage_figure, stage_views


@pytest.fixture(scope="module")
def views():
    return stage_views(2.5, 1.0, n_samples=800, grid=120, seed=1)


def test_views_cover_every_stage_in_order(views):
    assert [v.name for v in views] == ["base", "shift", "scale", "shear", "rotation", "tanh"]
    no_tanh = stage_views(2.5, 1.0, vaeflow.FlowSpec(tanh=False), n_samples=50, grid=10)
    assert [v.name for v in no_tanh][-1] == "rotation"


def test_the_same_points_move_from_stage_to_stage(views):
    base, shift, scale = views[0].samples, views[1].samples, views[2].samples
    spec = vaeflow.FlowSpec()
    np.testing.assert_allclose(shift, base + np.array(spec.shift), atol=1e-5)
    np.testing.assert_allclose(scale, shift * np.array(spec.scale), atol=1e-5)
    np.testing.assert_allclose(views[5].samples, np.tanh(views[4].samples), atol=1e-5)


def test_each_density_integrates_to_about_one_over_its_window(views):
    for view in views:
        cell = (view.xs[1] - view.xs[0]) * (view.ys[1] - view.ys[0])
        assert view.density.sum() * cell == pytest.approx(1.0, abs=0.03), view.name
        assert np.all(np.isfinite(view.density)) and view.density.min() >= 0


def test_figure_has_a_cloud_and_a_density_per_stage_with_equal_aspect(views):
    figure = stage_figure(views)
    assert [t.type for t in figure.data] == ["scattergl", "heatmap"] * 6
    assert figure.layout.yaxis.scaleanchor == "x" and figure.layout.yaxis12.scaleanchor == "x12"


def test_panels_are_titled_in_stage_order_and_sit_side_by_side_without_overlap(views):
    figure = stage_figure(views)
    assert [a.text for a in figure.layout.annotations] == [
        "base z", "f1 shift", "f2 scale", "f3 shear", "f4 rotation", "f5 tanh"]
    n = len(views)
    for row in range(2):
        domains = [figure.layout[f"xaxis{'' if row * n + c == 0 else row * n + c + 1}"].domain
                   for c in range(n)]
        assert all(0 <= lo < hi <= 1 for lo, hi in domains)
        assert all(domains[c][1] < domains[c + 1][0] for c in range(n - 1))
    top, bottom = figure.layout.yaxis.domain, figure.layout[f"yaxis{n + 1}"].domain
    assert bottom[1] < top[0]
    assert figure.data[0].xaxis == "x" and figure.data[-1].yaxis == f"y{2 * n}"
