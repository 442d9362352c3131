"""The Train page in AppTest: it loads, follows its controls, starts and stops a real tiny run,
refuses a second start, and shows why a run failed."""

import time

import pytest

import vaeflow

from app_util import open_view
from bad_datasets import flip_inside_member


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    data, runs = tmp_path / "data", tmp_path / "runs"
    monkeypatch.setenv("VAEFLOW_DATA_DIR", str(data))
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    data.mkdir()
    vaeflow.save_dataset(vaeflow.generate_dataset(96, seed=0), data / "tiny.npz")
    yield data, runs
    jobs = vaeflow.JobRunner(runs)
    for name in jobs.active_runs():  # never leave a training process behind
        jobs.stop(name, timeout=30)


@pytest.fixture
def page(dirs):
    return open_view("train")


def _texts(elements):
    return [e.value for e in elements]


def test_page_shows_the_device_and_the_saved_dataset(page, dirs):
    assert _texts(page.title) == ["Train"]
    assert any("Training runs on **CPU**" in m or "Training runs on **GPU" in m
               for m in _texts(page.markdown))
    options = page.selectbox(key="train.data").options
    assert options == ["tiny (96 images)", "fresh images every epoch (stream)"]
    assert any("No runs yet" in i for i in _texts(page.info))


def test_start_refuses_a_dataset_damaged_after_it_was_chosen(page, dirs):
    data, runs = dirs
    path = data / "tiny.npz"
    page.selectbox(key="train.data").set_value(str(path))
    page.text_input(key="train.name").set_value("on-damaged")
    page.run()
    path.write_bytes(flip_inside_member(path.read_bytes(), "images.npy"))  # a CRC error inside
    page.button(key="train.start").click().run()
    assert not page.exception
    assert any("Cannot train on tiny.npz" in e and "corrupted (images)" in e
               for e in _texts(page.error)), _texts(page.error)
    assert not (runs / "on-damaged").exists() and not vaeflow.JobRunner(runs).active_runs()
    box = page.selectbox(key="train.data")  # still the choice, labelled with its problem
    assert box.value == str(path) and "tiny (damaged: " in box.options[0]


def test_choosing_the_study_preset_loads_its_recipe(page):
    assert page.number_input(key="train.beta").value == 1.0
    page.selectbox(key="train.preset").set_value("study").run()
    assert page.number_input(key="train.beta").value == 2.0
    assert page.select_slider(key="train.learning_rate").value == 1e-4
    assert page.select_slider(key="train.batch_size").value == 32
    assert page.number_input(key="train.patience").value == 3
    assert not page.exception


def test_the_split_seed_chosen_on_the_dataset_page_is_the_train_pages_default(page):
    assert page.number_input(key="train.split_seed").value == 0
    page.switch_page("views/dataset.py").run()
    page.number_input(key="dataset.split_seed").set_value(7).run()
    page.switch_page("views/train.py").run()
    assert page.number_input(key="train.split_seed").value == 7
    page.number_input(key="train.split_seed").set_value(3).run()  # and back the other way
    page.switch_page("views/dataset.py").run()
    assert page.number_input(key="dataset.split_seed").value == 3
    # the stream validates on images of its own seed: no split seed to choose
    page.switch_page("views/train.py").run()
    page.selectbox(key="train.data").set_value("stream").run()
    assert not [w for w in page.number_input if w.key == "train.split_seed"]
    assert not page.exception


@pytest.mark.slow
def test_start_refuse_watch_and_stop_a_tiny_run(page, dirs):
    data, runs = dirs
    page.selectbox(key="train.data").set_value(str(data / "tiny.npz"))
    page.number_input(key="train.epochs").set_value(500)
    page.select_slider(key="train.batch_size").set_value(16)
    page.number_input(key="train.split_seed").set_value(5)
    page.text_input(key="train.name").set_value("tiny-run")
    page.button(key="train.start").click().run()
    assert not page.exception
    assert any("Started tiny-run" in s for s in _texts(page.success))
    run = vaeflow.RunDir(runs, "tiny-run")
    assert run.read_config()["train"]["batch_size"] == 16
    assert run.read_config()["train"]["split_seed"] == 5
    assert run.read_status()["state"] == "running"
    assert page.text_input(key="train.name").value != "tiny-run"  # a fresh name is offered

    page.button(key="train.start").click().run()  # a second run while one trains
    assert not page.exception
    assert any("already going" in w and "tiny-run" in w for w in _texts(page.warning))

    deadline = time.time() + 150
    while not any(r.get("kind") == "epoch" for r in run.read_metrics()):
        assert run.read_status()["state"] == "running", run.log_tail()
        assert time.time() < deadline, "no finished epoch in time"
        time.sleep(1.0)
    page.run()  # a fresh page (like a reload) finds the run on disk
    assert any("tiny-run" in h for h in _texts(page.subheader))
    charts = {c.proto.id.split("-")[-1] for c in page.get("plotly_chart")}
    assert "train.live_figure" in charts
    (table,) = page.dataframe
    assert list(table.value["run"]) == ["tiny-run"] and table.value["status"][0] == "running"

    page.button(key="train.stop").click().run()
    assert not page.exception
    assert any("Stopping" in i for i in _texts(page.info))  # at once, not after the run ends
    deadline = time.time() + 120
    while run.read_status()["state"] == "running":
        assert time.time() < deadline, "the run did not stop"
        time.sleep(0.5)
    assert run.read_status()["state"] == "stopped"
    assert any(run.checkpoints_dir.iterdir()) and run.model_dir.is_dir()

    page.run()  # Resume continues the same run from its checkpoint, as `--resume` does
    page.button(key="train.resume").click().run()
    assert not page.exception
    assert any("Resumed tiny-run" in s for s in _texts(page.success))
    while "resumed from step" not in run.log_tail(50):
        assert run.read_status()["state"] == "running", run.log_tail()
        assert time.time() < deadline + 120, "no resume in time"
        time.sleep(1.0)


