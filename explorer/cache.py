"""Cached models, encodings and decodes for the Explore page.

Models are `st.cache_resource` (one shared object per process, never copied); arrays are
`st.cache_data` (hashed by their arguments, handed out as copies). Every cached function is
keyed by a `ModelRef` (which model, and a fingerprint of its files) so a retrained run or newly
shipped pretrained weights are picked up without restarting the server. All maths lives in
`vaeflow.latent`; this module only decides what to keep.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import numpy as np
import streamlit as st

import vaeflow
import vaeflow.models
import vaeflow.rendering
from explorer import heldout_store
from explorer.decode_worker import DecodeWorker
from explorer.runs_view import runs_dir
from vaeflow import latent
from vaeflow.models import PRETRAINED_DIR, load_model
from vaeflow.training.provenance import DataSource, run_data_source

PRETRAINED = "pretrained (default)"
# The held-out set every model is drawn on: rendered with the model's own FlowSpec, from a
# seed no training run uses by default, so its points are images the model never saw.
HELDOUT_SIZE = 2000
HELDOUT_SEED = 90_210
_MODEL_FILES = ("config.json", "weights.npz")


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """Which model, and a fingerprint of its files (size and mtime) for cache keys.

    Attributes:
        name: `PRETRAINED` or a run name under the runs folder.
        path: the model directory (`pretrained/` for the default) or run directory.
        fingerprint: changes whenever the model's files change.
    """

    name: str
    path: str
    fingerprint: str


def _fingerprint(model_dir: Path) -> str:
    parts = []
    for name in _MODEL_FILES:
        path = model_dir / name
        if path.is_file():
            stat = path.stat()
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _runs_with_models() -> list[Path]:
    """The run folders holding a final model, newest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    runs = [p.parent.parent for p in root.glob("*/model/config.json")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def model_names() -> list[str]:
    """The names `model_refs` offers, without fingerprinting (cheap enough to poll)."""
    return [PRETRAINED, *(p.name for p in _runs_with_models())]


def model_refs() -> list[ModelRef]:
    """The pretrained default first, then every run with a final model, newest first."""
    refs = [ModelRef(PRETRAINED, str(PRETRAINED_DIR), _fingerprint(PRETRAINED_DIR))]
    return refs + [ModelRef(p.name, str(p), _fingerprint(p / "model")) for p in _runs_with_models()]


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def get_model(ref: ModelRef):
    """The VAE behind `ref` (`vaeflow.load_model`); ValueError if its files are unusable."""
    model = load_model(ref.path)
    # Streamlit runs gc.collect(2) after every script or fragment run, and Keras's
    # clear_session (which Streamlit also calls) another; with TensorFlow's ~10⁶ long-lived
    # objects each pass took 0.3-1 s on the 2-core box, longer than the whole click budget.
    # Freezing moves every object alive now (modules, the model) out of the collector's sight.
    gc.freeze()
    return model


@st.cache_resource(max_entries=4, show_spinner=False)
def get_decoder(ref: ModelRef) -> DecodeWorker:
    """The model's decoder, compiled, behind the one thread that runs every decode of it.

    Every session's decodes go through it (`decode(z)` like the model's), batched when they
    coincide, so concurrent clicks do not each drive TensorFlow from their own script thread.
    """
    return DecodeWorker(latent.compiled_decode(get_model(ref)))


def data_source(ref: ModelRef) -> "DataSource":
    """What the model was trained on (`vaeflow.training.provenance.run_data_source`): its
    spec, and warnings naming the file when the run's dataset is missing or was replaced."""
    # The pretrained entry is the shipped model, trained on the study's flow (pretrained/RECIPE.md).
    return run_data_source(vaeflow.models.PRETRAINED_DIR if ref.name == PRETRAINED else ref.path)


def spec_for(ref: ModelRef) -> "vaeflow.FlowSpec":
    """The FlowSpec the model was trained on (see `data_source` for the warnings)."""
    return data_source(ref).spec


# Part of the held-out set's cache key: images of another renderer are never reused.
RENDERER_VERSION = vaeflow.rendering.RENDERER_VERSION


def heldout_set(spec_json: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, S, S, 3), factors float32 (n, 2)) rendered with the given spec."""
    return _heldout_set(spec_json, n, seed, RENDERER_VERSION, str(heldout_store.cache_dir()))


# Kept in memory here and on disk by `heldout_store` (a bounded folder of .npz files, not
# Streamlit's persist="disk", whose entries for obsolete renderers were never deleted): with
# the set on disk a fresh server was ready ~3 s sooner (benchmarks/bench_browser.py at load
# ~4: 10.3-10.7 s against 13.3-13.7 s with an empty cache).
@st.cache_data(max_entries=4, show_spinner="Rendering the held-out images…")
def _heldout_set(spec_json: str, n: int, seed: int, renderer_version: str,
                 folder: str) -> tuple[np.ndarray, np.ndarray]:
    return heldout_store.load_or_render(spec_json, n, seed, renderer_version, Path(folder))


@st.cache_data(max_entries=8, show_spinner="Encoding the held-out images…")
def heldout_means(ref: ModelRef, spec_json: str, n: int, seed: int) -> np.ndarray:
    """Posterior means float32 (n, L) of the held-out set under the model."""
    images, _ = heldout_set(spec_json, n, seed)
    return latent.posterior_means(get_model(ref), images)


@st.cache_data(max_entries=8, show_spinner=False)
def heldout_kl(ref: ModelRef, spec_json: str, n: int, seed: int) -> float:
    """The mean KL(q(z | x) || N(0, I)) over the held-out set, nats per image."""
    images, _ = heldout_set(spec_json, n, seed)
    return float(np.mean(latent.posterior_kl(get_model(ref), images)))


@st.cache_data(max_entries=8, show_spinner=False)
def reconstructions(ref: ModelRef, spec_json: str, n: int, seed: int, rows: tuple[int, ...]) -> np.ndarray:
    """Decoded posterior means of held-out rows `rows`, uint8 (len(rows), S, S, 3)."""
    means = heldout_means(ref, spec_json, n, seed)
    return latent.decode_uint8(get_decoder(ref), means[list(rows)])


@st.cache_data(max_entries=1024, show_spinner=False)
def decode(ref: ModelRef, z: tuple[float, ...]) -> np.ndarray:
    """The decoded mean image of one latent vector, uint8 (S, S, 3)."""
    return latent.decode_uint8(get_decoder(ref), np.asarray(z, dtype=np.float32))[0]


@st.cache_data(max_entries=64, show_spinner=False)
def decode_path(ref: ModelRef, path: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Decoded mean images of a batch of latent vectors, uint8 (T, S, S, 3), in one call."""
    return latent.decode_uint8(get_decoder(ref), np.asarray(path, dtype=np.float32))


