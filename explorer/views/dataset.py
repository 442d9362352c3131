"""Dataset page: design the flow, preview it live, inspect its stages, generate and manage datasets."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import streamlit as st

import vaeflow
from explorer import data_store, dataset_controls
from explorer.flow_plots import stage_figure, stage_views
from explorer.images import blank_share, show_image_grid, to_png
from explorer.widgets import (PERSIST, SPLIT_SEED_STATE, flow_spec_ui, init_state, seed_ui, set_state,
                              split_seed_ui)

PREVIEW_N = 24
# control name (dataset_controls.CONTROLS) -> its widget's key
WIDGET_KEYS = {**{name: f"spec.{name}" for name in dataset_controls.SPEC_CONTROLS},
               "seed": "dataset.seed", "split_seed": "dataset.split_seed"}
LINK_STATE = "dataset.link"  # the query parameters this session last wrote


def open_link() -> list[str]:
    """Put the view of a link just opened into the controls; return what it held that was not
    understood. The page's own address (written by `write_link`) and a bare one change nothing,
    so a page left and come back to keeps its controls."""
    query = st.query_params.to_dict()
    if not query or query == st.session_state.get(LINK_STATE):
        return []
    values, problems = dataset_controls.parse_link(query)
    set_state({WIDGET_KEYS[name]: value for name, value in values.items()})
    st.session_state[SPLIT_SEED_STATE] = values["split_seed"]
    return problems


def write_link() -> None:
    """Make the address bar carry the current controls (only what differs from the defaults)."""
    values = {name: st.session_state[key] for name, key in WIDGET_KEYS.items()}
    query = dataset_controls.link_query(values)
    # Sent on every run, not only when the server's copy differs: after fast input Chromium's
    # address was seen to lack values the page showed, and a repeat costs one small message.
    st.query_params.from_dict(query)
    st.session_state[LINK_STATE] = query


@st.cache_data(max_entries=128, show_spinner=False)
def preview(spec_json: str, seed: int, n: int = PREVIEW_N) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` images of the dataset that (spec, seed) describe, and their (a, θ)."""
    return data_store.preview(n, seed, vaeflow.FlowSpec.from_json(spec_json))


def spec_text(spec: dict) -> str:
    """A saved spec's other fields in one line the saved-datasets table wraps."""
    parts = [f"σ {spec['base_scale']:g}", "shift ({:g}, {:g})".format(*spec["shift"]),
             "scale ({:g}, {:g})".format(*spec["scale"])]
    parts += ["tanh"] if spec.get("tanh") else []
    parts += [f"grid {spec['grid_size']}", f"{spec['levels']} levels", str(spec["cmap"]),
              f"{spec['image_size']} px"]
    return " · ".join(parts)


@st.cache_data(max_entries=32, show_spinner=False)
def saved_rows(folder: str, listing: tuple) -> list[dict]:
    """The saved-datasets table; `listing` (names, sizes, mtimes) is the cache key."""
    del listing
    rows = []
    for info in data_store.list_datasets(Path(folder)):
        spec = info.spec or {}
        rows.append({
            "name": info.name,
            "images": info.n_images,
            "MB": round(info.megabytes, 1),
            "seed": info.seed,
            "a ~ N(μ, σ²)": f"N({spec['a_mean']:g}, {spec['a_std']:g}²)" if spec else None,
            "θ range (°)": (
                f"[{math.degrees(spec['theta_min']):.0f}, {math.degrees(spec['theta_max']):.0f})"
                if spec else None
            ),
            "flow and rendering": spec_text(spec) if spec else None,
            "problem": info.error,
        })
    return rows


def caption(a: float, theta: float) -> str:
    return f"a={a:.2f}  θ={math.degrees(theta) % 360:.0f}°"


def preview_ui(spec: "vaeflow.FlowSpec", seed: int) -> tuple[np.ndarray, np.ndarray]:
    images, factors = preview(spec.to_json(), seed)
    st.subheader("Preview")
    st.caption(f"The first {PREVIEW_N} images of seed {seed}, each with its shear a and angle θ.")
    blank = blank_share(images)
    if blank >= 0.25:
        st.warning(f"{blank:.0%} of these images are nearly blank: the density falls off the "
                   "grid (shift, scale or extent). A dataset of them would teach a model little.",
                   icon=":material/warning:")
    with st.container(key="dataset_preview"):
        show_image_grid(images, [caption(a, t) for a, t in factors], px=108)
    return images, factors


