"""`vaeflow app` (explorer/launch.py): the project's Streamlit settings from any folder, local by default."""

from __future__ import annotations

import tomllib
from pathlib import Path

from explorer import launch, workspace
from vaeflow import cli

REPO = Path(__file__).resolve().parents[2]


def _flatten(table: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _as_options(args: list[str]) -> dict[str, str]:
    pairs = args[2:]  # after "run", <app.py>
    return {pairs[i].removeprefix("--"): pairs[i + 1] for i in range(0, len(pairs), 2)}


def test_launcher_passes_every_setting_of_the_projects_streamlit_config():
    # Streamlit reads .streamlit/config.toml only from the working directory; the launcher must
    # carry the same settings as flags, or `vaeflow app` run elsewhere would drift from them.
    config = _flatten(tomllib.loads((REPO / ".streamlit" / "config.toml").read_text()))
    expected = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in config.items()}
    expected["server.port"] = "8501"
    assert _as_options(launch.streamlit_args()) == expected


def test_no_forced_full_garbage_collection_after_every_script_run():
    # A click on Explore is two script runs; Streamlit's post-run gc.collect(2) cost a third of
    # the script thread's CPU per click, serialised on the GIL across sessions.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert _as_options(launch.streamlit_args())["runner.postScriptGC"] == "false"


def test_launcher_binds_loopback_unless_told():
    assert _as_options(launch.streamlit_args())["server.address"] == "127.0.0.1"
    assert _as_options(launch.streamlit_args("0.0.0.0", 9000))["server.address"] == "0.0.0.0"
    assert _as_options(launch.streamlit_args("0.0.0.0", 9000))["server.port"] == "9000"
    assert cli.build_parser().parse_args(["app"]).host == "127.0.0.1"


def test_launcher_runs_the_installed_explorer_app():
    args = launch.streamlit_args()
    assert args[0] == "run" and Path(args[1]) == REPO / "explorer" / "app.py"


def test_data_and_runs_flags_become_absolute_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = launch.workspace_env("mydata", "~/myruns")
    assert env == {workspace.DATA_VAR: str(tmp_path / "mydata"),
                   workspace.RUNS_VAR: str(Path.home() / "myruns")}
    assert launch.workspace_env(None, None) == {}


def test_bad_port_is_one_error_line(capsys):
    assert cli.main(["app", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --port must be in 1-65535, got 70000"


def test_without_the_app_extra_the_error_says_what_to_install(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "streamlit.web", None)  # as if Streamlit were not installed
    assert cli.main(["app", "--port", "8600"]) == 2
    assert "pip install 'vaeflow[app]'" in capsys.readouterr().err
