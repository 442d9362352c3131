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


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_every_checkpoint_follows_an_fsync_of_the_records_it_counts(tmp_path, synced):
    # A checkpoint at step s says every record up to s is written; a resume never writes them
    # again, so after a power loss they must be on disk whenever the checkpoint is.
    from training_util import TINY, small_config, small_dataset
    from vaeflow.training.loop import train
    from vaeflow.training.runs import RunDir

    data = small_dataset(tmp_path / "data.npz", n=160)
    run = RunDir(tmp_path / "runs", "r")
    train(small_config(data, epochs=2, checkpoint_every_s=1e9), TINY, run)
    checkpoint_pointer = run.checkpoints_dir / "checkpoint"
    pointers = [i for i, p in enumerate(synced) if p == checkpoint_pointer]
    records = [i for i, p in enumerate(synced) if p == run.metrics_path]
    assert len(pointers) >= 3  # each epoch's end and the end
    for before, pointer in zip([-1, *pointers], pointers):
        assert any(before < i < pointer for i in records), "a checkpoint without its records synced"
