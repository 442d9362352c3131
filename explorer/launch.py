"""`vaeflow app`: start the explorer's Streamlit server, the way `tensorboard` starts its own.

The server gets the project's Streamlit settings as command-line flags, so they hold from any
working directory (Streamlit itself reads `.streamlit/config.toml` only from the working
directory, which for an installed package is the user's, not the project's). It listens on
127.0.0.1 unless `host` says otherwise: the app has no authentication.
"""

from __future__ import annotations

import os
from pathlib import Path

from explorer import workspace

APP = Path(__file__).resolve().with_name("app.py")
LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8501

# The settings of .streamlit/config.toml (tests/test_launch.py keeps the two equal), minus
# server.address, which `host` sets.
OPTIONS: dict[str, str | bool] = {
    "server.headless": True,
    "server.runOnSave": False,
    "server.fileWatcherType": "none",
    "runner.postScriptGC": False,
    "browser.gatherUsageStats": False,
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
    "theme.base": "dark",
    "theme.primaryColor": "#ff8c1a",
    "theme.backgroundColor": "#0d0a09",
    "theme.secondaryBackgroundColor": "#1c1411",
    "theme.textColor": "#f3ebe5",
}


def streamlit_args(host: str = LOCAL_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """The `streamlit run` arguments that start the explorer on `host`:`port`."""
    args = ["run", str(APP), "--server.address", host, "--server.port", str(port)]
    for name, value in OPTIONS.items():
        args += [f"--{name}", str(value).lower() if isinstance(value, bool) else value]
    return args


def workspace_env(data_dir: str | None, runs_dir: str | None) -> dict[str, str]:
    """Environment entries that point the app (and the training processes it starts) at
    `data_dir` and `runs_dir`, given as absolute paths; unset ones keep the workspace default."""
    env = {}
    for variable, folder in ((workspace.DATA_VAR, data_dir), (workspace.RUNS_VAR, runs_dir)):
        if folder is not None:
            env[variable] = str(Path(folder).expanduser().absolute())
    return env


def run(host: str = LOCAL_HOST, port: int = DEFAULT_PORT, data_dir: str | None = None,
        runs_dir: str | None = None) -> int:
    """Serve the explorer in this process until interrupted; returns Streamlit's exit status.

    Raises:
        ValueError: if `port` is outside 1-65535 or `host` is empty.
        ModuleNotFoundError: if Streamlit is not installed (the `app` extra).
    """
    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be in 1-65535, got {port}")
    if not host.strip():
        raise ValueError("--host must not be empty")
    from streamlit.web import cli as streamlit_cli

    os.environ.update(workspace_env(data_dir, runs_dir))
    print(f"vaeflow app: datasets in {workspace.folder(workspace.DATA_VAR, 'data')}, "
          f"runs in {workspace.folder(workspace.RUNS_VAR, 'runs')}", flush=True)
    if host != LOCAL_HOST:
        print(f"vaeflow app: listening on {host}, with no authentication: anyone who can reach "
              f"port {port} can train, write datasets and upload files", flush=True)
    try:
        streamlit_cli.main(args=streamlit_args(host, port), prog_name="streamlit")
    except SystemExit as done:  # click ends every command with sys.exit
        return int(done.code or 0)
    return 0
