"""vaeflow.io: atomic writes leave either the old file or the new one, never a temporary."""

import json
import os

import pytest

from vaeflow.io import atomic_directory, atomic_path, check_format, check_name, write_json_atomic


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


def test_a_directory_swap_gives_the_new_contents_or_keeps_the_old(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("one")
    assert (target / "weights").read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "weights").write_text("tw")
            raise RuntimeError("crash mid-write")
    assert os.listdir(target) == ["weights"] and (target / "weights").read_text() == "one"
    (tmp_path / ".model.old").mkdir()  # left by a crash between the two renames
    with atomic_directory(target) as staging:
        (staging / "config").write_text("two")
    assert os.listdir(target) == ["config"]  # replaced, not merged
    assert os.listdir(tmp_path) == ["model"]  # no staging, no .old


@pytest.mark.parametrize("name", ["a", "run-1.b_2", "9" * 64])
def test_safe_names_pass(name):
    assert check_name(name, "run name") == name


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "a..b", "x" * 65, "caf\u00e9", None, "a\n"])
def test_unsafe_names_are_value_errors_naming_what_they_name(name):
    with pytest.raises(ValueError, match="dataset name"):
        check_name(name, "dataset name")


@pytest.mark.parametrize("header, problem", [
    ({"format": "other", "version": 1}, "format must be 'vaeflow.x', got 'other'"),
    ({"version": 1}, "format must be 'vaeflow.x', got None"),
    (["not", "a", "dict"], "format must be"),
    ({"format": "vaeflow.x", "version": 2}, "version 2 is not supported"),
])
def test_a_foreign_or_future_header_is_refused_naming_its_source(header, problem):
    class FileError(ValueError):
        pass

    with pytest.raises(FileError, match=f"^f.npz meta: {problem}"):
        check_format(header, "vaeflow.x", 1, "f.npz meta", FileError)
    assert check_format({"format": "vaeflow.x", "version": 1, "k": 0}, "vaeflow.x", 1, "f") == {
        "format": "vaeflow.x", "version": 1, "k": 0}
