"""The Explore page under AppTest: it loads, and changing a widget changes what is shown.

A small untrained VAE stands in for the pretrained one (its decodes still depend on z), and
the held-out set is shrunk, so the whole file runs in seconds once TensorFlow is imported.
Clicks on the Plotly map cannot be simulated here: tests/test_selection.py covers the payload
handling and tests/test_browser.py real clicks.
"""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import cache
from explorer.selection import DATA_TRACE, GRID_TRACE

PAGE = Path(__file__).resolve().parents[2] / "explorer" / "views" / "explore.py"


@pytest.fixture(autouse=True)
def _heldout_cache(tmp_path, monkeypatch):
    # the held-out sets these tests render stay out of the user's ~/.cache/vaeflow
    monkeypatch.setenv("VAEFLOW_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    import keras

    from vaeflow.models import VAE, ModelConfig, save_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("pretrained")
    save_model(VAE(ModelConfig()), path)
    return path


@pytest.fixture
def app(monkeypatch, tiny_model_dir, tmp_path):
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tiny_model_dir)
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 150)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.run()
    assert not at.exception, at.exception
    return at


def _figure(at) -> dict:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def _trace(at, name: str) -> dict:
    return next(t for t in _figure(at)["data"] if t.get("name") == name)


def _image_with_caption(at, prefix: str):
    for image in at.get("image"):
        if image.captions and image.captions[0].startswith(prefix):
            return image
    raise LookupError(f"no image captioned {prefix!r}…; captions: {[i.captions for i in at.get('image')]}")


def test_page_shows_the_map_the_decoded_view_and_the_interpolation(app):
    assert not app.error
    dataset = _trace(app, DATA_TRACE)
    assert len(dataset["x"]) == 150
    assert len(_trace(app, GRID_TRACE)["x"]) >= 50 * 50  # the click-catching grid
    assert _figure(app)["layout"]["images"], "manifold map missing"
    assert _image_with_caption(app, "decoded origin").value
    assert _image_with_caption(app, "t = 0.50").value
    assert len(_trace(app, "path")["x"]) == 64


def test_images_reach_the_browser_inline_as_lossless_png(app):
    # Bytes handed to st.image were re-encoded as JPEG (blurred squares, CPU per image) and
    # fetched by a second request each; a PNG data URI is shown exactly as encoded.
    for prefix in ("decoded origin", "t = 0.50"):
        (url,) = _image_with_caption(app, prefix).value
        assert url.startswith("data:image/png;base64,"), url[:40]
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        factor = pixels.shape[0] // 36
        assert pixels.shape == (36 * factor, 36 * factor, 3) and factor > 1
        squares = np.repeat(np.repeat(pixels[::factor, ::factor], factor, axis=0), factor, axis=1)
        np.testing.assert_array_equal(pixels, squares)  # every pixel a sharp square


def test_colour_by_switches_the_colour_scale(app):
    theta_marker = _trace(app, DATA_TRACE)["marker"]
    app.selectbox(key="explore_colour_by").set_value("a").run()
    a_marker = _trace(app, DATA_TRACE)["marker"]
    assert theta_marker["color"] != a_marker["color"]
    assert theta_marker["colorbar"]["title"]["text"] == "θ"
    assert a_marker["colorbar"]["title"]["text"] == "a"
    app.selectbox(key="explore_colour_by").set_value("none").run()
    assert isinstance(_trace(app, DATA_TRACE)["marker"]["color"], str)


def test_manifold_and_iso_toggles_add_and_remove_layers(app):
    app.toggle(key="explore_manifold").set_value(False).run()
    assert not _figure(app)["layout"].get("images")
    app.toggle(key="explore_iso").set_value(True).run()
    assert not app.exception
    names = [t.get("name") for t in _figure(app)["data"]]
    assert "iso-a" in names and "iso-θ" in names


def test_moving_t_decodes_a_different_frame(app):
    before = _image_with_caption(app, "t = 0.50").value
    app.slider(key="explore_t").set_value(0.9).run()
    after = _image_with_caption(app, "t = 0.90").value
    assert after != before


def test_spherical_path_differs_from_linear_and_endpoints_follow_the_index(app):
    linear = _trace(app, "path")
    app.radio(key="explore_method").set_value("spherical").run()
    spherical = _trace(app, "path")
    assert linear["x"][0] == pytest.approx(spherical["x"][0])  # same endpoints...
    assert linear["x"][32] != pytest.approx(spherical["x"][32])  # ...another way between
    app.number_input(key="explore_row_A").set_value(7).run()
    endpoints = _trace(app, "endpoints")
    assert app.session_state["explore_A"]["index"] == 7
    assert endpoints["x"][0] == pytest.approx(app.session_state["explore_A"]["xy"][0], abs=1e-4)


