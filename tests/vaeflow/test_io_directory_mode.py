"""atomic_directory's result has the mode a plain mkdir would give it, like atomic_path's files
(mkdtemp's private 0o700 would hide a run's model from the other users of a shared machine)."""

from __future__ import annotations

import os

from vaeflow.io import atomic_directory


def test_a_swapped_in_directory_has_the_mode_mkdir_gives(tmp_path):
    umask = os.umask(0o022)
    try:
        plain = tmp_path / "plain"
        plain.mkdir()
        with atomic_directory(tmp_path / "swapped") as staging:
            (staging / "file").write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "swapped").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o755
