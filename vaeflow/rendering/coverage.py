"""Agg's coverage rule: which contour band a pixel shows.

Agg paints a band into a pixel when the band covers at least 1/256 of the pixel's area. The
areas come from a linear model of the field at the pixel's highest corner (`slopes_at_max`):
the unit square cut by lines of equal density (`band_area`). `painted_band` steps down from the
highest band touching a pixel to the first that covers enough of it.
"""

from __future__ import annotations

import tensorflow as tf

from vaeflow.rendering.raster import PixelGrid, corner_slopes


def slopes_at_max(p, best, corners, grid: PixelGrid):
    """|∂f/∂x|, |∂f/∂y| (S, S, n) each where each pixel's maximum `best` sits: at its highest
    corner, inside the pixel, for most pixels. `corners` (`corner_nodes`) is −inf at corners
    whose slopes must not be used. A pixel whose maximum is over 3× its highest corner holds a
    spike (a thin density ridge the grid resolves as a node or two): the field falls from it by
    best − (highest corner) within about half a pixel, so its slopes are at least twice that
    drop per px; the corner's gentle slopes would keep the spike's top band over the pixel."""
    values, slopes = corner_slopes(p, corners, grid)

    def higher(first, second):
        (v, (gx, gy)), (w, (hx, hy)) = first, second
        pick = w > v
        return tf.where(pick, w, v), (tf.where(pick, hx, gx), tf.where(pick, hy, gy))

    c = list(zip(values, slopes))
    top, (gx, gy) = higher(higher(c[0], c[1]), higher(c[2], c[3]))
    peak = tf.where(best > 3.0 * top, 2.0 * (best - top), 0.0)  # a spike: far above every corner
    peak = tf.where(tf.math.is_finite(peak), peak, 0.0)
    return tf.maximum(tf.abs(gx), peak), tf.maximum(tf.abs(gy), peak)


# Agg paints a band into a pixel only if it covers at least 1/256 of the pixel's area.
MIN_COVER = 1.0 / 256.0


def band_area(low, high):
    """A(t): the area (px²) of the part of a unit pixel within t of its maximum, the field
    falling linearly from a corner at rates low ≤ high per px along the pixel's two axes — the
    unit square cut by the line low·u + high·w = t: a corner triangle t²/(2·low·high) while
    t ≤ low, then a strip (t − low/2)/high, then the square less a triangle. Written per piece
    so that low → 0 (a contour parallel to a pixel edge) stays exact."""
    tiny = tf.constant(1e-30, low.dtype)
    per_triangle = 1.0 / tf.maximum(2.0 * low * high, tiny)
    per_strip = 1.0 / tf.maximum(high, tiny)

    def area(t):
        t = tf.maximum(t, 0.0)
        triangle = t * t * per_triangle
        strip = (t - 0.5 * low) * per_strip
        rest = 1.0 - tf.square(tf.maximum(low + high - t, 0.0)) * per_triangle
        return tf.where(t <= low, triangle, tf.where(t <= high, strip, rest))

    return area, per_triangle


def painted_band(v, band, lowest, step, slope_x, slope_y):
    """The highest band Agg actually paints in each pixel, given the highest band `band` that
    touches it (float32, per pixel; lowest, step per image; slope_x, slope_y the field's
    rates per px at the pixel's maximum, `slopes_at_max`).

    The band j steps below the top covers A(d + j·s) − A(d + (j − 1)·s) of the pixel, with
    d = v − level[band], s the level step and A `band_area`. These increments grow while the
    cut is a corner triangle (t ≤ low), stay at s/high along the strip, then shrink, so the
    first band reaching 1/256 px² is the top one, one in the triangle (closed form: the
    increment is (2·d·s + (2j − 1)·s²)/(2·low·high)), or one of the first two bands that reach
    the strip. Flat pixels keep their top band. Should no band reach 1/256 (a pixel crossing
    over 256 bands, high > 256·s) it gets the second band into the strip, where they are largest.
    """
    low, high = tf.minimum(slope_x, slope_y), tf.maximum(slope_x, slope_y)
    area, per_triangle = band_area(low, high)
    per_step = 1.0 / step
    depth = v - (lowest + band * step)
    in_triangle = tf.maximum(tf.math.ceil(0.5 * (MIN_COVER / per_triangle * per_step * per_step - 2.0 * depth * per_step + 1.0)), 1.0)
    to_strip = tf.maximum(tf.math.ceil((low - depth) * per_step), 1.0)  # first band whose range passes low
    entering = depth + (to_strip - 1.0) * step
    strip_covers = area(entering + step) - area(entering) >= MIN_COVER
    steps_down = tf.where(in_triangle < to_strip, in_triangle, tf.where(strip_covers, to_strip, to_strip + 1.0))
    return tf.where(area(depth) >= MIN_COVER, band, band - steps_down)
