"""vaeflow.io: atomic writes leave either the old file or the new one, never a temporary."""

import json
import os

import pytest

from vaeflow.io import atomic_path, write_json_atomic


def test_json_round_trip_leaves_only_the_file(tmp_path):
    path = tmp_path / "sub" / "status.json"
    write_json_atomic(path, {"state": "done", "step": 3})
    assert json.loads(path.read_text()) == {"state": "done", "step": 3}
    assert os.listdir(path.parent) == ["status.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["config.json"]


def test_new_files_get_the_umask_mode_and_old_files_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.json"
        write_json_atomic(new, {})
        assert new.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600
        os.chmod(new, 0o640)
        write_json_atomic(new, {"again": True})
        assert new.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)
