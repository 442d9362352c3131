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
