"""The Explore page's view as a link: `ViewState` <-> `st.query_params`, bad values named.

A link carries everything needed to redraw a view: the model (and the one compared with it),
how the map is drawn, the latent axes, the clicked point, the interpolation endpoints, path
and t. Points are written as a held-out row (``A=1713``) or as a point of the plotted plane
(``z=0.25,-1.5``); floats use Python's shortest round-trip form, so a pasted link decodes the
very same z.

`parse_view` never raises on what a user may paste: each unusable value is dropped (its field
keeps its default) and named in the returned problems, which the page shows as one warning.
Pure functions of plain data, tested without Streamlit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

COLOUR_BY = ("a", "θ", "none")
CYCLIC_SCALES = ("Twilight", "IceFire", "Phase")
METHODS = ("linear", "spherical")
# In the link θ is spelled "theta": a non-ASCII value would be percent-encoded.
_COLOUR_IN_LINK = {"a": "a", "θ": "theta", "none": "none"}
FRAMES_RANGE = (4, 24)

# A point: a held-out row (int), or (x, y) on the plotted plane.
Point = int | tuple[float, float]


@dataclasses.dataclass(frozen=True)
class ViewState:
    """What the Explore page shows; None means "the page's default" for that field.

    Attributes:
        model, compare: model names (`explorer.cache.ModelRef.name`); compare None = off.
        colour_by: one of COLOUR_BY; cyclic_scale: one of CYCLIC_SCALES.
        manifold, iso, error_map: the map toggles.
        axes: the plotted latent axes, 0-based (x, y), distinct.
        z: the clicked point; z_on: the map it was clicked on (0: the model's, 1: the
            compared model's); a, b: the interpolation endpoints (on the model's map).
        t: the interpolation parameter in [0, 1]; method: one of METHODS.
        frames: frames in the strip, within FRAMES_RANGE.
    """

    model: str | None = None
    compare: str | None = None
    colour_by: str = "θ"
    cyclic_scale: str = "Twilight"
    manifold: bool = True
    iso: bool = False
    error_map: bool = False
    axes: tuple[int, int] = (0, 1)
    z: Point | None = None
    z_on: int = 0
    a: Point | None = None
    b: Point | None = None
    t: float = 0.5
    method: str = "linear"
    frames: int = 10


DEFAULT = ViewState()


def _number(value: float) -> str:
    # repr: the shortest text that reads back as the same float (a link decodes the same z).
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def format_point(point: Point) -> str:
    """A row as its number, a plane point as "x,y"."""
    if isinstance(point, tuple):
        return f"{_number(point[0])},{_number(point[1])}"
    return str(int(point))


def parse_point(text: str, n_rows: int) -> Point:
    """"1713" -> row 1713 (must be < n_rows); "0.25,-1.5" -> (0.25, -1.5). ValueError otherwise."""
    text = text.strip()
    if "," in text:
        parts = text.split(",")
        if len(parts) != 2:
            raise ValueError("a point is a row number or x,y")
        x, y = float(parts[0]), float(parts[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("x and y must be finite")
        return (x, y)
    if not text.isdigit():
        raise ValueError("a point is a row number or x,y")
    row = int(text)
    if row >= n_rows:
        raise ValueError(f"row must be below {n_rows}")
    return row


def to_query(view: ViewState) -> dict[str, str]:
    """The link's query parameters for `view` (fields that are None are left out)."""
    query = {
        "model": view.model,
        "vs": view.compare,
        "colour": _COLOUR_IN_LINK[view.colour_by],
        "cyclic": view.cyclic_scale,
        "manifold": "1" if view.manifold else "0",
        "iso": "1" if view.iso else "0",
        "errors": "1" if view.error_map else "0",
        "axes": f"z{view.axes[0] + 1},z{view.axes[1] + 1}",
        "z": None if view.z is None else format_point(view.z),
        "zmap": "2" if (view.z_on == 1 and view.z is not None) else None,
        "A": None if view.a is None else format_point(view.a),
        "B": None if view.b is None else format_point(view.b),
        "t": _number(view.t),
        "path": view.method,
        "frames": str(view.frames),
    }
    return {key: value for key, value in query.items() if value is not None}


