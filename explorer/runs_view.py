"""What the Train page shows about runs, read from disk: the runs folder, table rows, ETA inputs.

The run directories are the only state (so a reload or a second tab finds the same runs);
`JobRunner` reads them, these functions turn what it returns into rows and numbers.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from explorer import workspace
from explorer.training_plots import best_val_elbo

STATE_BADGES = {"running": ":orange-badge[running]", "done": ":green-badge[done]",
                "stopped": ":gray-badge[stopped]", "failed": ":red-badge[failed]",
                "broken": ":red-badge[broken]",
                None: ":gray-badge[starting]"}
# TensorFlow's C++ start-up chatter, which log.txt collects from the training process.
_NOISE = ("I0000 ", "W0000 ", "E0000 ", "WARNING: All log messages before absl")


def runs_dir() -> Path:
    """The runs folder: `$VAEFLOW_RUNS_DIR`, else `runs/` in the workspace
    (`$VAEFLOW_HOME`, else the working directory); see `explorer.workspace`."""
    return workspace.folder(workspace.RUNS_VAR, "runs")


def new_run_name(now: float | None = None) -> str:
    """A fresh, safe, sortable run name such as ``run-20261126-071502``."""
    stamp = datetime.datetime.fromtimestamp(now if now is not None else time.time())
    return stamp.strftime("run-%Y%m%d-%H%M%S")


def duration_text(seconds: float | None, compact: bool = False) -> str:
    """``"1 h 02 min"``, ``"3 min 05 s"`` or ``"12 s"`` (compact: ``"1h02m"``, ``"3m05s"``,
    ``"12s"``); ``"–"`` when unknown.
    """
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    h, m, s = ("h", "m", "s") if compact else (" h ", " min ", " s")
    if hours:
        return f"{hours}{h}{minutes:02d}{m}".rstrip()
    if minutes:
        return f"{minutes}{m}{secs:02d}{s}".rstrip()
    return f"{secs}{s}".strip()


MISSING = "—"


def _rounded(value: Any, digits: int = 1) -> float | None:
    # numeric columns stay numeric (None, shown blank) so they sort and Arrow can type them
    return round(value, digits) if isinstance(value, (int, float)) else None


def table_row(summary: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One row of the runs table from a `vaeflow.training.RunSummary` and its metrics.

    Readable headers and few, narrow columns (the table fits 1100 px without a sideways
    scroll): the run, its state, completed / planned epochs, the best validation ELBO and the
    last validation KL and reconstruction (nats per image), how long it trained (compact), and
    its setup: data · model · recipe, one text the table wraps. Text columns say "—" where
    nothing exists yet, number columns hold None.
    """
    elbo = best_val_elbo(records)
    last = next((r for r in reversed(records) if r.get("kind") == "epoch"), {})
    hp = summary.hyperparameters
    dataset = summary.dataset
    planned = hp.get("epochs")
    done = summary.epoch if summary.epoch is not None else (0 if summary.state else None)
    lr = hp.get("learning_rate")
    setup = (
        Path(dataset).stem if dataset and dataset != "stream" else dataset,
        " ".join(str(v) for v in (hp.get("preset"), hp.get("latent_dim") and f"z={hp['latent_dim']}") if v),
        f"β {hp['beta']:g}" if isinstance(hp.get("beta"), (int, float)) else "",
        f"lr {lr:.0e}".replace("e-0", "e-") if isinstance(lr, (int, float)) else "",
        f"batch {hp['batch_size']}" if hp.get("batch_size") else "",
        f"seed {hp['seed']}" if hp.get("seed") is not None else "",
    )
    return {
        "run": summary.name,
        "status": summary.state or "starting",
        "epochs": MISSING if done is None else f"{done} / {planned}" if planned else str(done),
        "best val ELBO": _rounded(elbo, 2),
        "val KL": _rounded(last.get("val_kl"), 2),
        "val recon.": _rounded(last.get("val_reconstruction"), 2),
        "time": duration_text(summary.duration_s, compact=True) if summary.duration_s is not None else MISSING,
        "setup": " · ".join(part for part in setup if part) or MISSING,
    }


def steps_per_epoch_estimate(train_config: Mapping[str, Any], n_images: int | None) -> int | None:
    """Optimizer steps in one epoch, from a run's saved train config and its dataset size.

    The trainer's own figure (from the first finished epoch) replaces this once it exists.
    """
    batch = train_config.get("batch_size") or 0
    if batch < 1:
        return None
    if train_config.get("stream"):
        return max(1, int(train_config.get("stream_epoch_size", 0)) // batch)
    if not n_images or n_images < 2:
        return None
    from vaeflow.datasets import split_sizes  # the trainer's own rule (imports TensorFlow)

    try:
        n_train, _ = split_sizes(n_images, train_config.get("val_fraction", 0.1))
    except ValueError:  # a damaged config: no estimate rather than a broken page
        return None
    return max(1, n_train // batch)


def log_tail(text: str, lines: int = 15) -> str:
    """The last `lines` lines of a run log without TensorFlow's start-up chatter."""
    kept = [line for line in text.splitlines() if line.strip() and not line.startswith(_NOISE)]
    return "\n".join(kept[-lines:])


def error_headline(error: str | None) -> str:
    """The first line of a run's error (the runner appends the log tail after it)."""
    if not error:
        return "no error message"
    first = error.strip().splitlines()[0]
    return first.removesuffix("; last lines of log.txt:")


# Training images/s of each preset on this project's 2-core CPU (BENCHMARKS.md, measured with
# benchmarks/bench_train_throughput.py), used until a run of that preset has been timed here.
CPU_IMAGES_PER_S = {"default": 6318.0, "study": 44.3}


def measured_rate(preset: str, runs: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]]) -> float | None:
    """Training images/s of the newest run of `preset` that finished an epoch (median of its
    epochs), from (RunSummary, records) pairs; None when there is none."""
    for summary, records in runs:
        if summary.hyperparameters.get("preset") != preset:
            continue
        rates = sorted(r["images_per_s"] for r in records if r.get("kind") == "epoch"
                       and isinstance(r.get("images_per_s"), (int, float)) and r["images_per_s"] > 0)
        if rates:
            return float(rates[len(rates) // 2])
    return None


def duration_estimate(epochs: int, images_per_epoch: int, images_per_s: float | None) -> float | None:
    """Seconds to train `epochs` epochs of `images_per_epoch` images at `images_per_s`
    (validation and start-up not counted); None without a rate."""
    if not images_per_s or images_per_s <= 0:
        return None
    return epochs * images_per_epoch / images_per_s
