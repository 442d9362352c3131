"""Widget groups that draw controls and return typed values (`FlowSpec`, `TrainConfig`, seeds).

Every control has bounds that make an invalid value impossible to enter, so the configs they
return validate. Widget keys are `<prefix>.<field>` with the dataclass field names, the same
keys the CLI flags and the JSON files use.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import streamlit as st

import vaeflow

SEED_MAX = 2**31 - 1
IMAGE_SIZES = (16, 24, 32, 36, 48, 64, 96, 128)


def theta_range(start_deg: float, span_deg: float) -> tuple[float, float]:
    """(θ_min, θ_max) in radians from a start angle and a positive span, both in degrees."""
    if not span_deg > 0:
        raise ValueError(f"span_deg must be > 0, got {span_deg}")
    return math.radians(start_deg), math.radians(start_deg + span_deg)


def theta_degrees(spec: "vaeflow.FlowSpec") -> tuple[int, int]:
    """Inverse of `theta_range` for a spec, rounded to whole degrees (span at least 1°)."""
    start = int(round(math.degrees(spec.theta_min))) % 360
    span = int(round(math.degrees(spec.theta_max - spec.theta_min)))
    return start, min(360, max(1, span))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def reset_keys(prefix: str) -> None:
    """Forget every widget value under `prefix.` so the next run shows the defaults."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix + ".")]:
        del st.session_state[key]


def seed_ui(label: str, key: str, default: int = 0, help: str | None = None) -> int:
    """An integer seed in [0, 2³¹ − 1]."""
    return int(
        st.number_input(label, 0, SEED_MAX, int(default), step=1, key=key, help=help)
    )


# A plain session key (not a widget's): widget values are dropped when their page is left,
# this one carries the split seed between the Dataset and Train pages.
SPLIT_SEED_STATE = "split_seed"


def split_seed_ui(key: str, label: str = "seed of the train/validation split") -> int:
    """The seed that splits a saved dataset into train and validation (`TrainConfig.split_seed`).

    The widget starts from the value last chosen on any page, and choosing one here makes it
    the value the other page starts from.
    """
    value = seed_ui(
        label, key, st.session_state.get(SPLIT_SEED_STATE, 0),
        help="Which images of a saved dataset a run holds out for validation. Keep it fixed "
             "to compare runs with different training seeds on the same validation images.",
    )
    st.session_state[SPLIT_SEED_STATE] = value
    return value


def flow_spec_ui(default: "vaeflow.FlowSpec | None" = None, prefix: str = "spec") -> "vaeflow.FlowSpec":
    """Draw a control for every `FlowSpec` field and return the spec they describe.

    Arguments:
        default: the values shown before the user touches anything (the study's chain).
        prefix: widget key prefix; two groups on one page need different prefixes.

    Returns:
        A valid `FlowSpec`: each control's range lies inside the spec's validation.
    """
    d = default or vaeflow.FlowSpec()
    k: Callable[[str], str] = lambda name: f"{prefix}.{name}"  # noqa: E731
    values: dict[str, Any] = {}

    st.button(
        "Reset to the study's chain",
        key=k("reset"),
        on_click=reset_keys,
        args=(prefix,),
        help="Put every control back to the study's values.",
    )
    st.markdown("**Base** z ~ N(0, σ² I) and **f1 shift, f2 scale**")
    values["base_scale"] = st.slider(
        "base scale σ", 0.05, 1.0, _clamp(d.base_scale, 0.05, 1.0), 0.01, key=k("base_scale"),
        help="Standard deviation of the 2-D normal base, per axis.",
    )
    c1, c2 = st.columns(2)
    shift_x = c1.slider("shift x", -4.0, 4.0, _clamp(d.shift[0], -4.0, 4.0), 0.05, key=k("shift_x"))
    shift_y = c2.slider("shift y", -4.0, 4.0, _clamp(d.shift[1], -4.0, 4.0), 0.05, key=k("shift_y"))
    scale_x = c1.slider("scale x", 0.1, 3.0, _clamp(abs(d.scale[0]), 0.1, 3.0), 0.05, key=k("scale_x"))
    scale_y = c2.slider("scale y", 0.1, 3.0, _clamp(abs(d.scale[1]), 0.1, 3.0), 0.05, key=k("scale_y"))
    values["shift"] = (shift_x, shift_y)
    values["scale"] = (scale_x, scale_y)

    st.markdown("**f3 shear** a ~ N(mean, std²), **f4 rotation** θ ~ U[θ_min, θ_max)")
    c1, c2 = st.columns(2)
    values["a_mean"] = c1.slider("a mean", -8.0, 8.0, _clamp(d.a_mean, -8.0, 8.0), 0.1, key=k("a_mean"))
    values["a_std"] = c2.slider("a std", 0.01, 4.0, _clamp(d.a_std, 0.01, 4.0), 0.01, key=k("a_std"))
    start, span = theta_degrees(d)
    theta_start = c1.slider("θ from (°)", 0, 359, start, 1, key=k("theta_start"))
    theta_span = c2.slider("θ span (°)", 1, 360, span, 1, key=k("theta_span"))
    values["theta_min"], values["theta_max"] = theta_range(theta_start, theta_span)

    st.markdown("**f5 squash** and **rendering**")
    values["tanh"] = st.toggle("tanh (squash into (−1, 1)²)", d.tanh, key=k("tanh"))
    c1, c2 = st.columns(2)
    values["grid_size"] = c1.slider("grid points per axis", 16, 256, int(_clamp(d.grid_size, 16, 256)), 1, key=k("grid_size"))
    values["extent"] = c2.slider("grid extent ±", 0.25, 4.0, _clamp(d.extent, 0.25, 4.0), 0.05, key=k("extent"))
    values["levels"] = c1.slider("contour levels", 1, 256, min(d.levels, 256), 1, key=k("levels"))
    cmaps = list(vaeflow.FlowSpec.cmaps())
    values["cmap"] = c2.selectbox("colour map", cmaps, cmaps.index(d.cmap), key=k("cmap"))
    sizes = sorted(set(IMAGE_SIZES) | {d.image_size})
    values["image_size"] = st.select_slider(
        "image size (px)", sizes, d.image_size, key=k("image_size"),
        help="The models take 36×36 images; other sizes are for looking only.",
    )
    return vaeflow.FlowSpec(**values)


