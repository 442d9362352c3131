"""Curves, best ELBO and progress read from metrics records as the trainer writes them."""

import pytest

from explorer.training_plots import (
    best_val_elbo, elbo_figure, focus_range, overlay_figure, progress, series,
)

RECORDS = [
    {"kind": "window", "epoch": 0, "step": 10, "loss": 400.0, "reconstruction": 390.0, "kl": 10.0,
     "images_per_s": 100.0, "time": 1.0},
    {"kind": "window", "epoch": 0, "step": 20, "loss": 380.0, "reconstruction": 371.0, "kl": 9.0,
     "images_per_s": 120.0, "time": 2.0},
    {"kind": "epoch", "epoch": 1, "step": 20, "loss": 390.0, "val_loss": 379.0, "val_reconstruction": 370.0, "val_kl": 9.0,
     "time": 2.5},
    {"kind": "window", "epoch": 1, "step": 30, "loss": float("nan"), "reconstruction": None, "kl": 8.0,
     "images_per_s": 110.0, "time": 3.0},
    {"kind": "epoch", "epoch": 2, "step": 40, "val_loss": 375.0, "val_reconstruction": 365.0, "val_kl": 8.5,
     "time": 4.0},
]


def test_series_skips_missing_and_non_finite_values_and_filters_kind():
    assert series(RECORDS, "loss") == ([10, 20, 20], [400.0, 380.0, 390.0])
    assert series(RECORDS, "loss", kind="window") == ([10, 20], [400.0, 380.0])
    assert series(RECORDS, "val_loss", x="epoch") == ([1, 2], [379.0, 375.0])


def test_best_val_elbo_is_the_highest_minus_reconstruction_minus_kl():
    assert best_val_elbo(RECORDS) == pytest.approx(-373.5)
    assert best_val_elbo(RECORDS[:2]) is None


def test_elbo_figure_has_train_and_validation_for_each_term():
    figure = elbo_figure(RECORDS, "run-a")
    assert len(figure.data) == 6
    val_kl = [t for t in figure.data if t.name == "validation"][2]
    assert list(val_kl.y) == [9.0, 8.5]
    train_loss = figure.data[0]  # window records only, not the epoch mean at step 20
    assert list(train_loss.y) == [400.0, 380.0]


def test_overlay_has_one_curve_per_run():
    figure = overlay_figure({"a": RECORDS, "b": RECORDS[:3]}, "val_loss")
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[1].y) == [379.0]


def test_overlay_of_the_factor_r2_has_no_nats_axis():
    records = [dict(r, r2_a=0.8 + 0.05 * r["epoch"]) for r in RECORDS if r["kind"] == "epoch"]
    figure = overlay_figure({"a": records}, "r2_a")
    assert list(figure.data[0].y) == pytest.approx([0.85, 0.9])
    assert figure.layout.yaxis.title.text == "r2_a"
    assert "nats" in overlay_figure({"a": records}, "val_kl").layout.yaxis.title.text


def test_progress_reports_rate_fraction_and_eta():
    p = progress(RECORDS, epochs=4, steps_per_epoch=None)  # 20 steps/epoch from epoch 1
    assert p["step"] == 40 and p["epoch"] == 2 and p["images_per_s"] == 110.0
    assert p["fraction"] == pytest.approx(0.5)
    # 3 s for 30 steps -> 0.1 s/step, 40 steps to go
    assert p["eta_s"] == pytest.approx(4.0)
    assert progress([], epochs=4, steps_per_epoch=None)["eta_s"] is None


def test_focus_range_cuts_an_early_transient_but_keeps_a_rising_curve():
    falling = [1500.0, 700.0] + [400.0 - i for i in range(20)]
    low, high = focus_range(falling)
    assert low < 381.0 and 398.0 < high < 700.0
    rising = [0.2, 0.5, 0.3, 1.4, 5.0, 6.2]
    low, high = focus_range(rising, [0.1, 6.5])
    assert low < 0.1 and high >= 6.5
    assert focus_range([1.0, 2.0]) is None


def test_progress_counts_completed_epochs_like_the_runs_table():
    # stopped during epoch 4: windows say 4, the "end" record says 3 epochs completed
    records = [{"kind": "epoch", "epoch": 3, "step": 30, "val_kl": 5.0, "time": 3.0},
               {"kind": "window", "epoch": 4, "step": 35, "loss": 1.0, "time": 3.5},
               {"kind": "end", "epoch": 3, "step": 36, "val_loss": 1.0, "time": 3.6}]
    assert progress(records, epochs=40, steps_per_epoch=10)["epoch"] == 3
    assert progress(records[1:2], epochs=40, steps_per_epoch=10)["epoch"] is None


def test_collapse_warning_fires_below_one_nat_of_validation_kl():
    from explorer.training_plots import collapse_warning

    assert collapse_warning(RECORDS) is None  # val_kl 8.5
    collapsed = RECORDS + [{"kind": "epoch", "epoch": 3, "step": 60, "val_kl": 0.2}]
    assert "0.20 nats" in collapse_warning(collapsed) and "Train longer" in collapse_warning(collapsed)
    assert collapse_warning(RECORDS[:2]) is None  # no finished epoch yet