def test_a_broken_model_gives_a_message_not_a_traceback(monkeypatch, tmp_path):
    (tmp_path / "broken").mkdir()
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tmp_path / "broken")
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.run()
    assert not at.exception
    assert "Cannot use model" in at.error[0].value


def test_play_shows_the_interpolation_as_an_animation(app):
    app.toggle(key="explore_play").set_value(True).run()
    assert not app.exception
    assert _image_with_caption(app, "A → B → A").value


def test_a_finished_run_can_be_explored(monkeypatch, tiny_model_dir, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(tiny_model_dir, runs / "tiny-run" / "model")
    (runs / "tiny-run" / "config.json").write_text('{"train": {"stream": true}, "model": {}}')
    (runs / "unfinished").mkdir(parents=True)  # no model/ yet: not offered
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tiny_model_dir)
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 150)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.run()
    model = at.selectbox(key="explore_model")
    assert model.options == [cache.PRETRAINED, "tiny-run"]
    model.set_value("tiny-run").run()
    assert not at.exception and not at.error
    assert all("has collapsed" in w.value for w in at.warning)  # the tiny model is untrained
    assert len(_trace(at, DATA_TRACE)["x"]) == 150
    # a run whose dataset is gone: drawn all the same, with a warning naming the file
    (runs / "tiny-run" / "config.json").write_text('{"train": {"data": "gone.npz"}, "model": {}}')
    at.run()
    assert not at.exception and not at.error
    assert "gone.npz" in at.warning[0].value


def _page_on_a_fresh_model(monkeypatch, tmp_path, latent_dim: int) -> AppTest:
    """The page with an untrained VAE of `latent_dim` as its default model, 60 held-out images."""
    import keras

    from vaeflow.models import VAE, ModelConfig, save_model

    keras.utils.set_random_seed(0)
    save_model(VAE(ModelConfig(latent_dim=latent_dim)), tmp_path / "model")
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tmp_path / "model")
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 60)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.run()
    assert not at.exception
    return at


def test_a_one_dimensional_latent_gets_a_message_and_still_samples(monkeypatch, tmp_path):
    at = _page_on_a_fresh_model(monkeypatch, tmp_path, latent_dim=1)
    assert any("1-D latent" in w.value for w in at.warning)
    assert _image_with_caption(at, "16 decodes of z ~ N(0, I)").value


def test_a_larger_latent_is_drawn_on_two_chosen_axes(monkeypatch, tmp_path):
    at = _page_on_a_fresh_model(monkeypatch, tmp_path, latent_dim=3)
    before = _trace(at, DATA_TRACE)["y"]
    at.selectbox(key="explore_y_axis").set_value("z3").run()
    assert not at.exception and not at.error
    assert _trace(at, DATA_TRACE)["y"] != before
    titles = {a["name"]: a["text"] for a in _figure(at)["layout"]["annotations"]}
    assert titles == {"x title": "z1", "y title": "z3"}


def _link_warnings(at) -> list[str]:
    return [w.value for w in at.warning if "link" in w.value]


def _page_with_link(monkeypatch, tiny_model_dir, tmp_path, query: dict) -> AppTest:
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tiny_model_dir)
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 150)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_opens_its_view(monkeypatch, tiny_model_dir, tmp_path):
    at = _page_with_link(monkeypatch, tiny_model_dir, tmp_path, {
        "model": cache.PRETRAINED, "colour": "a", "manifold": "0", "z": "0.5,-0.25", "A": "7",
        "B": "1.5,1", "t": "0.9", "path": "spherical", "frames": "12"})
    assert not _link_warnings(at)
    assert at.selectbox(key="explore_colour_by").value == "a"
    assert not _figure(at)["layout"].get("images")  # the manifold map is off
    assert "z = (+0.50, -0.25)" in _image_with_caption(at, "decoded z = ").captions[0]
    assert at.session_state["explore_A"]["index"] == 7
    assert at.session_state["explore_B"] == {"xy": (1.5, 1.0), "index": None}
    assert at.slider(key="explore_t").value == 0.9 and _image_with_caption(at, "t = 0.90").value
    assert at.radio(key="explore_method").value == "spherical"
    assert at.slider(key="explore_n_frames").value == 12
    # the link the page writes back is the one it was opened with
    assert at.query_params["z"] == "0.5,-0.25" and at.query_params["A"] == "7"