@st.cache_data(max_entries=64, show_spinner=False)
def inspected(spec_json: str, a: float, theta: float) -> list:
    """The flow inspector's stage views for one (a, θ)."""
    return stage_views(a, theta, vaeflow.FlowSpec.from_json(spec_json))


@st.cache_data(max_entries=64, show_spinner=False)
def rendered(spec_json: str, a: float, theta: float) -> np.ndarray:
    """The image of one (a, θ), for the inspector's values set by hand."""
    return vaeflow.render_images(np.array([a]), np.array([theta]), vaeflow.FlowSpec.from_json(spec_json))[0]


@st.fragment
def inspector_ui(spec: "vaeflow.FlowSpec", images: np.ndarray, factors: np.ndarray) -> None:
    """The flow inspector. A fragment: its own controls rerun it alone, not the preview. A
    control of the page reruns it too, in the same run; the compiled stage views and a figure
    built without make_subplots keep that run short (issue 10: idle within 0.5 s)."""
    st.subheader("Flow inspector")
    st.caption("One image's flow, stage by stage: the same base points pushed through each "
               "bijector (top) and the density after it (bottom).")
    init_state({"inspect.mode": "a preview image"})
    mode = st.radio("follow", ["a preview image", "a and θ by hand"], horizontal=True,
                    key="inspect.mode", label_visibility="collapsed", persist_state=PERSIST)
    if mode == "a preview image":
        # Keyed by the images themselves: the browser keeps showing a kept selection's old
        # label when only the labels change, so new preview images start a new box.
        index = st.selectbox(
            "preview image", range(len(factors)), key=f"inspect.index.{zlib.crc32(factors.tobytes())}",
            format_func=lambda i: f"#{i + 1}: {caption(*factors[i])}",
        )
        a, theta = (float(v) for v in factors[index])
        image = images[index]  # already rendered by the preview
    else:
        c1, c2 = st.columns(2)
        a = c1.slider("a", -10.0, 10.0, float(spec.a_mean), 0.05, key="inspect.a")
        theta = math.radians(c2.slider("θ (°)", 0, 359, 30, 1, key="inspect.theta"))
        image = rendered(spec.to_json(), a, theta)
    figure = stage_figure(inspected(spec.to_json(), a, theta))
    picture, panels = st.columns([1, 7])
    with picture.container(key="inspect_picture"):
        st.image(to_png(image, max(1, 180 // image.shape[0])), caption=caption(a, theta))
    with panels.container(key="inspect_panels"):
        st.plotly_chart(figure, key="inspect.figure", config={"displayModeBar": False})


def generate_ui(spec: "vaeflow.FlowSpec", seed: int) -> None:
    st.subheader("Generate a dataset")
    with st.form("generate", border=True):
        c1, c2 = st.columns(2)
        init_state({"generate.n": 20_000, "generate.name": "flow"})
        n = c1.number_input("images N", 1, 200_000, step=1000, key="generate.n",
                            persist_state=PERSIST)
        name = c2.text_input("name", max_chars=64, key="generate.name", persist_state=PERSIST,
                             help="Saved as data/<name>.npz; letters, digits, '_', '.', '-'.")
        overwrite = st.checkbox("replace a dataset with the same name", key="generate.overwrite")
        submitted = st.form_submit_button("Generate dataset", type="primary")
    if not submitted:
        return
    try:
        path = data_store.dataset_path(name)
        if path.exists() and not overwrite:
            raise ValueError(f"name {path.stem!r} is taken: tick 'replace' or pick another name")
    except ValueError as error:
        st.error(str(error))
        return
    bar = st.progress(0.0, text="rendering…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(1, total)), text=f"rendered {done:,} / {total:,}")

    dataset = vaeflow.generate_dataset(int(n), seed, spec, progress=progress)
    try:  # the save itself refuses a name another tab took while this one rendered
        data_store.save(dataset, name, overwrite=overwrite)
    except ValueError as error:
        bar.empty()
        st.error(str(error))
        return
    bar.progress(1.0, text="done")
    st.success(f"Saved {len(dataset.images):,} images to {path}")


def saved_ui() -> None:
    st.subheader("Saved datasets")
    folder = data_store.data_dir()
    listing = tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.npz"))
    ) if folder.is_dir() else ()
    rows = saved_rows(str(folder), listing)
    if not rows:
        st.info(f"No datasets in {folder} yet: generate one above or upload one below.")
        return
    if not any(row["problem"] for row in rows):
        rows = [{k: v for k, v in row.items() if k != "problem"} for row in rows]
    # Pixel widths that fit the 638 px a 1100 px window leaves; the spec wraps over 4 lines.
    column = st.column_config.Column
    st.dataframe(rows, hide_index=True, key="saved.table", row_height=86, placeholder="—", column_config={
        "name": column(width=120), "images": column(width=62), "MB": column(width=46),
        "seed": column(width=50), "a ~ N(μ, σ²)": column(width=84), "θ range (°)": column(width=84),
        "flow and rendering": column(width=180, help="base σ · f1 shift · f2 scale · f5 tanh · "
                                                    "density grid · contour levels · colour map · image size"),
    })
    # A row of natural widths: in a narrow column the popover's label was cut to "Del…".
    pick = st.container(horizontal=True, vertical_alignment="bottom")
    name = pick.selectbox("dataset", [row["name"] for row in rows], key="saved.pick", width=260)
    with pick.popover("Delete", icon=":material/delete:"):
        st.markdown(f"Delete **{name}.npz** from {folder}? Runs trained on it keep their "
                    "models, but cannot be resumed.")
        if st.button(f"Delete {name}", key="saved.delete", type="primary"):
            try:
                data_store.delete_dataset(name)
            except ValueError as error:
                st.error(str(error))
            else:
                flash(f"Deleted {name}.npz")
                st.rerun()


def flash(text: str) -> None:
    """A success message shown once, after the rerun that refreshes the saved list."""
    st.session_state["dataset.flash"] = text


def upload_ui() -> None:
    st.subheader("Upload a dataset")
    uploaded = st.file_uploader("a vaeflow .npz dataset", type=["npz"], key="upload.file")
    if uploaded is None:
        return
    content = uploaded.getvalue()
    try:
        dataset = data_store.load_upload(content)
    except ValueError as error:
        st.error(f"{uploaded.name} is not a usable vaeflow dataset: {error}")
        return
    st.success(
        f"{uploaded.name}: {len(dataset.images):,} images of {dataset.images.shape[1]} px, "
        f"seed {dataset.seed}."
    )
    name = st.text_input("save as", uploaded.name.removesuffix(".npz"), key="upload.name")
    if st.button("Add to the saved datasets", key="upload.save"):
        try:
            path = data_store.save_upload(content, name)
        except ValueError as error:
            st.error(str(error))
        else:
            flash(f"Saved to {path}")
            st.rerun()  # so the saved list above shows it


def main() -> None:
    st.title("Dataset")
    problems = open_link()
    if problems:
        st.warning(f"The link's {', '.join(problems)} could not be used: "
                   "shown with the default value instead.", icon=":material/link_off:")
    controls, shown = st.columns([1, 2], gap="large")
    with controls:
        st.subheader("The flow")
        spec = flow_spec_ui()
        st.subheader("Seeds")
        seed = seed_ui("seed of (a, θ)", "dataset.seed", 0,
                       help="Draws each image's shear a and angle θ; same seed, same bytes.")
        split_seed_ui("dataset.split_seed")
        st.caption("The split seed is not stored in the file: it picks the validation images "
                   "when a run trains on a saved dataset, and the Train page starts from it.")
    write_link()
    with shown:
        images, factors = preview_ui(spec, seed)
    inspector_ui(spec, images, factors)
    generate_ui(spec, seed)
    message = st.session_state.pop("dataset.flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")
    saved_ui()
    upload_ui()


main()
