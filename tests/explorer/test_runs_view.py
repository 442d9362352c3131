"""Rows, names, durations and log tails the Train page shows about runs."""

from types import SimpleNamespace

from explorer.runs_view import (duration_text, error_headline, log_tail, new_run_name,
                                steps_per_epoch_estimate, table_row)
from vaeflow.training.runs import validate_run_name


def test_new_run_names_are_valid_and_sortable():
    first, later = new_run_name(1_800_000_000), new_run_name(1_800_000_061)
    assert validate_run_name(first) == first and first < later


def test_durations_read_naturally():
    assert [duration_text(s) for s in (5, 65, 3725)] == ["5 s", "1 min 05 s", "1 h 02 min"]
    assert duration_text(65, compact=True) == "1m05s" and duration_text(None) == "–"


def test_table_row_has_best_elbo_kl_reconstruction_dataset_and_readable_hyperparameters():
    summary = SimpleNamespace(name="r", state="done", epoch=2, step=40, duration_s=65.0,
                              dataset="/x/data/flow.npz",
                              hyperparameters={"beta": 2.0, "epochs": 5, "preset": "default",
                                               "latent_dim": 2, "learning_rate": 2e-3})
    records = [{"kind": "epoch", "val_reconstruction": 350.0, "val_kl": 7.0},
               {"kind": "epoch", "val_reconstruction": 345.0, "val_kl": 8.0}]
    row = table_row(summary, records)
    assert row["best val ELBO"] == -353.0
    assert row["val KL"] == 8.0 and row["val recon."] == 345.0 and row["epochs"] == "2 / 5"
    assert row["time"] == "1m05s" and row["status"] == "done"
    assert row["setup"] == "flow · default z=2 · β 2 · lr 2e-3"
    assert "latent_dim" not in row and "learning_rate" not in row
    assert list(row) == ["run", "status", "epochs", "best val ELBO", "val KL", "val recon.", "time", "setup"]


def test_table_row_of_a_run_without_a_finished_epoch_shows_dashes_not_none():
    summary = SimpleNamespace(name="r", state=None, epoch=None, step=None, duration_s=None,
                              dataset=None, hyperparameters={})
    row = table_row(summary, [])
    assert row["epochs"] == row["time"] == row["setup"] == "—"
    assert row["best val ELBO"] is None and row["val KL"] is None
    assert "None" not in [v for v in row.values() if isinstance(v, str)]


def test_log_tail_drops_tensorflow_chatter_and_error_headline_drops_the_tail():
    text = "I0000 00:00 oneDNN\nWARNING: All log messages before absl\nepoch 1\nboom\n"
    assert log_tail(text) == "epoch 1\nboom"
    assert error_headline("died (exit 2); last lines of log.txt:\nx\ny") == "died (exit 2)"


def test_steps_per_epoch_follow_the_split_and_the_stream():
    assert steps_per_epoch_estimate({"batch_size": 10, "val_fraction": 0.1}, 100) == 9
    assert steps_per_epoch_estimate({"batch_size": 10, "stream": True,
                                     "stream_epoch_size": 95}, None) == 9
    assert steps_per_epoch_estimate({"batch_size": 10}, None) is None


def test_the_epoch_estimate_splits_the_dataset_as_the_trainer_does():
    from vaeflow.datasets import split_sizes

    # 3 images, 10 % for validation: the trainer holds out at least one, so trains on 2.
    assert split_sizes(3, 0.1) == (2, 1)
    assert steps_per_epoch_estimate({"batch_size": 1, "val_fraction": 0.1}, 3) == 2
    assert steps_per_epoch_estimate({"batch_size": 1, "val_fraction": 0.95}, 40) == 2


def test_duration_estimate_uses_the_newest_timed_run_of_the_preset():
    from explorer.runs_view import CPU_IMAGES_PER_S, duration_estimate, measured_rate

    study = SimpleNamespace(hyperparameters={"preset": "study"})
    default = SimpleNamespace(hyperparameters={"preset": "default"})
    epochs = [{"kind": "epoch", "images_per_s": v} for v in (40.0, 50.0, 45.0)]
    runs = [(default, [{"kind": "window", "images_per_s": 9.0}]), (study, epochs)]
    assert measured_rate("study", runs) == 45.0
    assert measured_rate("default", runs) is None  # windows only: no finished epoch
    # the study's recipe: 20 epochs of 18,000 images at the stored CPU figure, over 2 hours
    assert duration_estimate(20, 18_000, CPU_IMAGES_PER_S["study"]) > 2 * 3600
    assert duration_estimate(20, 18_000, None) is None
