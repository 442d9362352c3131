"""Explore: the latent map of a trained VAE — click anywhere to decode, interpolate A → B.

Three fragments keep every interaction local and cheap:

* `latent_map_ui`, the Plotly map (thousands of WebGL markers and a decoded mosaic: heavy
  to resend);
* `decoded_view_ui`, the decode of the last click beside it;
* `interpolation_ui`, the A → B path, its t slider, strip and exports.

A click's callback stores the point and reruns only `decoded_view_ui` (`st.rerun([...])`
from a callback replaces the default rerun), so the map is not rebuilt or resent per click;
setting an endpoint also reruns the map (the path is drawn on it) and the interpolation.
The maths is in `vaeflow.latent`, the caching in `explorer.cache`, the payload parsing in
`explorer.selection`, the figure in `explorer.latent_plots`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import streamlit as st

from explorer import cache, view_state
from explorer.animation import gif_bytes, strip_png
from explorer.images import tile, to_png
from explorer.latent_plots import COLOUR_BY, CYCLIC_SCALES, add_error_heatmap, latent_map_figure
from explorer.selection import DATA_TRACE, GRID_TRACE, click_from_selection, trace_numbers
from vaeflow import FlowSpec, latent

KEY = "explore_"  # session-state (and CSS class) prefix of this page
# The view as last shown (a `view_state.ViewState`, not a widget key, so it outlives a visit to
# another page, where Streamlit drops the state of every widget it does not draw).
SAVED = KEY + "saved"
PENDING = KEY + "pending"  # points read from a link, placed once the model's map is known
MAP_FRAGMENT, VIEW_FRAGMENT, INTERP_FRAGMENT = "map", "view", "interp"
VIEW_PX, SMALL_PX, FRAME_PX = 288, 108, 216


@dataclasses.dataclass(frozen=True)
class Context:
    """What the fragments share: the model, its held-out set and how the map is drawn."""

    ref: cache.ModelRef
    spec_json: str
    spec: FlowSpec
    images: np.ndarray  # uint8 (N, S, S, 3) held-out images
    factors: np.ndarray  # float32 (N, 2) their true [a, θ]
    means: np.ndarray  # float32 (N, L) posterior means
    dims: tuple[int, int]
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[1])

    def z_of(self, point: dict) -> np.ndarray:
        """A stored point -> its full latent vector (a dataset row's own mean, or the plane)."""
        if point.get("index") is not None:
            return self.means[int(point["index"])]
        return latent.embed_plane(point["xy"], self.latent_dim, self.dims)

    def point_of_row(self, row: int) -> dict:
        return {"xy": tuple(float(v) for v in self.means[row, list(self.dims)]), "index": int(row)}


def main() -> None:
    st.title("Explore the latent space")
    restore_view([ref.name for ref in cache.model_refs()])
    ctx = setup_ui()
    if ctx is None:
        return
    if ctx.latent_dim < 2:
        st.warning("This model has a 1-D latent space; the map needs at least 2 dimensions.")
    else:
        left, right = st.columns([3, 2], gap="medium")
        with left:
            latent_map_ui(ctx)
        with right:
            decoded_view_ui(ctx)
        st.divider()
        interpolation_ui(ctx)
    st.divider()
    left, right = st.columns(2)
    with left:
        prior_samples_ui(ctx)
    with right:
        reconstruction_grid_ui(ctx)
    publish_view(ctx)


# Widget key -> the ViewState field it shows (the widgets take their value from session state).
_WIDGET_FIELDS = {
    "model": "model", "colour_by": "colour_by", "cyclic_scale": "cyclic_scale",
    "manifold": "manifold", "iso": "iso", "t": "t", "method": "method", "n_frames": "frames",
}


def restore_view(models: list[str]) -> None:
    """Give the widgets the view to show: the one last shown in this session, else the link's.

    Streamlit forgets a widget's value when a run does not draw it (a visit to another page);
    the saved `ViewState` brings it back. A session's first run reads the link instead, and
    names whatever part of it cannot be used in one warning.
    """
    state = st.session_state
    problems: list[str] = []
    if SAVED in state:
        view = state[SAVED]
    else:
        view, problems = view_state.parse_view(
            st.query_params.to_dict(), models=models, n_rows=cache.HELDOUT_SIZE)
        state[PENDING] = {"view": view.z, "A": view.a, "B": view.b}
        state[SAVED] = view
    if view.model is not None and view.model not in models:  # a run deleted since
        problems.append(f"model {view.model!r} is no longer there")
        view = dataclasses.replace(view, model=None)
    for key, field in _WIDGET_FIELDS.items():
        value = getattr(view, field)
        if KEY + key not in state and value is not None:
            state[KEY + key] = value
    for key, axis in (("x_axis", view.axes[0]), ("y_axis", view.axes[1])):
        state.setdefault(KEY + key, f"z{axis + 1}")
    text = view_state.warning_text(problems)
    if text:
        st.warning(text, icon=":material/link_off:")


def _link_point(point: dict | None) -> view_state.Point | None:
    if point is None:
        return None
    if point.get("index") is not None:
        return int(point["index"])
    return (float(point["xy"][0]), float(point["xy"][1]))


def publish_view(ctx: Context) -> None:
    """Save the view shown now for the next visit, and put it in the page's link."""
    state = st.session_state
    view = view_state.ViewState(
        model=ctx.ref.name,
        colour_by=state.get(KEY + "colour_by", "θ"),
        cyclic_scale=state.get(KEY + "cyclic_scale", "Twilight"),
        manifold=bool(state.get(KEY + "manifold", True)),
        iso=bool(state.get(KEY + "iso", False)),
        axes=ctx.dims,
        z=_link_point(state.get(KEY + "view")),
        a=_link_point(state.get(KEY + "A")),
        b=_link_point(state.get(KEY + "B")),
        t=float(state.get(KEY + "t", 0.5)),
        method=state.get(KEY + "method", "linear"),
        frames=int(state.get(KEY + "n_frames", 10)),
    )
    state[SAVED] = view
    query = view_state.to_query(view)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def setup_ui() -> Context | None:
    """Model and map settings (a change reruns the page); returns None when no model loads."""
    refs = cache.model_refs()
    by_name = {ref.name: ref for ref in refs}
    cols = st.columns([2, 1, 1, 1, 1])
    for key, field in _WIDGET_FIELDS.items():  # defaults without a default argument
        st.session_state.setdefault(KEY + key, getattr(view_state.DEFAULT, field))
    if st.session_state[KEY + "model"] not in by_name:
        st.session_state[KEY + "model"] = refs[0].name
    name = cols[0].selectbox(
        "Model", list(by_name), key=KEY + "model",
        help="The shipped pretrained default, or any training run that finished with a model. "
             + _prior_help(by_name.get(st.session_state.get(KEY + "model")) or (refs[0] if refs else None)),
    )
    cols[1].selectbox("Colour by", COLOUR_BY, key=KEY + "colour_by",
                      help="The true factor of each image; θ on a cyclic colour scale.")
    cols[2].selectbox("Cyclic scale", CYCLIC_SCALES, key=KEY + "cyclic_scale")
    cols[3].toggle("Manifold map", key=KEY + "manifold",
                   help="Images decoded on a grid, drawn behind the points (one batch).")
    cols[4].toggle("Iso-curves", key=KEY + "iso",
                   help="Iso-a and iso-θ curves: encoded sweeps of one true factor with the other held fixed.")
    ref = by_name[name]
    try:
        cache.get_model(ref)
        spec = cache.spec_for(ref)
        spec_json = spec.to_json()
        images, factors = cache.heldout_set(spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)
        means = cache.heldout_means(ref, spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)
    except ValueError as error:
        st.error(f"Cannot use model {name!r}: {error}")
        return None

    latent_dim = means.shape[1]
    dims = (0, 1)
    if latent_dim > 2:
        axes = [f"z{i + 1}" for i in range(latent_dim)]
        c1, c2, _ = st.columns([1, 1, 3])
        for key in ("x_axis", "y_axis"):
            if st.session_state.get(KEY + key) not in axes:  # a link's axis this model lacks
                st.session_state[KEY + key] = axes[0 if key == "x_axis" else 1]
        x_axis = c1.selectbox("x axis", axes, key=KEY + "x_axis")
        y_axis = c2.selectbox("y axis", axes, key=KEY + "y_axis")
        if x_axis == y_axis:
            st.warning("Pick two different latent axes.")
            return None
        dims = (axes.index(x_axis), axes.index(y_axis))
        st.caption("The other latent coordinates are held at 0 (the prior mean) for decoding.")
    x_range = y_range = (-3.0, 3.0)
    if latent_dim >= 2:
        # At least ±2 around the cloud's centre: room to click beyond what the encoder uses.
        x_range, y_range = latent.plot_ranges(means[:, list(dims)], min_half_width=2.0)

    # A different model (or retrained files) invalidates the points picked on the old map.
    identity = (ref, dims)
    if st.session_state.get(KEY + "identity") != identity:
        st.session_state[KEY + "identity"] = identity
        for k in ("view", "A", "B"):
            st.session_state.pop(KEY + k, None)
    ctx = Context(ref, spec_json, spec, images, factors, means, dims, x_range, y_range)
    for k, point in (st.session_state.pop(PENDING, None) or {}).items():
        if point is not None and latent_dim >= 2:
            st.session_state[KEY + k] = (ctx.point_of_row(point) if isinstance(point, int)
                                         else {"xy": tuple(point), "index": None})
    if cache.get_model(ref).config.prior == "flow" and latent_dim >= 2:
        st.toggle("Prior contours", value=False, key=KEY + "prior",
                  help="Contour lines of the model's learned prior p(z) on the map.")
    if latent_dim >= 2:
        for label, quarter in (("A", 0.25), ("B", 0.75)):
            st.session_state.setdefault(KEY + label, ctx.point_of_row(_typical_row(spec, factors, quarter)))
    return ctx


def _prior_help(ref: cache.ModelRef | None) -> str:
    """The selected model's prior, for the picker's help ("" when it does not load)."""
    if ref is None:
        return ""
    try:
        return "This model's prior: " + latent.describe_prior(cache.get_model(ref).config) + "."
    except ValueError:
        return ""


def _typical_row(spec: FlowSpec, factors: np.ndarray, fraction: float) -> int:
    """A held-out row with a near its mean and θ near `fraction` of its range.

    The default endpoints sit half a turn apart (θ_min and θ_max are the same image, so the
    extremes of θ would make an empty interpolation).
    """
    theta = spec.theta_min + fraction * (spec.theta_max - spec.theta_min)
    cost = np.abs(factors[:, 1] - theta) / (spec.theta_max - spec.theta_min) + np.abs(
        factors[:, 0] - spec.a_mean) / (4 * spec.a_std)
    return int(np.argmin(cost))


def _on_map_click(ctx: Context, data_curve: int | None, grid_curve: int | None) -> None:
    """Selection callback: store the clicked point; an endpoint also redraws the path."""
    click = click_from_selection(
        st.session_state.get(KEY + "map"), data_curve=data_curve, grid_curve=grid_curve,
        n_points=len(ctx.means),
    )
    if click is None:  # a second click on a selected point deselects it: keep what was shown
        return
    point = {"xy": click.xy, "index": click.index}
    st.session_state[KEY + "view"] = point
    target = st.session_state.get(KEY + "click_sets", "view")
    if target in ("A", "B"):
        st.session_state[KEY + target] = point
        st.session_state[KEY + f"row_{target}"] = point["index"]  # None: a free point, empty box
        st.rerun([MAP_FRAGMENT, VIEW_FRAGMENT, INTERP_FRAGMENT])
    # Only the decoded view changes: the map stays in the browser untouched.
    st.rerun([VIEW_FRAGMENT])


def _describe(ctx: Context, point: dict) -> str:
    z = ctx.z_of(point)
    coords = ", ".join(f"{v:+.2f}" for v in z)
    if point.get("index") is None:
        return f"z = ({coords})"
    a, theta = ctx.factors[int(point["index"])]
    return f"#{point['index']} (a = {a:.2f}, θ = {theta:.2f}) · z = ({coords})"


def _figure(ctx: Context, path: np.ndarray | None):
    """The map figure, and the caption naming its iso-curves' levels (None without curves)."""
    colour_by = st.session_state.get(KEY + "colour_by", "θ")
    manifold = None
    if st.session_state.get(KEY + "manifold", True):
        manifold = cache.manifold_data_uri(ctx.ref, ctx.x_range, ctx.y_range, 15, ctx.latent_dim, ctx.dims)
    iso_a = iso_theta = iso_levels = None
    if st.session_state.get(KEY + "iso", False):
        try:
            iso_a_full, iso_theta_full, a_levels, theta_levels = cache.iso_curves(ctx.ref, ctx.spec_json)
            iso_a, iso_theta = iso_a_full[..., list(ctx.dims)], iso_theta_full[..., list(ctx.dims)]
            iso_levels = (
                "iso-a (solid): a = " + ", ".join(f"{a:.1f}" for a in a_levels) + ", θ swept · "
                "iso-θ (dashed): θ = " + ", ".join(f"{t:.2f}" for t in theta_levels) + ", a swept")
        except ValueError as error:
            st.warning(f"Iso-factor curves unavailable: {error}")
    endpoints = {k: st.session_state[KEY + k]["xy"] for k in ("A", "B") if KEY + k in st.session_state}
    prior_density = None
    if st.session_state.get(KEY + "prior", False) and cache.get_model(ctx.ref).config.prior == "flow":
        prior_density = cache.prior_density(ctx.ref, ctx.x_range, ctx.y_range, 80, ctx.dims)
    x_name, y_name = (f"z{d + 1}" for d in ctx.dims)
    figure = latent_map_figure(
        ctx.means[:, list(ctx.dims)], ctx.factors, x_range=ctx.x_range, y_range=ctx.y_range,
        colour_by=colour_by, cyclic_scale=st.session_state.get(KEY + "cyclic_scale", "Twilight"),
        theta_range=(ctx.spec.theta_min, ctx.spec.theta_max), manifold=manifold,
        iso_a=iso_a, iso_theta=iso_theta, path=path, endpoints=endpoints,
        prior_density=prior_density, axis_titles=(x_name, y_name),
    )
    return figure, iso_levels


def _path(ctx: Context, n: int) -> np.ndarray | None:
    if KEY + "A" not in st.session_state or KEY + "B" not in st.session_state:
        return None
    z_a = ctx.z_of(st.session_state[KEY + "A"])
    z_b = ctx.z_of(st.session_state[KEY + "B"])
    return latent.interpolation_path(z_a, z_b, n, st.session_state.get(KEY + "method", "linear"))


@st.fragment(key=MAP_FRAGMENT)
def latent_map_ui(ctx: Context) -> None:
    """The clickable map: dataset, manifold map, iso-curves, the A → B path."""
    path = _path(ctx, 64)
    figure, iso_levels = _figure(ctx, None if path is None else path[:, list(ctx.dims)])
    error_map_layer_ui(ctx, figure)
    numbers = trace_numbers(figure)
    st.plotly_chart(
        figure, key=KEY + "map", on_select=functools.partial(
            _on_map_click, ctx, numbers.get(DATA_TRACE), numbers.get(GRID_TRACE)),
        selection_mode=("points",),
        # Plotly counts a second click within doubleClickDelay (300 ms by default) anywhere
        # as a double click, which clears the selection instead of selecting: quick clicks
        # on two points would lose the second.
        config={"displaylogo": False, "scrollZoom": True, "doubleClickDelay": 120},
    )
    st.caption("Click a point or anywhere on the map to decode it. Drag to pan, scroll to zoom.")
    if iso_levels:
        st.caption(iso_levels)


@st.fragment(key=VIEW_FRAGMENT)
def decoded_view_ui(ctx: Context) -> None:
    """The decode of the last click, large; its true image, reconstruction, nearest true image."""
    st.radio(
        "A click on the map sets", ["view", "A", "B"], horizontal=True, key=KEY + "click_sets",
        help="view: decode the clicked point. A / B: also make it an interpolation endpoint.",
    )
    point = st.session_state.get(KEY + "view") or {"xy": (0.0, 0.0), "index": None}
    z = ctx.z_of(point)
    decoded = cache.decode(ctx.ref, tuple(float(v) for v in z))
    with st.container(key="decoded_view"):
        _image(decoded, VIEW_PX // decoded.shape[0],
                 caption="decoded " + ("prior mean " if KEY + "view" not in st.session_state else "")
                 + _describe(ctx, point))
    # One composite image (not three): each image is a separate element and a separate
    # fetch, and under load those cost ~0.2 s per click (measured, benchmarks/bench_browser.py).
    candidates, tiles, parts = ctx.means, [], []
    if point.get("index") is not None:
        row = int(point["index"])
        recon = cache.reconstructions(ctx.ref, ctx.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED, (row,))[0]
        tiles += [ctx.images[row], recon]
        parts += [f"true image #{row}", "its reconstruction"]
        # The clicked image is its own nearest neighbour; show the next one instead.
        candidates = np.delete(ctx.means, row, axis=0)
    nearest, distance = latent.nearest_index(candidates, z)
    nearest = int(nearest)
    if point.get("index") is not None and nearest >= int(point["index"]):
        nearest += 1
    a, theta = ctx.factors[nearest]
    tiles.append(ctx.images[nearest])
    label = "nearest other" if point.get("index") is not None else "nearest true image"
    parts.append(f"{label} #{nearest} (a {a:.2f}, θ {theta:.2f}, |Δz| {float(distance):.2f})")
    with st.container(key="decoded_neighbours"):
        # The caption as text of its own: an image caption would be as narrow as the image.
        _image(tile(np.stack(tiles), len(tiles), pad=2, pad_value=70), SMALL_PX // 36, caption=None)
        st.caption(" · ".join(parts))
    error_cell_ui(ctx, point)
    publish_view(ctx)


# --- The decode-vs-truth error map: a heatmap layer on the map, one cell's images in the view.
ERROR_MAP_N = 15  # the manifold map's cells


def _error_map(ctx: Context):
    """The cached error map of this model and view, or None (switched off, or unavailable)."""
    if not st.session_state.get(KEY + "error_map", False):
        return None
    try:
        return cache.error_map(ctx.ref, ctx.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED,
                               ctx.x_range, ctx.y_range, ERROR_MAP_N, ctx.latent_dim, ctx.dims)
    except ValueError as error:
        st.warning(f"Error map unavailable: {error}")
        return None


def error_map_layer_ui(ctx: Context, figure) -> None:
    """The error-map toggle; when on, the per-cell errors drawn behind the points."""
    st.toggle(
        "Error map", key=KEY + "error_map", on_change=st.rerun, args=([MAP_FRAGMENT, VIEW_FRAGMENT],),
        help="How wrong the decoder is, per cell: the decoded image against the true flow at the "
             "factors (a, θ) of the cell's 10 nearest held-out encodings, as KL(true ‖ decoded) "
             "in nats (Bernoulli cross-entropy minus the true image's entropy). Replaces the "
             "manifold map while on; click a cell to see its images.")
    result = _error_map(ctx)
    if result is not None:
        add_error_heatmap(figure, result.errors, ctx.x_range, ctx.y_range)


def error_cell_ui(ctx: Context, point: dict) -> None:
    """With the error map on: the clicked cell's decode, true image and |difference|."""
    result = _error_map(ctx)
    if result is None:
        return
    cell = latent.cell_index(point["xy"], ctx.x_range, ctx.y_range, ERROR_MAP_N)
    decoded = np.round(result.decoded[cell] * 255.0).astype(np.uint8)
    true = result.true[cell]
    difference = np.abs(decoded.astype(np.int16) - true).astype(np.uint8)
    row, column = divmod(cell, ERROR_MAP_N)
    with st.container(key="error_cell"):
        _image(tile(np.stack([decoded, true, difference]), 3, pad=2, pad_value=70), SMALL_PX // 36,
               caption=None)
        st.caption(
            f"error-map cell (row {row + 1}, column {column + 1}): decoded at its centre · true flow "
            f"at a = {result.a[cell]:.2f}, θ = {result.theta[cell]:.2f} · |difference| · "
            f"{result.errors[cell]:.1f} nats")


def _set_endpoint_from_row(ctx: Context, label: str) -> None:
    row = st.session_state[KEY + f"row_{label}"]
    if row is None:  # the box was cleared: keep the endpoint
        return
    st.session_state[KEY + label] = ctx.point_of_row(int(row))
    st.rerun([MAP_FRAGMENT, INTERP_FRAGMENT])


def _redraw_path() -> None:
    st.rerun([MAP_FRAGMENT, INTERP_FRAGMENT])


@st.fragment(key=INTERP_FRAGMENT)
def interpolation_ui(ctx: Context) -> None:
    """Endpoints A and B, the method, a t slider with its decoded frame, a strip, exports."""
    st.subheader("Interpolation")
    n_rows = len(ctx.means)
    c_a, c_b, c_method, c_frames = st.columns([1, 1, 1, 1])
    for label, col in (("A", c_a), ("B", c_b)):
        point = st.session_state[KEY + label]
        row_key = KEY + f"row_{label}"
        if row_key not in st.session_state:  # the box shows the endpoint's row, empty for a free point
            st.session_state[row_key] = point.get("index")
        col.number_input(
            f"{label} = dataset #", min_value=0, max_value=n_rows - 1, step=1, value=None,
            placeholder="a point of the map", key=row_key,
            on_change=_set_endpoint_from_row, args=(ctx, label),
        )
        col.caption(f"{label}: " + _describe(ctx, point))
    c_method.radio("Path", ["linear", "spherical"], key=KEY + "method", horizontal=True,
                   on_change=_redraw_path,
                   help="spherical (slerp) turns around the origin instead of cutting across.")
    n_frames = c_frames.slider("Frames in the strip", *view_state.FRAMES_RANGE, key=KEY + "n_frames")

    path = _path(ctx, n_frames)
    frames = cache.decode_path(ctx.ref, tuple(tuple(float(v) for v in z) for z in path))
    left, right = st.columns([1, 2], gap="medium")
    with left:
        t = st.slider("t", 0.0, 1.0, step=0.01, key=KEY + "t")
        playing = st.toggle("▶ Play", key=KEY + "play", help="Loop A → B → A as an animation.")
        with st.container(key="interp_frame"):
            if playing:
                st.image(gif_bytes(frames, factor=FRAME_PX // 36), caption="A → B → A",
                         width=FRAME_PX // 36 * frames.shape[2])
            else:
                z_t = latent.interpolate(path[0], path[-1], t, st.session_state.get(KEY + "method", "linear"))
                frame = cache.decode(ctx.ref, tuple(float(v) for v in z_t))
                _image(frame, FRAME_PX // 36,
                         caption=f"t = {t:.2f} · z = ({', '.join(f'{v:+.2f}' for v in z_t)})")
    with right:
        n_rows = -(-n_frames // 8)  # at most 8 frames a row, rows as even as possible
        _image(_tile(frames, -(-n_frames // n_rows)), 2,
               caption=f"{n_frames} frames from A (top left) to B, row by row")
        d1, d2 = st.columns(2)
        # Files are encoded only when a button is clicked (deferred data), not on every rerun.
        d1.download_button("Download GIF", functools.partial(gif_bytes, frames, factor=4),
                           "interpolation.gif", mime="image/gif", key=KEY + "gif", on_click="ignore")
        d2.download_button("Download PNG strip", functools.partial(strip_png, frames, factor=4),
                           "interpolation.png", mime="image/png", key=KEY + "png", on_click="ignore")
    publish_view(ctx)


GRID_COLUMNS = 8  # the default counts (16 samples, 8 reconstructions) fill whole rows


@st.fragment
def prior_samples_ui(ctx: Context) -> None:
    st.subheader("Samples from the prior")
    n, seed = _count_and_seed_ui("prior", most=48, default=16)
    samples = cache.prior_samples(ctx.ref, n, int(seed))
    prior = "p(z)" if cache.get_model(ctx.ref).config.prior == "flow" else "N(0, I)"
    _image(_tile(samples, GRID_COLUMNS), 2, caption=f"{n} decodes of z ~ {prior}, seed {seed}")


@st.fragment
def reconstruction_grid_ui(ctx: Context) -> None:
    st.subheader("Reconstructions")
    n, seed = _count_and_seed_ui("recon", most=32, default=8)
    rows = tuple(int(r) for r in np.random.default_rng(int(seed)).choice(len(ctx.images), n, replace=False))
    recon = cache.reconstructions(ctx.ref, ctx.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED, rows)
    # Rows of held-out images, each followed by the row of their reconstructions.
    k = GRID_COLUMNS

    def full_row(images: np.ndarray) -> np.ndarray:
        return np.concatenate([images, np.zeros((k - len(images), *images.shape[1:]), np.uint8)])

    chunks = [np.concatenate([full_row(ctx.images[list(rows[i:i + k])]), full_row(recon[i:i + k])])
              for i in range(0, n, k)]
    _image(_tile(np.concatenate(chunks), k), 2,
           caption=f"{n} held-out images (odd rows) above their reconstructions (decoded posterior means)")


def _count_and_seed_ui(name: str, most: int, default: int) -> tuple[int, int]:
    """A "How many" slider (steps of 4) and a seed input, side by side."""
    c1, c2 = st.columns(2)
    n = c1.slider("How many", 4, most, default, 4, key=KEY + f"{name}_n")
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key=KEY + f"{name}_seed")
    return int(n), int(seed)


def _image(image: np.ndarray, factor: int, caption: str | None) -> None:
    """Show a uint8 image upscaled by `factor` (nearest neighbour) at exactly its pixel size.

    An explicit width: a long caption would otherwise widen the figure and the browser would
    stretch the image with smoothing.
    """
    st.image(to_png(image, factor), caption=caption, width=int(image.shape[1]) * factor)


def _tile(images: np.ndarray, n_cols: int) -> np.ndarray:
    # Grey gutters: the flow images have black backgrounds, black gutters would merge them.
    return tile(images, n_cols, pad=2, pad_value=70)


main()
