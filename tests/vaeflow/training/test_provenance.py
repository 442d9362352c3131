"""A run records what it trained on; `run_data_source` reads it back and never falls back silently."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training_util import TINY
from vaeflow.datasets import FlowDataset, save_dataset
from vaeflow.flows.spec import FlowSpec
from vaeflow.models import PRETRAINED_DIR
from vaeflow.training import TrainConfig
from vaeflow.training.loop import train
from vaeflow.training.provenance import data_source_record, file_sha256, run_data_source, stream_spec
from vaeflow.training.runs import RunDir


def _dataset(path, spec=FlowSpec(), seed=5, n=4):
    ds = FlowDataset(np.zeros((n, spec.image_size, spec.image_size, 3), np.uint8),
                     np.zeros((n, 2), np.float32), spec, seed)
    save_dataset(ds, path, overwrite=True)
    return path


def _run(tmp_path, config: TrainConfig, record: bool = True, name="r"):
    run = RunDir(tmp_path / "runs", name).create()
    values = {"train": config.to_dict(), "model": TINY.to_dict()}
    if record:
        values["data_source"] = data_source_record(config, TINY.image_size)
    run.write_config(values)
    return run


@pytest.mark.slow
def test_the_trainer_records_the_dataset_and_evaluate_uses_its_spec(tmp_path, monkeypatch, capsys):
    import vaeflow.datasets
    from vaeflow.cli import main

    spec = FlowSpec(cmap="viridis")
    data = tmp_path / "flow.npz"
    save_dataset(vaeflow.datasets.generate_dataset(64, 11, spec), data)
    config = TrainConfig(data=str(data), epochs=1, batch_size=32, checkpoint_every_s=1e6)
    train(config, TINY, tmp_path / "runs" / "one")
    record = json.loads((tmp_path / "runs" / "one" / "config.json").read_text())["data_source"]
    assert record["kind"] == "dataset" and record["path"] == str(data.resolve())
    assert record["sha256"] == file_sha256(data) and record["n_images"] == 64 and record["seed"] == 11
    assert FlowSpec.from_dict(record["spec"]) == spec
    assert run_data_source(tmp_path / "runs" / "one").warnings == ()

    rendered = []
    real = vaeflow.datasets.generate_dataset
    monkeypatch.setattr(vaeflow.datasets, "generate_dataset",
                        lambda n, seed, spec=None, **kw: rendered.append(spec) or real(n, seed, spec, **kw))
    data.unlink()  # evaluate needs only the run's record
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "runs" / "one"), "--n", "24", "--iwae-k", "0"]) == 0
    out = capsys.readouterr()
    assert rendered == [spec] and json.loads(out.out)["n_images"] == 24
    assert "warning:" in out.err and str(data) in out.err and "missing" in out.err


def test_a_stream_run_records_the_spec_it_renders():
    record = data_source_record(TrainConfig(stream=True, seed=3), image_size=24)
    assert record == {"kind": "stream", "seed": 3, "spec": FlowSpec(image_size=24).to_dict()}
    assert stream_spec(24) == FlowSpec(image_size=24)


def test_an_unchanged_dataset_gives_its_spec_without_warnings(tmp_path):
    spec = FlowSpec(cmap="viridis", a_mean=2.0)
    data = _dataset(tmp_path / "d.npz", spec)
    source = run_data_source(_run(tmp_path, TrainConfig(data=str(data))).path)
    assert (source.spec, source.kind, source.warnings) == (spec, "dataset", ())


def test_a_replaced_dataset_keeps_the_recorded_spec_and_warns_naming_the_file(tmp_path):
    spec = FlowSpec(cmap="viridis")
    data = _dataset(tmp_path / "d.npz", spec)
    run = _run(tmp_path, TrainConfig(data=str(data)))
    _dataset(data, FlowSpec(cmap="gray"), seed=6)  # another dataset under the same name
    source = run_data_source(run.path)
    assert source.spec == spec
    (warning,) = source.warnings
    assert str(data) in warning and "replaced" in warning


def test_a_deleted_dataset_keeps_the_recorded_spec_and_warns_naming_the_file(tmp_path):
    spec = FlowSpec(extent=2.0)
    data = _dataset(tmp_path / "d.npz", spec)
    run = _run(tmp_path, TrainConfig(data=str(data)))
    data.unlink()
    source = run_data_source(run.path / "model")  # the model directory finds its run too
    assert source.spec == spec
    (warning,) = source.warnings
    assert str(data) in warning and "missing" in warning


def test_a_run_without_a_record_warns_and_reads_the_dataset_or_says_it_cannot(tmp_path):
    spec = FlowSpec(levels=50)
    data = _dataset(tmp_path / "d.npz", spec)
    run = _run(tmp_path, TrainConfig(data=str(data)), record=False)
    source = run_data_source(run.path)
    assert source.spec == spec and "records no data_source" in source.warnings[0]
    data.unlink()
    source = run_data_source(run.path)
    assert source.spec == FlowSpec() and str(data) in source.warnings[0]


def test_pretrained_broken_and_foreign_directories(tmp_path):
    assert run_data_source(PRETRAINED_DIR) == run_data_source(PRETRAINED_DIR)
    assert run_data_source(PRETRAINED_DIR).warnings == () and run_data_source(PRETRAINED_DIR).spec == FlowSpec()
    broken = RunDir(tmp_path, "broken").create()
    broken.config_path.write_text("[1, 2]")
    source = run_data_source(broken.path)
    assert source.spec == FlowSpec() and "config.json" in source.warnings[0]
    assert "records no training data" in run_data_source(tmp_path / "nothing-here").warnings[0]
