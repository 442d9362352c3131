"""The app's data/ and runs/ live in the user's workspace, never in the source tree."""

from __future__ import annotations

import pytest

from explorer import data_store, runs_view, workspace


@pytest.fixture
def clean_env(monkeypatch):
    for variable in (workspace.HOME_VAR, workspace.DATA_VAR, workspace.RUNS_VAR):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_default_folders_are_in_the_working_directory(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    assert data_store.data_dir() == tmp_path / "data"
    assert runs_view.runs_dir() == tmp_path / "runs"


def test_vaeflow_home_moves_both_folders(clean_env, tmp_path):
    clean_env.setenv(workspace.HOME_VAR, str(tmp_path / "home"))
    assert data_store.data_dir() == tmp_path / "home" / "data"
    assert runs_view.runs_dir() == tmp_path / "home" / "runs"


def test_each_folder_variable_wins_over_home(clean_env, tmp_path):
    clean_env.setenv(workspace.HOME_VAR, str(tmp_path / "home"))
    clean_env.setenv(workspace.DATA_VAR, str(tmp_path / "d"))
    clean_env.setenv(workspace.RUNS_VAR, str(tmp_path / "r"))
    assert data_store.data_dir() == tmp_path / "d"
    assert runs_view.runs_dir() == tmp_path / "r"
