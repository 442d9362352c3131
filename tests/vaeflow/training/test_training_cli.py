"""The `train` / `evaluate` subcommands: flags become validated configs; bad input exits cleanly."""

import json

import pytest

from training_util import TINY
from vaeflow.cli import build_parser
from vaeflow.training.cli_commands import configs_from_args
from vaeflow.training.runs import RunDir


def _parse(*argv):
    return build_parser().parse_args(["train", *argv])


def test_flags_override_the_preset_and_only_typed_flags_count():
    train, model = configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x",
                                            "--preset", "study", "--epochs", "3", "--lr", "0.01",
                                            "--latent-dim", "3"))
    assert (train.beta, train.batch_size, train.patience) == (2.0, 32, 3)  # the study's recipe
    assert (train.epochs, train.learning_rate, train.data) == (3, 0.01, "d.npz")
    assert (model.preset, model.latent_dim) == ("study", 3)
    train, model = configs_from_args(_parse("--stream", "--run-dir", "runs/x"))
    assert train.stream and train.data is None and model.preset == "default"
    train, _ = configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x", "--seed", "2",
                                        "--split-seed", "8"))
    assert (train.seed, train.split_seed, train.validation_split_seed) == (2, 8, 8)
    train, _ = configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x", "--seed", "2"))
    assert train.split_seed is None and train.validation_split_seed == 2


def test_bad_flags_raise_value_errors_naming_the_field():
    with pytest.raises(ValueError, match="TrainConfig.beta"):
        configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x", "--beta", "-1"))
    with pytest.raises(ValueError, match="TrainConfig.split_seed"):
        configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x", "--split-seed", "-3"))
    with pytest.raises(ValueError, match="ModelConfig.latent_dim"):
        configs_from_args(_parse("--data", "d.npz", "--run-dir", "runs/x", "--latent-dim", "0"))
    with pytest.raises(SystemExit):  # argparse: --data and --stream exclude each other
        _parse("--data", "d.npz", "--stream", "--run-dir", "runs/x")


def test_resume_starts_from_the_saved_configs(tmp_path):
    run = RunDir(tmp_path, "saved").create()
    run.write_config({"train": {"data": "d.npz", "epochs": 4, "beta": 3.0}, "model": TINY.to_dict()})
    train, model = configs_from_args(_parse("--run-dir", str(run.path), "--resume", "--epochs", "9"))
    assert (train.beta, train.epochs, train.data) == (3.0, 9, "d.npz")
    assert model == TINY
    with pytest.raises(ValueError, match="no config.json"):
        configs_from_args(_parse("--run-dir", str(tmp_path / "none"), "--resume"))


def test_train_without_data_or_with_a_missing_file_exits_with_an_error(tmp_path, capsys):
    args = _parse("--run-dir", str(tmp_path / "r"))
    assert args.run(args) == 2
    assert "--data" in capsys.readouterr().err
    args = _parse("--data", str(tmp_path / "missing.npz"), "--run-dir", str(tmp_path / "r"),
                  "--no-progress")
    assert args.run(args) == 2  # refused from the file's header, before the run exists
    assert "missing.npz" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_evaluate_refuses_a_missing_model(tmp_path, capsys):
    args = build_parser().parse_args(["evaluate", "--model", str(tmp_path / "nope"),
                                      "--data", str(tmp_path / "d.npz")])
    assert args.run(args) == 2
    assert "no model" in capsys.readouterr().err


@pytest.mark.slow
def test_train_then_evaluate_from_the_command_line(tmp_path, capsys):
    from training_util import small_dataset

    data = small_dataset(tmp_path / "flow.npz", n=160)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"train": {"batch_size": 32}, "model": TINY.to_dict()}))
    args = _parse("--data", str(data), "--run-dir", str(tmp_path / "runs" / "cli"),
                  "--config", str(config_file), "--epochs", "2", "--seed", "4")
    assert args.run(args) == 0
    out, err = capsys.readouterr()
    assert "training on CPU" in err or "training on GPU" in err
    assert "step/s" in err  # the tqdm progress bar
    assert json.loads(out.strip().splitlines()[-1])["state"] == "done"
    saved = RunDir(tmp_path / "runs", "cli").read_config()
    assert saved["train"]["seed"] == 4 and saved["model"] == TINY.to_dict()

    args = build_parser().parse_args(["evaluate", "--model", str(tmp_path / "runs" / "cli"),
                                      "--data", str(data), "--iwae-k", "2",
                                      "--output", str(tmp_path / "metrics.json")])
    assert args.run(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "metrics.json").read_text())
    assert printed["neg_elbo"] > 0 and printed["iwae_k"] == 2


def test_export_copies_a_model_with_float16_weights(tmp_path, capsys):
    from vaeflow.cli import main
    from vaeflow.models import VAE, ModelConfig, load_model, save_model

    source = save_model(VAE(ModelConfig()), tmp_path / "run" / "model")
    assert main(["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "out"),
                 "--weights-dtype", "float16"]) == 0
    assert "float16 weights" in capsys.readouterr().out
    exported = load_model(tmp_path / "out")
    assert exported.config == load_model(source).config
    assert main(["export", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 2
    assert "no model at" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
