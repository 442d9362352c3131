"""The levels matplotlib's ``contourf(levels=L)`` picks, for many images at once, in numpy.

``contourf`` asks ``MaxNLocator(L + 1, min_n_ticks=1)`` for "nice" ticks between the data's
min and max, then trims ticks beyond the data. This module reproduces that choice exactly
(same float64 operations in the same order), vectorised over images, so the renderer draws
the same bands as the study without importing matplotlib. Ported from matplotlib 3.11's
``ticker.MaxNLocator._raw_ticks``, ``ticker._Edge_integer``, ``ticker.scale_range``,
``transforms._nonsingular`` and ``contour.ContourSet._autolev``.

Levels are an arithmetic progression per image:
``level[k] = (first + k) * step + best_vmin + offset`` for ``k < count``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# MaxNLocator's default steps, extended one decade down and one step up ("staircase").
_STEPS = np.array([1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10])
_STAIRCASE = np.concatenate([0.1 * _STEPS[:-1], _STEPS, [10 * _STEPS[1]]])

# Python's float ops (math.log10, **) exactly as matplotlib calls them, one scalar at a time.
_EDGE_TICKS = 4  # how many ticks at each end `contour_levels` inspects before scanning them all
_log10 = np.frompyfunc(math.log10, 1, 1)
_pow10 = np.frompyfunc(lambda e: 10**e, 1, 1)


@dataclasses.dataclass(frozen=True, eq=False)
class ContourLevels:
    """Per-image arithmetic level sequences (all arrays shape (N,), float64 unless noted).

    ``level(k) = (first + k) * step + best_vmin + offset`` for ``0 <= k < count``.
    """

    first: np.ndarray
    step: np.ndarray
    best_vmin: np.ndarray
    offset: np.ndarray
    count: np.ndarray  # int64, >= 2

    def equals(self, other: "ContourLevels") -> bool:
        """True when every image has exactly the same levels in both."""
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)
        )

    def level(self, k) -> np.ndarray:
        """Level k of every image (k broadcasts against the (N,) arrays, e.g. shape (N, K))."""
        k = np.asarray(k, dtype=np.float64)
        shape = (-1,) + (1,) * max(k.ndim - 1, 0)
        p = [x.reshape(shape) if k.ndim else x for x in (self.first, self.step, self.best_vmin, self.offset)]
        return _add_offset((p[0] + k) * p[1] + p[2], p[3])

    def table(self) -> np.ndarray:
        """All levels as (N, max count) float64, NaN past each image's count."""
        k = np.arange(int(self.count.max()), dtype=np.float64)[None, :]
        out = self.level(np.broadcast_to(k, (self.count.size, k.shape[1])))
        return np.where(k < self.count[:, None], out, np.nan)


def _add_offset(ticks: np.ndarray, offset: np.ndarray) -> np.ndarray:
    # matplotlib adds the Python int 0 when there is no offset; keep -0.0 etc. untouched there.
    return np.where(offset == 0, ticks, ticks + offset)


def _nonsingular(vmin: np.ndarray, vmax: np.ndarray, expander: float, tiny: float):
    """`matplotlib.transforms._nonsingular` (increasing=True), vectorised."""
    bad = ~(np.isfinite(vmin) & np.isfinite(vmax))
    lo, hi = np.minimum(vmin, vmax), np.maximum(vmin, vmax)
    maxabs = np.maximum(np.abs(lo), np.abs(hi))
    too_small = maxabs < (1e6 / tiny) * np.finfo(float).tiny
    flat = ~too_small & (hi - lo <= maxabs * tiny)
    zero = flat & (hi == 0) & (lo == 0)
    widen = flat & ~zero
    lo = np.where(too_small | zero, -expander, np.where(widen, lo - expander * np.abs(lo), lo))
    hi = np.where(too_small | zero, expander, np.where(widen, hi + expander * np.abs(hi), hi))
    return np.where(bad, -expander, lo), np.where(bad, expander, hi)