def parse_view(
    query: Mapping[str, str | Sequence[str]], *, models: Sequence[str], n_rows: int,
) -> tuple[ViewState, list[str]]:
    """The view a link describes, and the problems found in it.

    Arguments:
        query: the query parameters (a value may be a list: its last entry counts).
        models: the model names this server offers (a deleted run is not among them).
        n_rows: the held-out set's size (rows must be below it).

    Returns:
        (view, problems): every field the link gives and that is valid, the defaults for the
        rest; problems is one short text per dropped value (``'t = "7": outside 0…1'``), empty
        for a clean link. Unknown parameter names are ignored (other pages' settings).
    """
    fields: dict = {}
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = query.get(name)
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
        return None if value is None else str(value)

    def check(name: str, field: str, convert) -> None:
        text = get(name)
        if text is None:
            return
        try:
            fields[field] = convert(text)
        except (ValueError, TypeError, OverflowError) as error:
            shown = text if len(text) <= 24 else text[:21] + "…"
            problems.append(f'{name} = "{shown}": {error}')

    def model_name(text: str) -> str:
        if text not in models:
            raise ValueError("no such model here")
        return text

    def one_of(options: Sequence[str]):
        def convert(text: str) -> str:
            if text not in options:
                raise ValueError("expected one of " + ", ".join(options))
            return text
        return convert

    def colour(text: str) -> str:
        by_link = {v: k for k, v in _COLOUR_IN_LINK.items()}
        by_link["θ"] = "θ"
        if text not in by_link:
            raise ValueError("expected a, theta or none")
        return by_link[text]

    def flag(text: str) -> bool:
        if text not in ("0", "1"):
            raise ValueError("expected 0 or 1")
        return text == "1"

    def axes(text: str) -> tuple[int, int]:
        parts = [p.strip().lower().removeprefix("z") for p in text.split(",")]
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise ValueError("expected two axes such as z1,z2")
        x, y = int(parts[0]) - 1, int(parts[1]) - 1
        if x == y:
            raise ValueError("the two axes must differ")
        return (x, y)

    def point(text: str) -> Point:
        return parse_point(text, n_rows)

    def z_map(text: str) -> int:
        if text not in ("1", "2"):
            raise ValueError("expected 1 or 2")
        return int(text) - 1

    def t_value(text: str) -> float:
        t = float(text)
        if not 0.0 <= t <= 1.0:  # NaN fails too
            raise ValueError("outside 0…1")
        return t

    def frames(text: str) -> int:
        if not text.isdigit() or not FRAMES_RANGE[0] <= int(text) <= FRAMES_RANGE[1]:
            raise ValueError(f"expected a whole number in {FRAMES_RANGE[0]}…{FRAMES_RANGE[1]}")
        return int(text)

    check("model", "model", model_name)
    check("vs", "compare", model_name)
    check("colour", "colour_by", colour)
    check("cyclic", "cyclic_scale", one_of(CYCLIC_SCALES))
    check("manifold", "manifold", flag)
    check("iso", "iso", flag)
    check("errors", "error_map", flag)
    check("axes", "axes", axes)
    check("z", "z", point)
    check("zmap", "z_on", z_map)
    check("A", "a", point)
    check("B", "b", point)
    check("t", "t", t_value)
    check("path", "method", one_of(METHODS))
    check("frames", "frames", frames)
    if fields.get("compare") is not None and fields.get("compare") == fields.get("model", models[0] if models else None):
        problems.append(f'vs = "{fields.pop("compare")}": the same model as the first')
    if fields.get("z_on") == 1 and fields.get("compare") is None:
        fields.pop("z_on")  # a point of a second map that is not there
        problems.append('zmap = "2": no model to compare with')
    return dataclasses.replace(DEFAULT, **fields), problems


def check_axes(view: ViewState, latent_dim: int) -> tuple[ViewState, list[str]]:
    """`view` with axes the model has (axes beyond its latent size -> (z1, z2), one problem)."""
    if max(view.axes) < latent_dim:
        return view, []
    x, y = view.axes
    return dataclasses.replace(view, axes=DEFAULT.axes), [
        f'axes = "z{x + 1},z{y + 1}": this model has {latent_dim} latent dimension(s)']


def warning_text(problems: Sequence[str]) -> str | None:
    """The one short warning for a link's problems, or None without any."""
    if not problems:
        return None
    return "Parts of the link were not usable and were left at their defaults: " + "; ".join(problems) + "."
