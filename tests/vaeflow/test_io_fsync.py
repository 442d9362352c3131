"""Atomic writes survive a power loss, not only a kill: the data is fsync'ed before the rename
that publishes it, and the directory after it (checked by recording every ``os.fsync``)."""

import os
from pathlib import Path

import pytest

from vaeflow.io import atomic_directory, write_json_atomic


@pytest.fixture
def synced(monkeypatch):
    """The paths `os.fsync` is called on, in order (as the descriptor's path was at the time)."""
    paths = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        paths.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return paths


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_an_atomic_file_is_fsynced_before_its_rename_then_its_directory(tmp_path, synced):
    path = tmp_path / "run" / "status.json"
    write_json_atomic(path, {"state": "running"})
    data, folder = synced
    assert data.parent == path.parent and data.name.startswith(".status.json.")  # the temporary
    assert folder == path.parent


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_an_atomic_directory_is_fsynced_whole_before_its_rename_then_its_parent(tmp_path, synced):
    path = tmp_path / "model"
    with atomic_directory(path) as staging:
        (staging / "weights.bin").write_bytes(b"w")
        (staging / "sub").mkdir()
        (staging / "sub" / "config.json").write_text("{}")
    names = [p.relative_to(staging) if p.is_relative_to(staging) else p for p in synced]
    assert set(names[:-1]) == {Path("weights.bin"), Path("sub/config.json"), Path("sub"), Path(".")}
    assert names.index(Path("sub/config.json")) < names.index(Path("sub")) < names.index(Path("."))
    assert names[-1] == tmp_path
    assert (path / "sub" / "config.json").read_text() == "{}"
