"""Training curves from `metrics.jsonl` records: ELBO panels, run overlays, progress and ETA.

Pure functions of the records the trainer writes (names as in ARCHITECTURE.md: `loss`,
`reconstruction`, `kl`, their `val_` twins, `epoch`, `step`, `images_per_s`, `time`), so the
Train page only draws what these return and they are tested without a browser.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vaeflow import validate
from vaeflow.models import TERMS

TERM_TITLES = {
    # short: three panels share a column that can be 600 px wide
    "loss": "loss (recon. + β·KL)",
    "reconstruction": "reconstruction",
    "kl": "KL(q ‖ p)",
}
TRAIN_COLOUR = "#ff8c1a"
VAL_COLOUR = "#6ec6ff"
# Distinct hues for comparing runs on the dark theme (the default palette repeats blues).
RUN_COLOURS = ("#ff8c1a", "#6ec6ff", "#9be564", "#f25f5c", "#c490e4", "#ffe066", "#2ec4b6",
               "#ff99c8")


def _finite(value: Any) -> bool:
    return validate.is_number(value) and math.isfinite(value)


def series(records: Iterable[Mapping[str, Any]], name: str, x: str = "step",
           kind: str | None = None) -> tuple[list, list]:
    """(xs, ys) of every record holding a finite `name` and `x`, in file order.

    `kind` keeps only records of that kind: the trainer writes ``"window"`` records (training
    terms averaged over a few steps) and ``"epoch"`` records (epoch means and validation).
    """
    xs, ys = [], []
    for record in records:
        if kind is not None and record.get("kind") != kind:
            continue
        if _finite(record.get(name)) and _finite(record.get(x)):
            xs.append(record[x])
            ys.append(record[name])
    return xs, ys


def best_val_elbo(records: Iterable[Mapping[str, Any]]) -> float | None:
    """The highest validation ELBO, −(val_reconstruction + val_kl), in nats; None if no epoch."""
    elbos = [
        -(r["val_reconstruction"] + r["val_kl"])
        for r in records
        if _finite(r.get("val_reconstruction")) and _finite(r.get("val_kl"))
    ]
    return max(elbos) if elbos else None


def focus_range(*curves: Sequence[float]) -> list[float] | None:
    """A y range that keeps the curves readable when their first steps are far off.

    Each curve is in time order; its first fifth may leave the range (a loss often starts
    several times above where it settles), everything after it stays inside. Padded by 5%;
    None (autorange) when there are fewer than 5 values in all.
    """
    lows, tops, count = [], [], 0
    for curve in curves:
        values = [v for v in curve if _finite(v)]
        count += len(values)
        if values:
            lows.append(min(values))
            tops.append(max(values[len(values) // 5:]))
    if count < 5:
        return None
    low, top = min(lows), max(tops)
    pad = 0.05 * (top - low) or 0.05 * abs(low) or 1.0
    return [low - pad, top + pad]


def elbo_figure(records: Sequence[Mapping[str, Any]], title: str = "", x: str = "step") -> go.Figure:
    """Three panels (objective, reconstruction, KL), each with the train and validation curve."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=[TERM_TITLES[t] for t in TERMS],
                           horizontal_spacing=0.09)
    figure.update_annotations(font_size=12)
    has_windows = any(r.get("kind") == "window" for r in records)
    train_kind = "window" if has_windows else None
    for col, term in enumerate(TERMS, start=1):
        shown: list[list[float]] = []
        for name, colour, dash in ((term, TRAIN_COLOUR, "solid"), (f"val_{term}", VAL_COLOUR, "dot")):
            # training curves from the frequent window records (epoch means if there are none)
            kind = (train_kind if name == term else None)
            xs, ys = series(records, name, x, kind)
            shown.append(ys)
            figure.add_trace(
                go.Scatter(
                    x=xs, y=ys, name="train" if name == term else "validation",
                    legendgroup=name.startswith("val_") and "val" or "train",
                    showlegend=col == 1, mode="lines+markers" if name != term else "lines",
                    line=dict(color=colour, dash=dash),
                ),
                row=1, col=col,
            )
        figure.update_xaxes(title_text=x, row=1, col=col)
        figure.update_yaxes(range=focus_range(*shown), row=1, col=col)
    figure.update_yaxes(title_text="nats / image", row=1, col=1)
    figure.update_layout(
        title=title or None, height=320, margin=dict(l=10, r=10, t=60 if title else 40, b=10),
        legend=dict(orientation="h", y=-0.25),
    )
    return figure