def _edge_tolerance(step: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """`_Edge_integer.closeto`'s tolerance: more slop when the offset dwarfs the step."""
    safe = np.where(offset != 0, np.abs(offset), 1.0)
    digits = np.log10(safe / step)
    tol = np.minimum(0.4999, np.maximum(1e-10, 10 ** (digits - 12)))
    return np.where(offset != 0, tol, 1e-10)


def contour_levels(zmin, zmax, levels: int) -> ContourLevels:
    """The levels ``contourf(z, levels=levels)`` uses for data spanning [zmin, zmax], per image.

    Arguments:
        zmin, zmax: float arrays of shape (N,): each image's finite data min and max.
        levels: the integer `levels=` argument (≥ 1).

    Returns:
        A `ContourLevels` with count ≥ 2 levels per image.

    >>> lv = contour_levels(np.array([0.0]), np.array([1.0]), 4)
    >>> lv.table()
    array([[0. , 0.2, 0.4, 0.6, 0.8, 1. ]])
    """
    zmin = np.asarray(zmin, dtype=np.float64)
    zmax = np.asarray(zmax, dtype=np.float64)
    nbins = levels + 1
    vmin, vmax = _nonsingular(zmin, zmax, expander=1e-13, tiny=1e-14)

    # scale_range(vmin, vmax, nbins)
    dv = np.abs(vmax - vmin)
    meanv = (vmax + vmin) / 2
    far = np.abs(meanv) / dv >= 100
    safe_mean = np.where(far, np.abs(meanv), 1.0)
    offset = np.where(far, np.copysign(_pow10(_log10(safe_mean) // 1).astype(np.float64), meanv), 0.0)
    scale = _pow10(_log10(dv / nbins) // 1).astype(np.float64)

    _vmin = vmin - offset
    _vmax = vmax - offset
    steps = _STAIRCASE[None, :] * scale[:, None]
    raw_step = (_vmax - _vmin) / nbins
    large = steps >= raw_step[:, None]
    # The staircase's ratios are ≤ 1.5, so the first large step leaves ≥ 1 tick inside
    # [vmin, vmax] and MaxNLocator's fallback loop (min_n_ticks=1) never runs.
    istep = np.where(large.any(axis=1), large.argmax(axis=1), steps.shape[1] - 1)
    step = steps[np.arange(steps.shape[0]), istep]
    best_vmin = (_vmin // step) * step

    tol = _edge_tolerance(step, offset)
    d_lo, m_lo = np.divmod(_vmin - best_vmin, step)
    low = np.where(np.abs(m_lo / step - 1) < tol, d_lo + 1, d_lo)
    d_hi, m_hi = np.divmod(_vmax - best_vmin, step)
    high = np.where(np.abs(m_hi / step - 0) < tol, d_hi, d_hi + 1)
    n_ticks = (high - low + 1).astype(np.int64)

    # ContourSet._autolev: keep the last tick below zmin and the first above zmax. Ticks start at
    # most a step or two below zmin and end a step or two above zmax, so only the first and last
    # few ticks need looking at (all of them if that ever fails).
    ticks = ContourLevels(low, step, best_vmin, offset, n_ticks)
    edge = min(_EDGE_TICKS, int(n_ticks.min()))
    k = np.arange(edge)[None, :]
    under = ticks.level(np.broadcast_to(k, (zmin.size, edge))) < zmin[:, None]
    last_k = n_ticks[:, None] - 1 - k
    over = ticks.level(last_k) > zmax[:, None]
    if under[:, -1].any() or over[:, -1].any():
        table = ticks.table()
        with np.errstate(invalid="ignore"):
            under, over = table < zmin[:, None], table > zmax[:, None]
        k = np.broadcast_to(np.arange(table.shape[1])[None, :], table.shape)
        last_k = k
    i0 = np.where(under.any(axis=1), np.where(under, k, -1).max(axis=1), 0)
    i1 = np.where(over.any(axis=1), np.where(over, last_k, np.iinfo(np.int64).max).min(axis=1) + 1, n_ticks)
    keep_all = (i1 - i0) < 3
    i0 = np.where(keep_all, 0, i0)
    i1 = np.where(keep_all, n_ticks, i1)
    return ContourLevels(low + i0, step, best_vmin, offset, (i1 - i0).astype(np.int64))
