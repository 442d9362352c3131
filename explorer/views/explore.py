"""Explore: the latent map of a trained VAE — click anywhere to decode, interpolate A → B.

Fragments keep every interaction local and cheap:

* `latent_map_ui` (and `compare_map_ui` for a compared model), the Plotly map (thousands of
  WebGL markers and a decoded mosaic: heavy to resend);
* `decoded_view_ui`, the decode of the last click beside it;
* `interpolation_ui`, the A → B path, its t slider, strip and exports.

A click's callback stores the point and reruns only `decoded_view_ui` (`st.rerun([...])`
from a callback replaces the default rerun), so the map is not rebuilt or resent per click;
setting an endpoint also reruns the map (the path is drawn on it) and the interpolation.
In compare mode a click also reruns the other map (its ◇ mark of the carried point).
The view is kept across pages and written to the link (`explorer.view_state`).
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
from explorer.images import tile, to_data_uri
from explorer.latent_plots import COLOUR_BY, CYCLIC_SCALES, add_error_heatmap, latent_map_figure
from explorer.selection import DATA_TRACE, GRID_TRACE, click_from_selection, trace_numbers
from vaeflow import FlowSpec, latent

KEY = "explore_"  # session-state (and CSS class) prefix of this page
# The view as last shown (a `view_state.ViewState`, not a widget key, so it outlives a visit to
# another page, where Streamlit drops the state of every widget it does not draw).
SAVED = KEY + "saved"
PENDING = KEY + "pending"  # points read from a link, placed once the model's map is known
MAP_FRAGMENT, MAP2_FRAGMENT, VIEW_FRAGMENT, INTERP_FRAGMENT = "map", "map2", "view", "interp"
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
        """A stored point -> its full latent vector (a dataset row's own mean, a point carried
        from another model's map, or a point of the plane)."""
        if point.get("z") is not None:
            return np.asarray(point["z"], dtype=np.float32)
        if point.get("index") is not None:
            return self.means[int(point["index"])]
        return latent.embed_plane(point["xy"], self.latent_dim, self.dims)

    def point_of_row(self, row: int) -> dict:
        return {"xy": tuple(float(v) for v in self.means[row, list(self.dims)]), "index": int(row)}


# Images never run past their column: they shrink with it, still as crisp squares.
_CSS = """<style>
[data-testid="stImage"], [data-testid="stImageContainer"] { max-width: 100%; }
[data-testid="stImage"] img { height: auto; image-rendering: pixelated; }
</style>"""


def main() -> None:
    st.html(_CSS)
    st.title("Explore the latent space")
    refs = cache.model_refs()
    restore_view([ref.name for ref in refs])
    model_list_watch(tuple(ref.name for ref in refs))
    ctx, other = setup_ui(refs)
    if ctx is None:
        return
    if ctx.latent_dim < 2:
        st.warning("This model has a 1-D latent space; the map needs at least 2 dimensions.")
    elif other is None:
        left, right = st.columns([3, 2], gap="medium")
        with left:
            latent_map_ui(ctx, None)
        with right:
            decoded_view_ui(ctx, None)
        st.divider()
        interpolation_ui(ctx, None)
    else:
        left, right = st.columns(2, gap="medium")
        with left:
            st.markdown(f"**{ctx.ref.name}**")
            latent_map_ui(ctx, other)
        with right:
            st.markdown(f"**{other.ref.name}**")
            compare_map_ui(ctx, other)
        decoded_view_ui(ctx, other)
        st.divider()
        interpolation_ui(ctx, other)
    st.divider()
    prior_samples_ui(ctx)
    reconstruction_grid_ui(ctx)
    publish_view(ctx, other)


# Widget key -> the ViewState field it shows. The widgets keep their values across pages
# (persist_state="session") and take them from session state, never from a default argument.
_WIDGET_FIELDS = {
    "model": "model", "compare": "compare", "colour_by": "colour_by",
    "cyclic_scale": "cyclic_scale", "manifold": "manifold", "iso": "iso", "error_map": "error_map",
    "t": "t",
    "method": "method", "n_frames": "frames",
}
PERSIST = "session"
NO_COMPARE = "—"


def restore_view(models: list[str]) -> None:
    """On a session's first run, open the view its link describes.

    Whatever part of the link cannot be used (a deleted run, z = "abc", t = 7) keeps its
    default and is named in one warning. Later runs keep what the widgets and points hold
    (the widgets persist across pages; the points are plain session state).
    """
    state = st.session_state
    if SAVED in state:
        return
    view, problems = view_state.parse_view(
        st.query_params.to_dict(), models=models, n_rows=cache.HELDOUT_SIZE)
    state[SAVED] = view
    state[PENDING] = {"view": view.z, "A": view.a, "B": view.b}
    state[KEY + "view_on"] = view.z_on if view.compare is not None else 0
    for key, field in _WIDGET_FIELDS.items():
        value = getattr(view, field)
        state[KEY + key] = NO_COMPARE if (key == "compare" and value is None) else value
    if view.model is None:
        state.pop(KEY + "model")
    for key, axis in (("x_axis", view.axes[0]), ("y_axis", view.axes[1])):
        state[KEY + key] = f"z{axis + 1}"
    text = view_state.warning_text(problems)
    if text:
        st.warning(text, icon=":material/link_off:")


@st.fragment(run_every=5)
def model_list_watch(shown: tuple[str, ...]) -> None:
    """Rerun the page when the models on offer change (a run finished while it is open)."""
    if tuple(cache.model_names()) != shown:
        st.rerun()


def _link_point(point: dict | None) -> view_state.Point | None:
    if point is None:
        return None
    if point.get("index") is not None:
        return int(point["index"])
    return (float(point["xy"][0]), float(point["xy"][1]))


def publish_view(ctx: Context, other: Context | None) -> None:
    """Put the view shown now in the page's link (and keep it as the session's saved view)."""
    state = st.session_state
    view = view_state.ViewState(
        model=ctx.ref.name,
        compare=None if other is None else other.ref.name,
        colour_by=state.get(KEY + "colour_by", "θ"),
        cyclic_scale=state.get(KEY + "cyclic_scale", "Twilight"),
        manifold=bool(state.get(KEY + "manifold", True)),
        iso=bool(state.get(KEY + "iso", False)),
        error_map=bool(state.get(KEY + "error_map", False)),
        axes=ctx.dims,
        z=_link_point(state.get(KEY + "view")),
        z_on=state.get(KEY + "view_on", 0) if other is not None else 0,
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


def setup_ui(refs: list[cache.ModelRef]) -> tuple[Context | None, Context | None]:
    """Model and map settings (a change reruns the page).

    Returns (the model's context, the compared model's or None); (None, None) when the
    model does not load.
    """
    by_name = {ref.name: ref for ref in refs}
    state = st.session_state
    for key, field in _WIDGET_FIELDS.items():  # defaults without a default argument
        state.setdefault(KEY + key, getattr(view_state.DEFAULT, field))
    if state[KEY + "model"] not in by_name:  # no link, or a run deleted since
        state[KEY + "model"] = refs[0].name
    compare_options = [NO_COMPARE] + [n for n in by_name if n != state[KEY + "model"]]
    if state[KEY + "compare"] not in compare_options:
        state[KEY + "compare"] = NO_COMPARE
    c_model, c_compare, c_colour, c_scale = st.columns([2, 2, 1.3, 1.3])
    name = c_model.selectbox(
        "Model", list(by_name), key=KEY + "model", persist_state=PERSIST,
        help="The shipped pretrained default, or any training run that finished with a model. "
             + _prior_help(by_name[state[KEY + "model"]]),
    )
    compare_name = c_compare.selectbox(
        "Compare with", compare_options, key=KEY + "compare", persist_state=PERSIST,
        help="A second model's map beside the first: a click decodes in both, the clicked "
             "image's encoding is marked on the other map, and the interpolation runs in both.",
    )
    colour_by = c_colour.selectbox("Colour by", COLOUR_BY, key=KEY + "colour_by", persist_state=PERSIST,
                                   help="The true factor of each image; θ on a cyclic colour scale.")
    c_scale.selectbox("Cyclic scale", CYCLIC_SCALES, key=KEY + "cyclic_scale", persist_state=PERSIST,
                      disabled=colour_by != "θ", help="The colour scale of θ (an angle: it wraps around).")
    # One row of toggles, each as wide as its label: columns would cut the labels short.
    with st.container(horizontal=True, gap="large", key="explore_toggles"):
        st.toggle("Manifold map", key=KEY + "manifold", persist_state=PERSIST,
                  help="Images decoded on a grid, drawn behind the points (one batch).")
        st.toggle("Iso-curves", key=KEY + "iso", persist_state=PERSIST,
                  help="Iso-a and iso-θ curves: encoded sweeps of one true factor with the other held fixed.")
        error_map_toggle_ui()
        if _has_flow_prior(by_name[name]):
            st.toggle("Prior contours", value=False, key=KEY + "prior",
                      help="Contour lines of the model's learned prior p(z) on the map.")
    ctx = _context(by_name[name])
    if ctx is None:
        return None, None

    dims = (0, 1)
    if ctx.latent_dim > 2:
        axes = [f"z{i + 1}" for i in range(ctx.latent_dim)]
        c1, c2, _ = st.columns([1, 1, 3])
        for key in ("x_axis", "y_axis"):
            if state.get(KEY + key) not in axes:  # a link's axis this model lacks
                state[KEY + key] = axes[0 if key == "x_axis" else 1]
        x_axis = c1.selectbox("x axis", axes, key=KEY + "x_axis", persist_state=PERSIST)
        y_axis = c2.selectbox("y axis", axes, key=KEY + "y_axis", persist_state=PERSIST)
        if x_axis == y_axis:
            st.warning("Pick two different latent axes.")
            return None, None
        dims = (axes.index(x_axis), axes.index(y_axis))
        st.caption("The other latent coordinates are held at 0 (the origin, the mean of an N(0, I) prior) for decoding.")
    ctx = _on_plane(ctx, dims)
    other = None
    if compare_name != NO_COMPARE and ctx.latent_dim >= 2:
        other = _context(by_name[compare_name])
        if other is not None and other.latent_dim < 2:
            st.warning(f"{compare_name!r} has a 1-D latent space: no map to compare.")
            other = None
        if other is not None:
            other = _on_plane(other, dims if max(dims) < other.latent_dim else (0, 1))
    _collapse_warning(ctx)
    if other is not None:
        _collapse_warning(other)

    # A different model (or retrained files) invalidates the points picked on the old map;
    # another compared model, only the clicked point when it was on that model's map.
    identity = (ctx.ref, dims)
    if state.get(KEY + "identity") != identity:
        state[KEY + "identity"] = identity
        for k in ("view", "A", "B", "mark"):
            state.pop(KEY + k, None)
    other_identity = None if other is None else (other.ref, other.dims)
    if state.get(KEY + "other_identity") != other_identity:
        state[KEY + "other_identity"] = other_identity
        state.pop(KEY + "mark", None)
        if state.get(KEY + "view_on", 0) == 1 and KEY + "view" in state:
            state.pop(KEY + "view")
            state[KEY + "view_on"] = 0
    if other is None:
        state[KEY + "view_on"] = 0
    pending = state.pop(PENDING, None) or {}
    for k, point in pending.items():
        if point is not None and ctx.latent_dim >= 2:
            on = other if (k == "view" and state.get(KEY + "view_on") == 1 and other) else ctx
            state[KEY + k] = (on.point_of_row(point) if isinstance(point, int)
                              else {"xy": tuple(point), "index": None})
    if ctx.latent_dim >= 2:
        for label, quarter in (("A", 0.25), ("B", 0.75)):
            state.setdefault(KEY + label, ctx.point_of_row(_typical_row(ctx.spec, ctx.factors, quarter)))
    if other is not None and KEY + "view" in state and pending.get("view") is not None:
        clicked, target = (other, ctx) if state[KEY + "view_on"] == 1 else (ctx, other)
        state[KEY + "mark"] = carry(clicked, target, state[KEY + "view"])
    return ctx, other


def _context(ref: cache.ModelRef) -> Context | None:
    """The model's context on its first two axes, or None after an error message."""
    try:
        cache.get_model(ref)
        source = cache.data_source(ref)
        for warning in source.warnings:  # a missing or replaced dataset is said, never hidden
            st.warning(warning, icon=":material/warning:")
        spec = source.spec
        spec_json = spec.to_json()
        images, factors = cache.heldout_set(spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)
        means = cache.heldout_means(ref, spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)
    except ValueError as error:
        st.error(f"Cannot use model {ref.name!r}: {error}")
        return None
    return Context(ref, spec_json, spec, images, factors, means, (0, 1), (-3.0, 3.0), (-3.0, 3.0))


def _on_plane(ctx: Context, dims: tuple[int, int]) -> Context:
    if ctx.latent_dim < 2:
        return ctx
    # At least ±2 around the cloud's centre: room to click beyond what the encoder uses.
    x_range, y_range = latent.plot_ranges(ctx.means[:, list(dims)], min_half_width=2.0)
    return dataclasses.replace(ctx, dims=dims, x_range=x_range, y_range=y_range)


def _collapse_warning(ctx: Context) -> None:
    kl = cache.heldout_kl(ctx.ref, ctx.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)
    if kl < COLLAPSE_KL_NATS:
        st.warning(
            f"{ctx.ref.name!r} has collapsed: its posterior carries {kl:.2f} nats per image "
            f"(KL to the prior, held-out mean), so every image encodes to nearly the same z and "
            f"every decode is the same blur. Train longer, or on more data.",
            icon=":material/compress:")


# Below this mean KL (nats/image) the latent carries almost nothing: a healthy 2-D model of
# these images holds several nats (the pretrained one ~7), a collapsed run ~0.2.
COLLAPSE_KL_NATS = 1.0


def carry(src: Context, dst: Context, point: dict) -> dict:
    """`src`'s point on `dst`'s map, through the data: the held-out image whose posterior mean
    under `src` is nearest the point (the clicked image itself for a data point), encoded by
    `dst`. The point carries that row as "via"."""
    if point.get("index") is not None:
        row = int(point["index"])
    else:
        row = int(latent.nearest_index(src.means, src.z_of(point))[0])
    if src.spec_json == dst.spec_json:  # the same held-out set: the row is a point of dst's map
        return {**dst.point_of_row(row), "via": row}
    z = cache.heldout_means(dst.ref, src.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED)[row]
    return {"xy": tuple(float(v) for v in z[list(dst.dims)]), "index": None,
            "z": tuple(float(v) for v in z), "via": row}


def _typical_row(spec: FlowSpec, factors: np.ndarray, fraction: float) -> int:
    """A held-out row with a near its mean and θ near `fraction` of its range.

    The default endpoints sit half a turn apart (θ_min and θ_max are the same image, so the
    extremes of θ would make an empty interpolation).
    """
    theta = spec.theta_min + fraction * (spec.theta_max - spec.theta_min)
    cost = np.abs(factors[:, 1] - theta) / (spec.theta_max - spec.theta_min) + np.abs(
        factors[:, 0] - spec.a_mean) / (4 * spec.a_std)
    return int(np.argmin(cost))


def _on_map_click(ctx: Context, other: Context | None, side: int, data_curve: int | None,
                  grid_curve: int | None) -> None:
    """Selection callback of map `side` (0: the model, 1: the compared one): store the point
    and rerun only what shows it. An endpoint also redraws the paths and the interpolation;
    in compare mode the other map gets a mark where the point's nearest image lands."""
    clicked, target = (ctx, other) if side == 0 else (other, ctx)
    click = click_from_selection(
        st.session_state.get(KEY + ("map", "map2")[side]), data_curve=data_curve,
        grid_curve=grid_curve, n_points=len(clicked.means),
    )
    if click is None:  # a second click on a selected point deselects it: keep what was shown
        return
    state = st.session_state
    point = {"xy": click.xy, "index": click.index}
    state[KEY + "view"] = point
    state[KEY + "view_on"] = side
    mark = None if target is None else carry(clicked, target, point)
    state[KEY + "mark"] = mark
    maps = [MAP_FRAGMENT] + ([MAP2_FRAGMENT] if other is not None else [])
    label = state.get(KEY + "click_sets", "view")
    if label in ("A", "B"):
        # Endpoints live on the first model's map; a click on the other map is carried over.
        endpoint = point if side == 0 else mark
        state[KEY + label] = {"xy": endpoint["xy"], "index": endpoint["index"]}
        state[KEY + f"row_{label}"] = endpoint["index"]  # None: a free point, empty box
        st.rerun([VIEW_FRAGMENT, *maps, INTERP_FRAGMENT])
    if other is not None:
        # The view first: its images reach the browser before the other map is rebuilt.
        st.rerun([VIEW_FRAGMENT, (MAP2_FRAGMENT, MAP_FRAGMENT)[side]])
    # Only the decoded view changes: the map stays in the browser untouched.
    st.rerun([VIEW_FRAGMENT])


def _describe(ctx: Context, point: dict) -> str:
    z = ctx.z_of(point)
    coords = ", ".join(f"{v:+.2f}" for v in z)
    if point.get("index") is None:
        return f"z = ({coords})"
    a, theta = ctx.factors[int(point["index"])]
    return f"#{point['index']} (a = {a:.2f}, θ = {theta:.2f}) · z = ({coords})"


def _figure(ctx: Context, path: np.ndarray | None, endpoints: dict, marker: tuple | None,
            t_point: tuple | None, height: int):
    """The map figure, and the caption naming its iso-curves' levels (None without curves)."""
    state = st.session_state
    manifold = None
    if state.get(KEY + "manifold", True):
        manifold = cache.manifold_data_uri(ctx.ref, ctx.x_range, ctx.y_range, 15, ctx.latent_dim, ctx.dims)
    iso = iso_levels = None
    if state.get(KEY + "iso", False):
        try:
            iso_a_full, iso_theta_full, a_levels, theta_levels = cache.iso_curves(ctx.ref, ctx.spec_json)
            iso = dict(iso_a=iso_a_full[..., list(ctx.dims)], iso_theta=iso_theta_full[..., list(ctx.dims)],
                       iso_a_levels=a_levels, iso_theta_levels=theta_levels)
            iso_levels = ("iso-a (solid, cyan): θ swept at each a · "
                          "iso-θ (dashed, white): a swept at each θ; labels at the curves' ends")
        except ValueError as error:
            st.warning(f"Iso-factor curves unavailable: {error}")
    prior_density = None
    if state.get(KEY + "prior", False) and _has_flow_prior(ctx.ref) and ctx.latent_dim >= 2:
        prior_density = cache.prior_density(ctx.ref, ctx.x_range, ctx.y_range, 80, ctx.dims)
    x_name, y_name = (f"z{d + 1}" for d in ctx.dims)
    figure = latent_map_figure(
        ctx.means[:, list(ctx.dims)], ctx.factors, x_range=ctx.x_range, y_range=ctx.y_range,
        colour_by=state.get(KEY + "colour_by", "θ"),
        cyclic_scale=state.get(KEY + "cyclic_scale", "Twilight"),
        theta_range=(ctx.spec.theta_min, ctx.spec.theta_max), manifold=manifold,
        **(iso or {}), path=path, endpoints=endpoints, marker=marker, t_point=t_point,
        prior_density=prior_density, axis_titles=(x_name, y_name), height=height,
    )
    return figure, iso_levels


def _has_flow_prior(ref: cache.ModelRef) -> bool:
    try:
        return cache.get_model(ref).config.prior == "flow"
    except ValueError:  # the model does not load; the page says so where it loads it
        return False


def _prior_help(ref: cache.ModelRef) -> str:
    """The selected model's prior, for the picker's help ("" when it does not load)."""
    try:
        return "This model's prior: " + latent.describe_prior(cache.get_model(ref).config) + "."
    except ValueError:
        return ""


def _path(ctx: Context, n: int, a: dict | None = None, b: dict | None = None) -> np.ndarray | None:
    """The A → B path on ctx's model (or between the given points), (n, L); None without A, B."""
    a = a or st.session_state.get(KEY + "A")
    b = b or st.session_state.get(KEY + "B")
    if a is None or b is None:
        return None
    return latent.interpolation_path(ctx.z_of(a), ctx.z_of(b), n, st.session_state.get(KEY + "method", "linear"))


def _carried_endpoints(ctx: Context, other: Context) -> dict:
    """A and B (points of ctx's map) carried to the other model's map."""
    state = st.session_state
    return {k: carry(ctx, other, state[KEY + k]) for k in ("A", "B") if KEY + k in state}


def _map(ctx: Context, other: Context | None, side: int) -> None:
    """One clickable map: dataset, manifold map, iso-curves, the A → B path, the current t,
    and in compare mode the mark of a point clicked on the other map."""
    state = st.session_state
    shown = ctx if side == 0 else other
    endpoints = {k: state[KEY + k] for k in ("A", "B") if KEY + k in state}
    if side == 1:
        endpoints = _carried_endpoints(ctx, other)
    path = _path(shown, 64, endpoints.get("A"), endpoints.get("B"))
    t = float(state.get(KEY + "t", 0.5))
    t_point = None
    if path is not None:
        z_t = latent.interpolate(path[0], path[-1], t, state.get(KEY + "method", "linear"))
        t_point = tuple(float(v) for v in z_t[list(shown.dims)])
    mark = state.get(KEY + "mark")
    marker = mark["xy"] if (mark and other is not None and state.get(KEY + "view_on", 0) != side) else None
    figure, iso_levels = _figure(
        shown, None if path is None else path[:, list(shown.dims)],
        {k: p["xy"] for k, p in endpoints.items()}, marker, t_point,
        height=520 if other is None else 460)
    _add_error_layer(shown, figure)
    numbers = trace_numbers(figure)
    st.plotly_chart(
        figure, key=KEY + ("map", "map2")[side], on_select=functools.partial(
            _on_map_click, ctx, other, side, numbers.get(DATA_TRACE), numbers.get(GRID_TRACE)),
        selection_mode=("points",),
        # Plotly counts a second click within doubleClickDelay (300 ms by default) anywhere
        # as a double click, which clears the selection instead of selecting: quick clicks
        # on two points would lose the second.
        config={"displaylogo": False, "scrollZoom": True, "doubleClickDelay": 120},
    )
    if side == 0:
        st.caption("Click a point or anywhere on the map to decode it. Drag to pan, scroll to zoom."
                   + (" ◇ marks where the other model puts the clicked point's nearest image."
                      if other is not None else ""))
    if iso_levels:
        st.caption(iso_levels)


@st.fragment(key=MAP_FRAGMENT)
def latent_map_ui(ctx: Context, other: Context | None) -> None:
    """The clickable map of the model."""
    _map(ctx, other, 0)


@st.fragment(key=MAP2_FRAGMENT)
def compare_map_ui(ctx: Context, other: Context) -> None:
    """The clickable map of the compared model."""
    _map(ctx, other, 1)


@st.fragment(key=VIEW_FRAGMENT)
def decoded_view_ui(ctx: Context, other: Context | None) -> None:
    """The decode of the last click, large; its true image, reconstruction, nearest true image.

    In compare mode the click decodes in both models: the clicked model at the point, the
    other at the point carried through the data (`carry`)."""
    state = st.session_state
    st.radio(
        "A click on the map sets", ["view", "A", "B"], horizontal=True, key=KEY + "click_sets",
        help="view: decode the clicked point. A / B: also make it an interpolation endpoint.",
    )
    point = state.get(KEY + "view") or {"xy": (0.0, 0.0), "index": None}
    if other is None:
        _decoded(ctx, point, "decoded " + ("origin " if KEY + "view" not in state else "")
                 + _describe(ctx, point), "decoded_view")
        _neighbours(ctx, point)
        error_cell_ui(ctx, point)
        publish_view(ctx, other)
        return
    side = state.get(KEY + "view_on", 0) if KEY + "view" in state else 0
    clicked, target = (ctx, other) if side == 0 else (other, ctx)
    if KEY + "view" in state:
        mark = state.get(KEY + "mark") or carry(clicked, target, point)
    else:
        mark = {"xy": (0.0, 0.0), "index": None}  # the origin in both
    points = (point, mark) if side == 0 else (mark, point)
    cols = st.columns(3, gap="medium")
    for i, (model_ctx, model_point) in enumerate(zip((ctx, other), points)):
        with cols[i]:
            how = ("clicked" if i == side else "nearest image ◇") if KEY + "view" in state else "origin"
            _decoded(model_ctx, model_point, f"{model_ctx.ref.name} · {how} · " + _describe(model_ctx, model_point),
                     ("decoded_view", "decoded_view_2")[i])
    with cols[2]:
        if KEY + "view" in state:
            row = int(mark.get("via", point.get("index") if point.get("index") is not None else -1))
            recon = [cache.reconstructions(c.ref, clicked.spec_json, cache.HELDOUT_SIZE, cache.HELDOUT_SEED, (row,))[0]
                     for c in (ctx, other)]
            with st.container(key="decoded_neighbours"):
                _image(_tile(np.stack([clicked.images[row], *recon]), 3), SMALL_PX // 36, caption=None)
                a, theta = clicked.factors[row]
                st.caption(f"held-out image #{row} (a {a:.2f}, θ {theta:.2f}) · its reconstruction by "
                           f"{ctx.ref.name} · by {other.ref.name}")
    error_cell_ui(ctx, points[0])
    publish_view(ctx, other)


def _decoded(ctx: Context, point: dict, caption: str, key: str) -> None:
    decoded = cache.decode(ctx.ref, tuple(float(v) for v in ctx.z_of(point)))
    with st.container(key=key):
        _image(decoded, VIEW_PX // decoded.shape[0], caption=caption)


def _neighbours(ctx: Context, point: dict) -> None:
    """The clicked image and its reconstruction (a data point), and the nearest other image."""
    z = ctx.z_of(point)
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
        _image(_tile(np.stack(tiles), len(tiles)), SMALL_PX // 36, caption=None)
        st.caption(" · ".join(parts))


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


def error_map_toggle_ui() -> None:
    """The error-map toggle, in the row of map toggles (a change reruns the page, as they do)."""
    st.toggle(
        "Error map", key=KEY + "error_map", persist_state=PERSIST,
        help="How wrong the decoder is, per cell: the decoded image against the true flow at the "
             "factors (a, θ) of the cell's 10 nearest held-out encodings, as KL(true ‖ decoded) "
             "in nats (Bernoulli cross-entropy minus the true image's entropy). Replaces the "
             "manifold map while on; click a cell to see its images.")


def _add_error_layer(ctx: Context, figure) -> None:
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
    _redraw_paths()


# What an endpoint, the method or t changes: the paths (and t's mark) on the maps and the strips.
# The interpolation first: its frame reaches the browser before the maps are rebuilt.
_PATH_FRAGMENTS = (INTERP_FRAGMENT, MAP_FRAGMENT, MAP2_FRAGMENT)


def _redraw_paths() -> None:
    compare = st.session_state.get(KEY + "other_identity") is not None
    st.rerun(list(_PATH_FRAGMENTS if compare else _PATH_FRAGMENTS[:2]))


@st.fragment(key=INTERP_FRAGMENT)
def interpolation_ui(ctx: Context, other: Context | None) -> None:
    """Endpoints A and B, the method, a t slider with its decoded frame, a strip, exports.

    In compare mode the same two held-out images (A and B's nearest) are interpolated in the
    other model too: a frame and a strip per model."""
    state = st.session_state
    st.subheader("Interpolation")
    n_rows = len(ctx.means)
    c_a, c_b, c_method, c_frames = st.columns([1, 1, 1, 1])
    for label, col in (("A", c_a), ("B", c_b)):
        point = state[KEY + label]
        row_key = KEY + f"row_{label}"
        if row_key not in state:  # the box shows the endpoint's row, empty for a free point
            state[row_key] = point.get("index")
        col.number_input(
            f"{label} = dataset #", min_value=0, max_value=n_rows - 1, step=1, value=None,
            placeholder="a point of the map", key=row_key,
            on_change=_set_endpoint_from_row, args=(ctx, label),
        )
        col.caption(f"{label}: " + _describe(ctx, point))
    c_method.radio("Path", list(view_state.METHODS), key=KEY + "method", horizontal=True,
                   on_change=_redraw_paths, persist_state=PERSIST,
                   help="spherical (slerp) turns around the origin instead of cutting across.")
    n_frames = c_frames.slider("Frames in the strip", *view_state.FRAMES_RANGE, key=KEY + "n_frames",
                               persist_state=PERSIST)
    models = [(ctx, None)] + ([] if other is None else [(other, _carried_endpoints(ctx, other))])
    method = state.get(KEY + "method", "linear")
    left, right = st.columns([1, 2], gap="medium")
    with left:
        t = st.slider("t", 0.0, 1.0, step=0.01, key=KEY + "t", persist_state=PERSIST,
                      on_change=_redraw_paths, help="The frame at t is marked ○ on the path.")
        playing = st.toggle("▶ Play", key=KEY + "play", help="Loop A → B → A as an animation.")
    strips = []
    for i, (model_ctx, ends) in enumerate(models):
        ends = ends or {}
        path = _path(model_ctx, n_frames, ends.get("A"), ends.get("B"))
        frames = cache.decode_path(model_ctx.ref, tuple(tuple(float(v) for v in z) for z in path))
        strips.append(frames)
        name = f"{model_ctx.ref.name} · " if other is not None else ""
        with left, st.container(key=("interp_frame", "interp_frame_2")[i]):
            if playing:
                st.image(gif_bytes(frames, factor=FRAME_PX // 36), caption=name + "A → B → A",
                         width=FRAME_PX // 36 * frames.shape[2])
            else:
                z_t = latent.interpolate(path[0], path[-1], t, method)
                frame = cache.decode(model_ctx.ref, tuple(float(v) for v in z_t))
                _image(frame, FRAME_PX // 36,
                       caption=f"{name}t = {t:.2f} · z = ({', '.join(f'{v:+.2f}' for v in z_t)})")
        with right:
            strip_rows = -(-n_frames // 8)  # at most 8 frames a row, rows as even as possible
            with st.container(key=("interp_strip", "interp_strip_2")[i]):
                _image(_tile(frames, -(-n_frames // strip_rows)), 2,
                       caption=f"{name}{n_frames} frames from A (top left) to B, row by row")
    with right:
        frames = strips[0]
        d1, d2 = st.columns(2)
        # Files are encoded only when a button is clicked (deferred data), not on every rerun.
        d1.download_button("Download GIF", functools.partial(gif_bytes, frames, factor=4),
                           "interpolation.gif", mime="image/gif", key=KEY + "gif", on_click="ignore")
        d2.download_button("Download PNG strip", functools.partial(strip_png, frames, factor=4),
                           "interpolation.png", mime="image/png", key=KEY + "png", on_click="ignore")
    publish_view(ctx, other)


GRID_COLUMNS = 8  # the default counts (16 samples, 8 reconstructions) fill whole rows


@st.fragment
def prior_samples_ui(ctx: Context) -> None:
    st.subheader("Samples from the prior")
    n, seed = _count_and_seed_ui("prior", most=48, default=16)
    samples = cache.prior_samples(ctx.ref, n, int(seed))
    prior = "p(z)" if _has_flow_prior(ctx.ref) else "N(0, I)"
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
    stretch the image with smoothing. A PNG data URI: Streamlit passes it on untouched (bytes
    it would re-encode as JPEG, store as a media file and serve by a second request per image).
    """
    st.image(to_data_uri(image, factor), caption=caption, width=int(image.shape[1]) * factor)


def _tile(images: np.ndarray, n_cols: int) -> np.ndarray:
    # Grey gutters: the flow images have black backgrounds, black gutters would merge them.
    return tile(images, n_cols, pad=2, pad_value=70)


main()