# Training ------------------------------------------------------------------------------------

STREAM = "stream"
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)
_RECIPE_FIELDS = ("beta", "learning_rate", "lr_schedule", "epochs", "batch_size", "patience",
                  "beta_warmup_epochs", "lr_warmup_epochs")


def _recipe_values(preset: str) -> dict[str, Any]:
    """The widget values of a preset's recipe (patience None shows as 0 = off)."""
    recipe = vaeflow.TrainConfig.preset(preset)
    values = {name: getattr(recipe, name) for name in _RECIPE_FIELDS}
    values["patience"] = values["patience"] or 0
    values["learning_rate"] = min(LEARNING_RATES, key=lambda lr: abs(math.log(lr / recipe.learning_rate)))
    values["batch_size"] = min(BATCH_SIZES, key=lambda b: abs(b - recipe.batch_size))
    return values


def apply_recipe(prefix: str) -> None:
    """Callback of the preset box: load that preset's recipe into the training controls."""
    for name, value in _recipe_values(st.session_state[f"{prefix}.preset"]).items():
        st.session_state[f"{prefix}.{name}"] = value


def train_config_ui(
    datasets: "list[tuple[str, str]]", prefix: str = "train"
) -> "tuple[vaeflow.TrainConfig, vaeflow.ModelConfig, str]":
    """Draw the data source, the model and every training hyperparameter; return them.

    Arguments:
        datasets: (label, value) choices; a value is a dataset path or `STREAM`.
        prefix: widget key prefix.

    Returns:
        (TrainConfig without a data source, ModelConfig, the chosen data value) — pass the
        data value to `JobRunner.start(..., data=...)`, which sets the source.
    """
    k: Callable[[str], str] = lambda name: f"{prefix}.{name}"  # noqa: E731
    if k("preset") not in st.session_state:  # first visit: the default recipe
        st.session_state[k("preset")] = "default"
        apply_recipe(prefix)

    labels = {value: label for label, value in datasets}
    data = st.selectbox("data", list(labels), format_func=labels.get, key=k("data"),
                        help="A saved dataset (split into train/validation), or fresh images "
                             "rendered every epoch.")
    c1, c2 = st.columns(2)
    preset = c1.selectbox("model preset", ["default", "study"], key=k("preset"),
                          on_change=apply_recipe, args=(prefix,),
                          help="The compact default network or the study's 54 M-parameter one; "
                               "picking one also loads its training recipe.")
    latent_dim = c2.number_input("latent size", 1, 64, 2, 1, key=k("latent_dim"))
    beta = c1.number_input("β (KL weight)", 0.01, 50.0, step=0.1, format="%.2f", key=k("beta"))
    learning_rate = c2.select_slider("learning rate", LEARNING_RATES, key=k("learning_rate"),
                                     format_func=lambda lr: f"{lr:.0e}")
    epochs = c1.number_input("epochs", 1, 1000, step=1, key=k("epochs"))
    batch_size = c2.select_slider("batch size", BATCH_SIZES, key=k("batch_size"))
    lr_schedule = c1.selectbox("learning-rate schedule", ["constant", "cosine"], key=k("lr_schedule"))
    patience = c2.number_input("patience (0 = off)", 0, 100, step=1, key=k("patience"),
                               help="Early stopping: end after this many epochs without a lower val_loss.")
    beta_warmup = c1.number_input("KL warm-up (epochs)", 0.0, 100.0, step=0.5, key=k("beta_warmup_epochs"),
                                  help="β rises linearly from 0 over this many epochs, so the "
                                       "latent map unfolds before the KL pulls it in.")
    lr_warmup = c2.number_input("learning-rate warm-up (epochs)", 0.0, 100.0, step=0.5,
                                key=k("lr_warmup_epochs"),
                                help="The learning rate rises linearly from 0 over this many epochs.")
    prior = c1.selectbox("prior p(z)", ["normal", "flow"], key=k("prior"),
                         help="N(0, I), or a learned flow (coupling layers) fitted with the VAE.")
    seed = seed_ui("seed", k("seed"), 0, help="Initialisation, shuffles and noise (and the "
                   "stream's images).")
    extra: dict[str, Any] = {}
    if data == STREAM:
        c1, c2 = st.columns(2)
        extra["stream_epoch_size"] = int(c1.number_input(
            "images per epoch", 512, 1_000_000, 20_000, 512, key=k("stream_epoch_size"),
            help="Freshly rendered for every epoch (512 to 1,000,000)."))
        extra["stream_val_size"] = int(c2.number_input(
            "validation images", 64, 100_000, 2_000, 64, key=k("stream_val_size")))
    else:
        c1, c2 = st.columns(2)
        extra["val_fraction"] = c1.slider("validation share", 0.05, 0.5, 0.1, 0.05,
                                          key=k("val_fraction"))
        with c2:
            extra["split_seed"] = split_seed_ui(k("split_seed"), "split seed")
    minutes = st.number_input("time limit in minutes (0 = none)", 0, 10_000, 0, 1,
                              key=k("time_limit_min"))
    config = vaeflow.TrainConfig(
        beta=float(beta), learning_rate=float(learning_rate), lr_schedule=lr_schedule,
        epochs=int(epochs), batch_size=int(batch_size), seed=seed,
        beta_warmup_epochs=float(beta_warmup), lr_warmup_epochs=min(float(lr_warmup), int(epochs) - 0.5),
        patience=int(patience) or None, time_limit_s=60.0 * minutes if minutes else None,
        **extra,
    )
    model_config = vaeflow.ModelConfig(preset=preset, latent_dim=int(latent_dim),
                                       prior=prior if int(latent_dim) >= 2 else "normal")
    return config, model_config, data


