"""Widget groups that draw controls and return typed values (`FlowSpec`, `TrainConfig`, seeds).

Every control has bounds that make an invalid value impossible to enter, so the configs they
return validate. Widget keys are `<prefix>.<field>` with the dataclass field names, the same
keys the CLI flags and the JSON files use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import streamlit as st

import vaeflow
from explorer import dataset_controls as controls
from explorer.dataset_controls import SEED_MAX, theta_degrees, theta_range  # noqa: F401

# Kept for the whole session: Streamlit forgets an unrendered widget's value (a page left for
# another) unless asked to keep it.
PERSIST = "session"


def init_state(values: dict[str, Any]) -> None:
    """Give each key its value unless the session already holds one (the guard before widgets
    that are drawn without a `value`, so a kept or linked value is never overridden)."""
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value


def set_state(values: dict[str, Any]) -> None:
    """Put these values into the widgets (a callback, or before the widgets are drawn)."""
    for key, value in values.items():
        st.session_state[key] = value


def seed_ui(label: str, key: str, default: int = 0, help: str | None = None,
            on_change: Callable[[], None] | None = None) -> int:
    """An integer seed in [0, 2³¹ − 1], kept across pages."""
    init_state({key: int(default)})
    return int(st.number_input(label, 0, SEED_MAX, step=1, key=key, help=help,
                               on_change=on_change, persist_state=PERSIST))


# A plain session key (not a widget's): it carries the split seed between the Dataset and Train
# pages, whose boxes each keep their own value.
SPLIT_SEED_STATE = "split_seed"


def split_seed_ui(key: str, label: str = "seed of the train/validation split") -> int:
    """The seed that splits a saved dataset into train and validation (`TrainConfig.split_seed`).

    The box shows the value last chosen on any page, and choosing one here makes it the value
    the other page shows.
    """
    st.session_state[key] = st.session_state.get(SPLIT_SEED_STATE, st.session_state.get(key, 0))

    def chosen() -> None:
        st.session_state[SPLIT_SEED_STATE] = st.session_state[key]

    value = seed_ui(
        label, key, help="Which images of a saved dataset a run holds out for validation. Keep "
                         "it fixed to compare runs with different training seeds on the same "
                         "validation images.", on_change=chosen,
    )
    st.session_state[SPLIT_SEED_STATE] = value
    return value


def flow_spec_ui(default: "vaeflow.FlowSpec | None" = None, prefix: str = "spec") -> "vaeflow.FlowSpec":
    """Draw a control for every `FlowSpec` field and return the spec they describe.

    The controls keep their values across pages; put values into them with `set_state` on the
    keys ``f"{prefix}.{name}"`` for the names of `dataset_controls.SPEC_CONTROLS`.

    Arguments:
        default: the values shown before the user touches anything (the study's chain), and
            what "Reset" puts back.
        prefix: widget key prefix; two groups on one page need different prefixes.

    Returns:
        A valid `FlowSpec`: each control's range lies inside the spec's validation.
    """
    k: Callable[[str], str] = lambda name: f"{prefix}.{name}"  # noqa: E731
    defaults = {k(name): value for name, value in controls.spec_values(default).items()}
    init_state(defaults)
    c = controls.CONTROLS

    def slider(where, label: str, name: str, **kwargs) -> Any:
        control = c[name]
        step = control.step if control.kind == "float" else 1
        return where.slider(label, control.low, control.high, step=step, key=k(name),
                            persist_state=PERSIST, **kwargs)

    st.button(
        "Reset to the study's chain",
        key=k("reset"),
        on_click=set_state,
        args=(defaults,),
        help="Put every control back to the study's values.",
    )
    st.markdown("**Base** z ~ N(0, σ² I) and **f1 shift, f2 scale**")
    slider(st, "base scale σ", "base_scale",
           help="Standard deviation of the 2-D normal base, per axis.")
    c1, c2 = st.columns(2)
    slider(c1, "shift x", "shift_x")
    slider(c2, "shift y", "shift_y")
    slider(c1, "scale x", "scale_x")
    slider(c2, "scale y", "scale_y")

    st.markdown("**f3 shear** a ~ N(mean, std²), **f4 rotation** θ ~ U[θ_min, θ_max)")
    c1, c2 = st.columns(2)
    slider(c1, "a mean", "a_mean")
    slider(c2, "a std", "a_std")
    slider(c1, "θ from (°)", "theta_start")
    slider(c2, "θ span (°)", "theta_span")

    st.markdown("**f5 squash** and **rendering**")
    st.toggle("tanh squash", key=k("tanh"), persist_state=PERSIST,
              help="f5: squash the density into (−1, 1)².")
    c1, c2 = st.columns(2)
    slider(c1, "grid points per axis", "grid_size")
    slider(c2, "grid extent ±", "extent")
    slider(c1, "contour levels", "levels")
    c2.selectbox("colour map", c["cmap"].choices, key=k("cmap"), persist_state=PERSIST)
    st.select_slider(
        "image size (px)", c["image_size"].choices, key=k("image_size"), persist_state=PERSIST,
        help="The models take 36×36 images; other sizes are for looking only.",
    )
    return controls.spec_from_values(
        {name: st.session_state[k(name)] for name in controls.SPEC_CONTROLS})


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
    init_state({k("latent_dim"): 2, k("stream_epoch_size"): 20_000, k("stream_val_size"): 2_000,
                k("val_fraction"): 0.1, k("time_limit_min"): 0})
    keep = dict(persist_state=PERSIST)

    labels = {value: label for label, value in datasets}
    kept = st.session_state.get(k("data"))
    if kept not in labels:  # a kept choice whose file is gone: say so, never switch silently
        st.session_state.pop(k("data"), None)
        if kept is not None:
            st.warning(f"The dataset picked before, {Path(kept).name}, is no longer in the data "
                       f"folder (deleted or moved): the data source is now {datasets[0][0]}.")
    data = st.selectbox("data", list(labels), format_func=labels.get, key=k("data"), **keep,
                        help="A saved dataset (split into train/validation), or fresh images "
                             "rendered every epoch.")
    c1, c2 = st.columns(2)
    preset = c1.selectbox("model preset", ["default", "study"], key=k("preset"),
                          on_change=apply_recipe, args=(prefix,), **keep,
                          help="The compact default network or the study's 54 M-parameter one; "
                               "picking one also loads its training recipe.")
    latent_dim = c2.number_input("latent size", 1, 64, step=1, key=k("latent_dim"), **keep)
    beta = c1.number_input("β (KL weight)", 0.01, 50.0, step=0.1, format="%.2f", key=k("beta"),
                           **keep)
    learning_rate = c2.select_slider("learning rate", LEARNING_RATES, key=k("learning_rate"),
                                     format_func=lambda lr: f"{lr:.0e}", **keep)
    epochs = c1.number_input("epochs", 1, 1000, step=1, key=k("epochs"), **keep)
    batch_size = c2.select_slider("batch size", BATCH_SIZES, key=k("batch_size"), **keep)
    lr_schedule = c1.selectbox("learning-rate schedule", ["constant", "cosine"],
                               key=k("lr_schedule"), **keep)
    patience = c2.number_input("patience (0 = off)", 0, 100, step=1, key=k("patience"), **keep,
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
            "images per epoch", 512, 1_000_000, step=512, key=k("stream_epoch_size"), **keep,
            help="Freshly rendered for every epoch (512 to 1,000,000)."))
        extra["stream_val_size"] = int(c2.number_input(
            "validation images", 64, 100_000, step=64, key=k("stream_val_size"), **keep))
    else:
        c1, c2 = st.columns(2)
        extra["val_fraction"] = c1.slider("validation share", 0.05, 0.5, step=0.05,
                                          key=k("val_fraction"), **keep)
        with c2:
            extra["split_seed"] = split_seed_ui(k("split_seed"), "split seed")
    minutes = st.number_input("time limit in minutes (0 = none)", 0, 10_000, step=1,
                              key=k("time_limit_min"), **keep)
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