def test_a_link_opens_the_error_map_and_the_link_follows_its_toggle(monkeypatch, tiny_model_dir, tmp_path):
    at = _page_with_link(monkeypatch, tiny_model_dir, tmp_path, {"model": cache.PRETRAINED, "errors": "1"})
    assert not at.exception and not _link_warnings(at)
    assert at.toggle(key="explore_error_map").value
    assert "error map" in [t.get("name") for t in _figure(at)["data"]]
    at.toggle(key="explore_error_map").set_value(False).run()
    assert at.query_params["errors"] == "0"


def test_a_bad_link_opens_the_defaults_with_one_warning(monkeypatch, tiny_model_dir, tmp_path):
    at = _page_with_link(monkeypatch, tiny_model_dir, tmp_path,
                         {"model": "deleted-run", "z": "abc", "t": "7", "colour": "a"})
    (warning,) = _link_warnings(at)
    for name in ("model", "z", "t"):
        assert f'{name} = "' in warning
    assert at.selectbox(key="explore_model").value == cache.PRETRAINED
    assert at.slider(key="explore_t").value == 0.5
    assert at.selectbox(key="explore_colour_by").value == "a"  # the good part still counts
    assert _image_with_caption(at, "decoded origin").value
    at.slider(key="explore_t").set_value(0.6).run()
    assert not _link_warnings(at)  # said once


def test_the_link_follows_the_view(app):
    assert app.query_params["colour"] == "theta" and "z" not in app.query_params
    app.selectbox(key="explore_colour_by").set_value("a").run()
    app.slider(key="explore_t").set_value(0.3).run()
    app.number_input(key="explore_row_B").set_value(11).run()
    assert app.query_params["colour"] == "a"
    assert app.query_params["t"] == "0.3" and app.query_params["B"] == "11"