def test_a_failed_run_shows_its_error_and_log_tail_and_runs_can_be_followed(page, dirs):
    ok = vaeflow.RunDir(dirs[1], "ok").create()
    ok.write_config({"train": vaeflow.TrainConfig(data="x.npz", epochs=2).to_dict(), "model": {}})
    for epoch in (1, 2):
        ok.append_metrics({"kind": "epoch", "epoch": epoch, "step": 10 * epoch, "loss": 400.0,
                           "reconstruction": 390.0, "kl": 10.0, "val_loss": 401.0 - epoch,
                           "val_reconstruction": 391.0 - epoch, "val_kl": 10.0,
                           "images_per_s": 100.0, "time": 1.0 * epoch})
    ok.write_status("done")
    run = vaeflow.RunDir(dirs[1], "broken").create()
    run.write_config({"train": vaeflow.TrainConfig(data="x.npz").to_dict(), "model": {}})
    run.log_path.write_text("I0000 00:00 chatter\nepoch 1 ok\nNonFiniteLossError: loss is nan\n")
    run.write_status("failed", error="NonFiniteLossError: non-finite training loss at step 7")
    page.run()

    page.selectbox(key="train.follow").set_value("broken").run()
    assert any("broken failed: NonFiniteLossError" in e for e in _texts(page.error))
    (log,) = page.code
    assert "loss is nan" in log.value and "chatter" not in log.value

    page.selectbox(key="train.follow").set_value("ok").run()
    assert not page.error and not page.code
    charts = {c.proto.id.split("-")[-1] for c in page.get("plotly_chart")}
    assert {"train.live_figure", "train.overlay"} <= charts  # ok's curves, alone and compared
    rows = page.dataframe[0].value
    assert dict(zip(rows["run"], rows["best val ELBO"]))["ok"] == -399.0
    assert not page.exception


def _finished_run(root, name):
    run = vaeflow.RunDir(root, name).create()
    run.write_config({"train": vaeflow.TrainConfig(data="x.npz", epochs=1).to_dict(), "model": {}})
    run.append_metrics({"kind": "epoch", "epoch": 1, "step": 10, "loss": 400.0,
                        "reconstruction": 390.0, "kl": 10.0, "val_loss": 401.0,
                        "val_reconstruction": 391.0, "val_kl": 10.0, "images_per_s": 100.0,
                        "time": 1.0})
    run.write_status("done")
    return run


@pytest.mark.parametrize("damage", [
    ("config.json", "{not json"),
    ("config.json", "[1, 2]"),
    ("status.json", "[\"running\"]"),
    ("status.json", "{\"state\": \"done\", \"started\": \"yesterday\"}"),
    ("metrics.jsonl", "7\n"),
], ids=["config-malformed", "config-list", "status-list", "status-bad-time", "metrics-number"])
def test_one_bad_run_file_leaves_the_other_runs_on_the_page(page, dirs, damage):
    file, text = damage
    _finished_run(dirs[1], "good")
    bad = _finished_run(dirs[1], "bad")
    with open(bad.path / file, "a" if file == "metrics.jsonl" else "w") as stream:
        stream.write(text)
    page.run()
    assert not page.exception, page.exception
    rows = page.dataframe[0].value
    assert set(rows["run"]) == {"good", "bad"}
    page.selectbox(key="train.follow").set_value("good").run()
    assert not page.exception
    charts = {c.proto.id.split("-")[-1] for c in page.get("plotly_chart")}
    assert "train.live_figure" in charts
    page.selectbox(key="train.follow").set_value("bad").run()
    assert not page.exception, page.exception
    if file != "metrics.jsonl":  # a skipped metrics line is not an error, the others are
        assert any("bad" in e and file in e for e in _texts(page.error)), _texts(page.error)


def test_the_form_keeps_its_values_across_pages(page, dirs):
    page.selectbox(key="train.data").set_value("stream").run()
    page.number_input(key="train.beta").set_value(2.5)
    page.number_input(key="train.epochs").set_value(7)
    page.number_input(key="train.stream_epoch_size").set_value(4096)
    page.select_slider(key="train.learning_rate").set_value(5e-4)
    page.text_input(key="train.name").set_value("kept-name").run()
    page.switch_page("views/dataset.py").run()
    page.switch_page("views/train.py").run()
    assert not page.exception
    assert page.selectbox(key="train.data").value == "stream"
    assert page.number_input(key="train.beta").value == 2.5
    assert page.number_input(key="train.epochs").value == 7
    assert page.number_input(key="train.stream_epoch_size").value == 4096
    assert page.select_slider(key="train.learning_rate").value == 5e-4
    assert page.text_input(key="train.name").value == "kept-name"


def test_a_picked_dataset_that_is_deleted_is_named_not_silently_replaced(page, dirs):
    data, _ = dirs
    path = data / "tiny.npz"
    page.selectbox(key="train.data").set_value(str(path)).run()
    path.unlink()
    page.run()
    assert not page.exception
    assert page.selectbox(key="train.data").value != str(path)
    assert any("tiny.npz" in w and "no longer in the data folder" in w for w in _texts(page.warning))
