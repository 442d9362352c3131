"""A checkpoint whose position is not a JSON object with an integer step is no candidate: a
damaged state.json must not escape as KeyError/TypeError (a CLI traceback) from resume."""

from __future__ import annotations

import pytest

from vaeflow.training.checkpoints import has_checkpoint_files, latest_checkpoint


@pytest.mark.parametrize("state", ["{}", "[]", '{"step": "7"}', '{"step": null}', "[" * 100_000],
                         ids=["no-step", "list", "string-step", "null-step", "deep-nesting"])
def test_a_position_without_an_integer_step_is_skipped(tmp_path, state):
    step_dir = tmp_path / "step-7"
    step_dir.mkdir()
    (step_dir / "ckpt.index").write_bytes(b"")
    (step_dir / "state.json").write_text(state)
    assert latest_checkpoint(tmp_path) is None
    assert has_checkpoint_files(tmp_path)  # so a resume refuses to drop the history


def test_a_checkpoint_is_fsynced_before_the_older_one_is_deleted(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    import tensorflow as tf

    from vaeflow.training.checkpoints import StepCheckpoints

    weights = tf.Variable([1.0, 2.0])
    checkpoints = StepCheckpoints(tmp_path, tf.train.Checkpoint(w=weights))
    checkpoints.save(1, {"epoch": 0})
    synced, older_on_disk = [], []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        older_on_disk.append(any(tmp_path.glob("ckpt-1.*")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    checkpoints.save(2, {"epoch": 0})
    assert {"ckpt-2.index", "checkpoint", tmp_path.name} <= set(synced)
    assert any(name.startswith("ckpt-2.data-") for name in synced)
    assert all(older_on_disk), "the older checkpoint went before the new one was on disk"
    assert not any(tmp_path.glob("ckpt-1.*"))
