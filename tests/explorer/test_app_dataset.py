"""The Dataset page in AppTest: it loads, follows its controls, generates, lists and validates."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import vaeflow

from app_util import APP, TIMEOUT, open_view


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "data"


@pytest.fixture
def page(data_dir):
    return open_view("dataset")


def _preview(at):
    (grid,) = [image for image in at.get("image") if len(image.captions) == 24]
    return grid


def _figure(at, key):
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    return json.loads(chart.proto.spec)


def test_app_opens_on_explore_and_routes_to_dataset(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not any(title.value == "Dataset" for title in at.title)
    at.switch_page("views/dataset.py").run()
    assert [title.value for title in at.title] == ["Dataset"]


def test_no_legacy_pages_folder_beside_the_app():
    # A pages/ folder beside app.py switches a fresh server to Streamlit's legacy multipage
    # mode, where a first deep link (/train) runs that file without app.py's navigation.
    assert not (Path(APP).parent / "pages").exists()


def test_preview_shows_24_captioned_images_that_follow_the_controls(page):
    before = _preview(page)
    assert all(c.startswith("a=") and "θ=" in c for c in before.captions)
    page.number_input(key="dataset.seed").set_value(7).run()
    after_seed = _preview(page)
    assert after_seed.captions != before.captions  # new (a, θ) draws

    page.selectbox(key="spec.cmap").set_value("viridis").run()
    after_cmap = _preview(page)
    assert after_cmap.captions == after_seed.captions  # same factors …
    assert after_cmap.value != after_seed.value  # … drawn differently
    assert not page.exception


def _preview_box(at):
    (box,) = [box for box in at.selectbox if box.label == "preview image"]
    return box


def test_new_preview_images_start_a_new_inspector_box(page):
    _preview_box(page).set_value(5).run()
    page.number_input(key="dataset.seed").set_value(1).run()
    box = _preview_box(page)
    assert box.value == 0 and box.options[0].startswith("#1: ")
    assert box.options[0].split(": ", 1)[1] == _preview(page).captions[0]


def test_flow_inspector_follows_the_chosen_image_and_the_hand_set_factors(page):
    first = _figure(page, "inspect.figure")
    assert [a["text"] for a in first["layout"]["annotations"]] == [
        "base z", "f1 shift", "f2 scale", "f3 shear", "f4 rotation", "f5 tanh"]
    _preview_box(page).set_value(5).run()
    second = _figure(page, "inspect.figure")
    assert second["data"][8]["y"] != first["data"][8]["y"]  # the rotated cloud moved

    page.radio(key="inspect.mode").set_value("a and θ by hand").run()
    page.toggle(key="spec.tanh").set_value(False).run()
    untanhed = _figure(page, "inspect.figure")
    assert "f5 tanh" not in [a["text"] for a in untanhed["layout"]["annotations"]]
    assert not page.exception


def test_generate_saves_a_dataset_and_lists_it(page, data_dir):
    page.number_input(key="generate.n").set_value(40)
    page.text_input(key="generate.name").set_value("tiny")
    page.button(key="FormSubmitter:generate-Generate dataset").click().run()
    assert not page.exception
    assert not page.error, [e.value for e in page.error]
    saved = vaeflow.load_dataset(data_dir / "tiny.npz")
    assert len(saved) == 40 and saved.seed == 0
    assert any("Saved 40 images" in s.value for s in page.success)
    page.run()  # the table reads the folder on the next run too
    (table,) = page.dataframe
    assert list(table.value["name"]) == ["tiny"] and list(table.value["images"]) == [40]

    # the same name again is refused with a message, not an exception
    page.button(key="FormSubmitter:generate-Generate dataset").click().run()
    assert any("taken" in e.value for e in page.error)


def test_upload_of_a_foreign_or_corrupted_file_is_a_clear_error(page, data_dir, tmp_path):
    foreign = io.BytesIO()
    np.savez(foreign, x=np.zeros(3))
    for name, content in (("foreign.npz", foreign.getvalue()), ("broken.npz", b"PK\x03\x04junk")):
        page.file_uploader(key="upload.file").set_value((name, content, "application/octet-stream"))
        page.run()
        assert not page.exception
        assert any(name in e.value and "not a usable vaeflow dataset" in e.value for e in page.error)
        assert "/tmp/" not in page.error[0].value

    good = tmp_path / "good.npz"
    vaeflow.save_dataset(vaeflow.generate_dataset(8, seed=1), good)
    page.file_uploader(key="upload.file").set_value(("good.npz", good.read_bytes(), "application/octet-stream"))
    page.run()
    assert not page.error and any("8 images" in s.value for s in page.success)
    page.button(key="upload.save").click().run()
    assert (data_dir / "good.npz").read_bytes() == good.read_bytes()
    assert list(page.dataframe[0].value["name"]) == ["good"]  # the list above shows it at once
    assert any("Saved to" in t.value for t in page.toast)

    page.selectbox(key="saved.pick").set_value("good")
    page.button(key="saved.delete").click().run()  # the confirmation inside "Delete"
    assert not (data_dir / "good.npz").exists() and not page.exception
    assert any("No datasets" in i.value for i in page.info)


def test_an_upload_with_bad_arrays_is_explained_without_internal_names(page):
    meta = json.dumps({"format": "vaeflow.dataset", "version": 1, "seed": 0,
                       "spec": vaeflow.FlowSpec().to_dict()})
    content = io.BytesIO()
    np.savez(content, images=np.zeros((2, 36, 36, 3), np.float32),
             factors=np.zeros((2, 2), np.float32), meta=np.array(meta))
    page.file_uploader(key="upload.file").set_value(("float.npz", content.getvalue(),
                                                     "application/octet-stream"))
    page.run()
    (error,) = page.error
    assert "images" in error.value and "FlowDataset" not in error.value, error.value


def test_a_spec_whose_density_leaves_the_grid_warns_before_generating(page):
    assert not page.warning
    page.slider(key="spec.shift_x").set_value(4.0)
    page.slider(key="spec.shift_y").set_value(4.0).run()
    assert any("nearly blank" in w.value for w in page.warning)


def test_controls_and_seeds_keep_their_values_across_pages(page):
    page.slider(key="spec.a_mean").set_value(2.5)
    page.slider(key="spec.theta_span").set_value(90)
    page.toggle(key="spec.tanh").set_value(False)
    page.number_input(key="dataset.seed").set_value(3)
    page.number_input(key="dataset.split_seed").set_value(4).run()
    captions = _preview(page).captions
    page.switch_page("views/train.py").run()
    page.switch_page("views/dataset.py").run()
    assert not page.exception
    assert page.slider(key="spec.a_mean").value == 2.5
    assert page.slider(key="spec.theta_span").value == 90
    assert page.toggle(key="spec.tanh").value is False
    assert page.number_input(key="dataset.seed").value == 3
    assert page.number_input(key="dataset.split_seed").value == 4
    assert _preview(page).captions == captions
    assert page.query_params["a_mean"] == "2.5" and page.query_params["seed"] == "3"


def test_reset_puts_every_control_back(page):
    page.slider(key="spec.a_mean").set_value(-2.0)
    page.selectbox(key="spec.cmap").set_value("gray").run()
    page.button(key="spec.reset").click().run()
    assert page.slider(key="spec.a_mean").value == 3.0
    assert page.selectbox(key="spec.cmap").value == "hot"
    assert not page.query_params.get("a_mean")


def test_a_link_opens_its_view_and_a_bad_value_warns_once(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("views/dataset.py")
    at.query_params.update({"a_mean": "2.5", "seed": "9", "levels": "abc", "theta_span": "0"})
    at.run()
    assert not at.exception
    assert at.slider(key="spec.a_mean").value == 2.5
    assert at.number_input(key="dataset.seed").value == 9
    assert at.slider(key="spec.levels").value == 100
    (warning,) = at.warning
    assert "levels='abc'" in warning.value and "theta_span='0'" in warning.value
    at.run()  # the page's own rewritten link: nothing to warn about
    assert not at.warning and at.slider(key="spec.a_mean").value == 2.5
