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


def table_row(summary: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One row of the runs table from a `vaeflow.training.RunSummary` and its metrics."""
    elbo = best_val_elbo(records)
    dataset = summary.dataset
    return {
        "run": summary.name,
        "status": summary.state or "starting",
        "best val ELBO": None if elbo is None else round(elbo, 2),
        "epoch": summary.epoch,
        "step": summary.step,
        "duration": duration_text(summary.duration_s),
        "dataset": Path(dataset).stem if dataset and dataset != "stream" else dataset,
        **summary.hyperparameters,
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
