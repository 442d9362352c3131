"""Where the app keeps a user's files: `data/` (datasets) and `runs/` (training runs).

Both live in the user's workspace, never in the installed or checked-out source tree:
`$VAEFLOW_HOME` if set, else the working directory the app was started from (the repository
root for `streamlit run explorer/app.py`, the same folders the README's CLI commands write to).
`$VAEFLOW_DATA_DIR` and `$VAEFLOW_RUNS_DIR` override each folder alone (`vaeflow app
--data-dir/--runs-dir` set them).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VAR = "VAEFLOW_HOME"
DATA_VAR = "VAEFLOW_DATA_DIR"
RUNS_VAR = "VAEFLOW_RUNS_DIR"


def home() -> Path:
    """`$VAEFLOW_HOME`, else the current working directory (absolute)."""
    return Path(os.environ.get(HOME_VAR) or os.getcwd()).absolute()


def folder(variable: str, name: str) -> Path:
    """`$<variable>` if set, else `home() / name`."""
    override = os.environ.get(variable)
    return Path(override) if override else home() / name
