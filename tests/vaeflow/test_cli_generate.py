"""`python -m vaeflow generate`: writes a loadable dataset, spec flags reach the file, bad flags exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vaeflow.cli import main
from vaeflow.datasets import load_dataset
from vaeflow.flows.spec import FlowSpec


def test_generate_writes_the_dataset_with_the_flagged_spec(tmp_path, capsys):
    out = tmp_path / "flow.npz"
    code = main(
        ["generate", "--n", "12", "--seed", "3", "--out", str(out), "--chunk-size", "5", "--no-progress",
         "--a-mean", "2.5", "--shift", "0", "-1.5", "--tanh", "false", "--extent", "3", "--cmap", "gray",
         "--image-size", "24"]
    )
    assert code == 0
    ds = load_dataset(out)
    assert len(ds) == 12 and ds.seed == 3 and ds.images.shape == (12, 24, 24, 3)
    assert ds.spec == FlowSpec(a_mean=2.5, shift=(0.0, -1.5), tanh=False, extent=3.0, cmap="gray", image_size=24)
    printed = capsys.readouterr().out
    assert "12 images" in printed and "images/s" in printed


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--base-scale", "0"], "--base-scale"),
        (["--image-size", "4"], "--image-size"),
        (["--grid-size", "1"], "--grid-size"),
        (["--a-std", "nan"], "--a-std"),
        (["--n", "0"], "--n"),
        (["--seed", "-2"], "--seed"),
        (["--cmap", "jet"], "--cmap"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(flags, named, tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert main(["generate", "--out", str(out), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and named in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()


def test_malformed_flags_are_argparse_errors(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--out", str(tmp_path / "x.npz"), "--n", "many"])
    assert info.value.code == 2


@pytest.mark.slow
def test_module_entry_point_runs_end_to_end(tmp_path):
    out = tmp_path / "flow.npz"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "vaeflow", "generate", "--n", "40", "--seed", "0", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "images/s" in done.stdout and "rendering" in done.stderr  # the tqdm bar
    assert len(load_dataset(out)) == 40
