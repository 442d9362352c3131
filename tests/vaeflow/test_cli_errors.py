"""The CLI's error contract: every bad input is one ``error:`` line naming it, exit status 2,
no traceback, and nothing written."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from vaeflow.cli import main
from vaeflow.datasets import FlowDataset, save_dataset
from vaeflow.flows.spec import FlowSpec


def _one_error_line(capsys, *named: str) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("flags, named", [
    (["--grid-size", "20000"], ["--grid-size", "512"]),
    (["--base-scale", "1e308"], ["--base-scale"]),
    (["--shift", "1e300", "0"], ["--shift"]),
    (["--n", "50000000"], ["--n", "GB in memory", "VAEFLOW_MAX_DATASET_BYTES"]),
    (["--n", "5e6"], ["--n", "19.5 GB"]),
    (["--seed", str(2**64)], ["--seed"]),
    (["--n", "many"], ["--n", "many"]),  # argparse's own errors are one line too
])
def test_generate_refuses_absurd_flags_in_one_line(flags, named, tmp_path, capsys):
    out = tmp_path / "x.npz"
    try:
        code = main(["generate", "--out", str(out), "--no-progress", *flags])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    _one_error_line(capsys, *named)
    assert not out.exists()


def test_generate_does_not_replace_a_file_unless_asked(tmp_path, capsys):
    out = tmp_path / "x.npz"
    out.write_bytes(b"precious")
    assert main(["generate", "--out", str(out), "--n", "2", "--no-progress"]) == 2
    _one_error_line(capsys, str(out), "--overwrite")
    assert out.read_bytes() == b"precious"
    assert main(["generate", "--out", str(out), "--n", "2", "--no-progress", "--overwrite"]) == 0


def test_generate_says_disk_full_and_where(tmp_path, capsys, monkeypatch):
    import errno

    import vaeflow.datasets

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vaeflow.datasets, "save_dataset", full)
    out = tmp_path / "x.npz"
    assert main(["generate", "--out", str(out), "--n", "2", "--no-progress"]) == 2
    _one_error_line(capsys, f"disk full ({out})")
    assert not out.exists()


@pytest.mark.parametrize("text, kind", [("[1, 2]", "a list"), ("null", "null"), ('{"train": 3}', "'train'"),
                                        ("{", "not valid JSON"), ("[" * 100_000 + "]" * 100_000, "")])
def test_train_names_a_config_that_is_not_an_object(text, kind, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(text)
    code = main(["train", "--stream", "--config", str(config), "--run-dir", str(tmp_path / "r")])
    assert code == 2
    _one_error_line(capsys, "--config", str(config), kind)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(text)
    assert main(["train", "--resume", "--run-dir", str(run)]) == 2
    _one_error_line(capsys, "config.json")


def test_train_refuses_a_stream_too_big_for_memory_before_creating_the_run(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--stream", "--stream-epoch-size", "1e9", "--run-dir", str(run)]) == 2
    _one_error_line(capsys, "stream_epoch_size = 1,000,000,000", "GB in memory")
    assert not run.exists()
    assert main(["train", "--stream", "--seed", str(2**64), "--run-dir", str(run)]) == 2
    _one_error_line(capsys, "TrainConfig.seed")


def test_evaluate_and_train_name_a_hostile_dataset(tmp_path, capsys):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in (("images", np.zeros((3000, 36, 36, 3), np.uint8)),
                            ("factors", np.zeros((3000, 2), np.float32)), ("meta", np.array("{}"))):
            with archive.open(name + ".npy", "w") as member:
                np.save(member, array)
    assert main(["evaluate", "--data", str(bomb), "--iwae-k", "0"]) == 2
    _one_error_line(capsys, str(bomb), "zip bomb")
    assert main(["train", "--data", str(bomb), "--run-dir", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, str(bomb), "zip bomb")
    assert not (tmp_path / "r").exists()


def test_evaluate_names_a_run_whose_config_is_null(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("null")
    data = tmp_path / "d.npz"
    save_dataset(FlowDataset(np.zeros((4, 36, 36, 3), np.uint8), np.zeros((4, 2), np.float32), FlowSpec(), 0), data)
    assert main(["evaluate", "--model", str(run), "--data", str(data), "--iwae-k", "0"]) == 2
    _one_error_line(capsys, "config.json")