def plan_text(config: "vaeflow.TrainConfig", model_config: "vaeflow.ModelConfig", data: str) -> str:
    """What Start will train, in one line, from the values the script actually read (a number
    typed out of a box's range is refused by the browser and the box keeps its old value, so the
    line shows what will run, not what was typed)."""
    if data == STREAM:
        images = f"{config.stream_epoch_size:,} fresh images per epoch ({config.stream_val_size:,} for validation)"
    else:
        images = f"{data} ({config.val_fraction:.0%} held out for validation)"
    stop = [f"early stop after {config.patience} epochs without progress"] if config.patience else []
    stop += [f"at most {config.time_limit_s / 60:g} min"] if config.time_limit_s else []
    warmups = [f"KL warm-up {config.beta_warmup_epochs:g} epochs"] if config.beta_warmup_epochs else []
    warmups += [f"learning-rate warm-up {config.lr_warmup_epochs:g} epochs"] if config.lr_warmup_epochs else []
    return (f"Start trains the {model_config.preset} network (latent size {model_config.latent_dim}, "
            f"prior {model_config.prior}) "
            f"for {config.epochs} epochs on {images}, batch {config.batch_size}, β {config.beta:g}, "
            f"learning rate {config.learning_rate:g} ({config.lr_schedule}), seed {config.seed}"
            + (f", {', '.join(warmups)}" if warmups else "")
            + (f"; {', '.join(stop)}" if stop else "") + ".")