def overlay_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], metric: str = "val_loss",
                   x: str = "epoch") -> go.Figure:
    """One curve of `metric` per run, to compare runs on one axis: a term in nats / image, or
    ``r2_a`` / ``r2_cos_theta`` / ``r2_sin_theta``, how much of the flow's factors the
    latent keeps (a folded latent stays near 0.9 in ``r2_a``)."""
    figure = go.Figure()
    for i, (name, records) in enumerate(runs.items()):
        xs, ys = series(records, metric, x, kind="epoch")
        figure.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers",
                                    line=dict(color=RUN_COLOURS[i % len(RUN_COLOURS)])))
    figure.update_layout(
        xaxis_title=x, height=360,
        yaxis_title=metric if metric.startswith("r2_") else f"{metric} (nats / image)",
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return figure


def progress(records: Sequence[Mapping[str, Any]], epochs: int,
             steps_per_epoch: int | None) -> dict[str, float | None]:
    """Where a run is: completed epochs and last step, recent images/s, fraction done and ETA
    in seconds.

    `steps_per_epoch` is taken from the first finished epoch when there is one (exact), else
    from the argument (an estimate from the dataset size). ETA needs two timed records.
    """
    first_epoch = next((r for r in records if r.get("kind") == "epoch" and _finite(r.get("step"))
                        and _finite(r.get("epoch")) and r["epoch"] > 0), None)
    if first_epoch is not None:
        steps_per_epoch = max(1, round(first_epoch["step"] / first_epoch["epoch"]))
    last = next((r for r in reversed(records) if _finite(r.get("step"))), {})
    rate = next((r["images_per_s"] for r in reversed(records) if _finite(r.get("images_per_s"))), None)
    step = last.get("step")
    # completed epochs, as the runs table counts them (a window's epoch is the one in progress)
    epoch = max((r["epoch"] for r in records
                 if r.get("kind") in ("epoch", "end") and _finite(r.get("epoch"))), default=None)
    fraction = eta = None
    if steps_per_epoch and step is not None:
        total = epochs * steps_per_epoch
        fraction = min(1.0, step / total)
        times = [(r["step"], r["time"]) for r in records if _finite(r.get("time")) and _finite(r.get("step"))]
        if len(times) >= 2 and times[-1][0] > times[0][0]:
            seconds_per_step = (times[-1][1] - times[0][1]) / (times[-1][0] - times[0][0])
            eta = max(0.0, (total - step) * seconds_per_step)
    return {"epoch": epoch, "step": step, "images_per_s": rate, "fraction": fraction, "eta_s": eta}


# Below this KL (nats per image) the posterior barely differs from the prior: every image
# encodes to about the same z, and every decode is the same blur.
COLLAPSE_KL = 1.0


def collapse_warning(records: Sequence[Mapping[str, Any]]) -> str | None:
    """A warning when the last finished epoch's validation KL is below `COLLAPSE_KL` nats."""
    kl = next((r["val_kl"] for r in reversed(records)
               if r.get("kind") == "epoch" and _finite(r.get("val_kl"))), None)
    if kl is None or kl >= COLLAPSE_KL:
        return None
    return (f"Posterior collapse: the validation KL is {kl:.2f} nats, so the latent carries "
            "almost nothing (every image lands on one spot, every decode is the same blur). "
            "Train longer, or use more data.")