@st.cache_data(max_entries=16, show_spinner="Decoding the manifold map…")
def manifold_data_uri(
    ref: ModelRef, x_range: tuple[float, float], y_range: tuple[float, float], n: int,
    latent_dim: int, dims: tuple[int, int],
) -> str:
    """An n×n mosaic of images decoded at the cell centres in one batch, as the PNG data URI
    the map figure embeds (decoded and encoded once per view)."""
    from explorer.images import tile, to_data_uri

    centres = latent.cell_centres(x_range, y_range, n)
    images = latent.decode_uint8(get_decoder(ref), latent.embed_plane(centres, latent_dim, dims))
    return to_data_uri(tile(images, n, pad=0))


@st.cache_data(max_entries=8, show_spinner="Encoding iso-a and iso-θ sweeps…")
def iso_curves(ref: ModelRef, spec_json: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(iso_a (n_a, T, L), iso_theta (n_θ, T, L), a_levels, theta_levels) for the model."""
    spec = vaeflow.FlowSpec.from_json(spec_json)
    sweeps = latent.iso_factor_sweeps(spec)
    iso_a, iso_theta = latent.iso_curves(get_model(ref), spec, sweeps)
    return iso_a, iso_theta, sweeps.a_levels, sweeps.theta_levels


@st.cache_data(max_entries=8, show_spinner=False)
def prior_density(ref: ModelRef, x_range: tuple[float, float], y_range: tuple[float, float],
                  n: int, dims: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, p(z) on the n×n grid) of the model's prior (`latent.prior_density_grid`)."""
    return latent.prior_density_grid(get_model(ref), x_range, y_range, n, dims)


@st.cache_data(max_entries=16, show_spinner=False)
def prior_samples(ref: ModelRef, n: int, seed: int) -> np.ndarray:
    """Decoded means of n draws z ~ model.prior() with the given seed, uint8 (n, S, S, 3)."""
    return latent.decode_uint8(get_decoder(ref), latent.prior_draws(get_model(ref), n, seed))


@st.cache_data(max_entries=8, show_spinner="Scoring the decoder against the true flows…")
def error_map(
    ref: ModelRef, spec_json: str, heldout_n: int, heldout_seed: int,
    x_range: tuple[float, float], y_range: tuple[float, float], n: int, latent_dim: int,
    dims: tuple[int, int],
) -> "latent.ErrorMap":
    """`vaeflow.latent.error_map` over the n×n cell centres of the map's rectangle, the factors
    predicted from the held-out set's posterior means (cells row-major from the top-left)."""
    images_factors = heldout_set(spec_json, heldout_n, heldout_seed)
    means = heldout_means(ref, spec_json, heldout_n, heldout_seed)
    grid = latent.embed_plane(latent.cell_centres(x_range, y_range, n), latent_dim, dims)
    return latent.error_map(get_decoder(ref), grid, means, images_factors[1],
                            vaeflow.FlowSpec.from_json(spec_json))
