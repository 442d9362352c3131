"""Our numpy port of matplotlib's contour level choice, checked against matplotlib itself."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import ticker

from vaeflow.rendering.levels import contour_levels


def matplotlib_levels(zmin: float, zmax: float, levels: int) -> np.ndarray:
    """What ContourSet._autolev does for `contourf(z, levels=levels)` (matplotlib 3.11)."""
    lev = ticker.MaxNLocator(levels + 1, min_n_ticks=1).tick_values(zmin, zmax)
    under = np.nonzero(lev < zmin)[0]
    i0 = under[-1] if len(under) else 0
    over = np.nonzero(lev > zmax)[0]
    i1 = over[0] + 1 if len(over) else len(lev)
    if i1 - i0 < 3:
        i0, i1 = 0, len(lev)
    return lev[i0:i1]


def _ranges(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    zmax = 10 ** rng.uniform(-8, 4, n)
    zmin = np.where(rng.random(n) < 0.5, 0.0, zmax * rng.uniform(0, 1, n))
    zmin[:10] = zmax[:10]  # flat images
    zmin[10:20] = zmax[10:20] * (1 - 1e-9)  # a tiny range far from 0 (matplotlib's offset path)
    zmin[20:30] = -zmax[20:30]  # negative values
    zmin[30], zmax[30] = 0.0, 0.0
    return zmin, zmax


@pytest.mark.parametrize("levels", [1, 7, 100])
def test_levels_equal_matplotlibs_exactly(levels):
    zmin, zmax = _ranges()
    got = contour_levels(zmin, zmax, levels)
    table = got.table()
    for i in range(zmin.size):
        want = matplotlib_levels(zmin[i], zmax[i], levels)
        np.testing.assert_array_equal(table[i, : got.count[i]], want, err_msg=f"range {zmin[i]!r}..{zmax[i]!r}")
        assert np.all(np.isnan(table[i, got.count[i] :]))


def test_levels_bracket_the_data():
    zmin, zmax = _ranges()
    got = contour_levels(zmin, zmax, 100)
    assert np.all(got.count >= 2)
    slack = np.maximum(1e-6 * got.step, 1e-12 * np.abs(zmax))  # matplotlib rounds too (offset path)
    assert np.all(got.level(np.zeros(zmin.size)) <= zmin + slack)
    assert np.all(got.level(got.count - 1) >= zmax - slack)