def test_the_view_survives_a_visit_to_another_page(monkeypatch, tiny_model_dir, tmp_path):
    import shutil

    from app_util import APP

    runs = tmp_path / "runs"
    shutil.copytree(tiny_model_dir, runs / "tiny-run" / "model")
    (runs / "tiny-run" / "config.json").write_text('{"train": {"stream": true}, "model": {}}')
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tiny_model_dir)
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 150)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    monkeypatch.setenv("VAEFLOW_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("views/explore.py").run()
    at.selectbox(key="explore_model").set_value("tiny-run").run()
    at.selectbox(key="explore_colour_by").set_value("none").run()
    at.toggle(key="explore_iso").set_value(True).run()
    at.number_input(key="explore_row_A").set_value(5).run()
    at.slider(key="explore_t").set_value(0.8).run()
    at.switch_page("views/train.py").run()
    assert not at.exception
    at.switch_page("views/explore.py").run()
    assert not at.exception and not _link_warnings(at)
    assert at.selectbox(key="explore_model").value == "tiny-run"
    assert at.selectbox(key="explore_colour_by").value == "none"
    assert at.toggle(key="explore_iso").value is True
    assert at.session_state["explore_A"]["index"] == 5 and at.number_input(key="explore_row_A").value == 5
    assert at.slider(key="explore_t").value == 0.8


def test_cyclic_scale_is_only_offered_when_colouring_by_theta(app):
    assert not app.selectbox(key="explore_cyclic_scale").disabled
    for colour in ("a", "none"):
        app.selectbox(key="explore_colour_by").set_value(colour).run()
        assert app.selectbox(key="explore_cyclic_scale").disabled
    app.selectbox(key="explore_colour_by").set_value("θ").run()
    assert not app.selectbox(key="explore_cyclic_scale").disabled


def test_the_path_marks_t_and_the_iso_curves_are_labelled(app):
    app.toggle(key="explore_iso").set_value(True).run()
    labels = _trace(app, "iso-a labels")
    assert labels["text"] and all(text.startswith("a ") for text in labels["text"])
    assert all(text.startswith("θ ") for text in _trace(app, "iso-θ labels")["text"])
    t_mark = _trace(app, "t")
    path = _trace(app, "path")
    assert t_mark["x"][0] == pytest.approx(path["x"][0] + 0.5 * (path["x"][-1] - path["x"][0]), abs=1e-6)
    app.slider(key="explore_t").set_value(1.0).run()
    assert _trace(app, "t")["x"][0] == pytest.approx(path["x"][-1], abs=1e-6)


def test_an_untrained_model_is_called_collapsed(app):
    assert any("has collapsed" in w.value and cache.PRETRAINED in w.value for w in app.warning)


def _compare_page(monkeypatch, tiny_model_dir, tmp_path) -> AppTest:

    import keras

    from vaeflow.models import VAE, ModelConfig, save_model

    runs = tmp_path / "runs"
    keras.utils.set_random_seed(1)  # another model than the default one
    save_model(VAE(ModelConfig()), runs / "other-run" / "model")
    (runs / "other-run" / "config.json").write_text('{"train": {"data": null, "stream": true}, "model": {}}')
    monkeypatch.setattr(cache, "PRETRAINED_DIR", tiny_model_dir)
    monkeypatch.setattr(cache, "HELDOUT_SIZE", 150)
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.run()
    at.selectbox(key="explore_compare").set_value("other-run").run()
    assert not at.exception, at.exception
    return at


def test_compare_mode_shows_two_maps_two_decodes_and_two_strips(monkeypatch, tiny_model_dir, tmp_path):
    at = _compare_page(monkeypatch, tiny_model_dir, tmp_path)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2
    first, second = ([t for t in c["data"] if t.get("name") == DATA_TRACE][0] for c in charts)
    assert first["x"] != second["x"]  # each model's own encodings
    captions = [i.captions[0] for i in at.get("image") if i.captions]
    assert any(c.startswith(f"{cache.PRETRAINED} · origin") for c in captions)
    assert any(c.startswith("other-run · origin") for c in captions)
    assert sum("frames from A" in c for c in captions) == 2
    assert sum(c.startswith(("other-run · t = 0.50", f"{cache.PRETRAINED} · t = 0.50")) for c in captions) == 2
    # the same two held-out images are interpolated in both: the second path starts at A's
    # encoding by the other model
    a_row = at.session_state["explore_A"]["index"]
    second_path = [t for t in charts[1]["data"] if t.get("name") == "path"][0]
    assert second_path["x"][0] == pytest.approx(second["x"][a_row], abs=1e-4)
    assert at.query_params["vs"] == "other-run"


def test_a_compare_link_marks_the_carried_point_on_the_other_map(monkeypatch, tiny_model_dir, tmp_path):
    at = _compare_page(monkeypatch, tiny_model_dir, tmp_path)
    link = dict(at.query_params)
    fresh = AppTest.from_file(str(PAGE), default_timeout=240)
    fresh.query_params.update({**link, "z": "17", "zmap": "2"})  # row 17 clicked on the second map
    fresh.run()
    assert not fresh.exception and not _link_warnings(fresh)
    first, second = (json.loads(c.proto.spec) for c in fresh.get("plotly_chart"))
    mark = [t for t in first["data"] if t.get("name") == "mark"][0]
    dataset = [t for t in first["data"] if t.get("name") == DATA_TRACE][0]
    assert (mark["x"][0], mark["y"][0]) == pytest.approx((dataset["x"][17], dataset["y"][17]), abs=1e-4)
    assert not [t for t in second["data"] if t.get("name") == "mark"]
    captions = [i.captions[0] for i in fresh.get("image") if i.captions]
    assert any(c.startswith("other-run · clicked · #17") for c in captions)
    assert any(c.startswith(f"{cache.PRETRAINED} · nearest image ◇ · #17") for c in captions)


def test_error_map_toggle_draws_the_heatmap_and_the_clicked_cells_images(app):
    assert "error map" not in [t.get("name") for t in _figure(app)["data"]]
    app.toggle(key="explore_error_map").set_value(True).run()
    assert not app.exception, app.exception
    data = _figure(app)["data"]
    assert data[0]["name"] == "error map"  # first: drawn behind the points
    assert data[0]["colorbar"]["title"]["text"] == "decode error (nats)"
    assert len(data[0]["z"]) == 15 and len(data[0]["z"][0]) == 15
    assert not _figure(app)["layout"].get("images")  # the heatmap takes the manifold's place
    (caption,) = [c.value for c in app.caption if c.value.startswith("error-map cell")]
    assert caption.endswith("nats")
    # the toggle's change reran only the map and view fragments, and AppTest's tree then holds
    # only their elements; a full run brings the toggle row back
    app.run()
    app.toggle(key="explore_error_map").set_value(False).run()
    assert "error map" not in [t.get("name") for t in _figure(app)["data"]]
    assert not [c for c in app.caption if c.value.startswith("error-map cell")]
