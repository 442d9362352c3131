"""Widget groups return valid configs that follow the controls (AppTest, no browser)."""

import math

import pytest
from streamlit.testing.v1 import AppTest

import vaeflow
from explorer.dataset_controls import theta_degrees, theta_range


def _spec_app():
    import streamlit as st

    from explorer.widgets import flow_spec_ui

    st.code(flow_spec_ui().to_json())


def _shown_spec(at: AppTest) -> vaeflow.FlowSpec:
    return vaeflow.FlowSpec.from_json(at.code[0].value)


def test_flow_spec_ui_defaults_to_the_study_chain():
    at = AppTest.from_function(_spec_app).run(timeout=30)
    assert not at.exception
    assert _shown_spec(at) == vaeflow.FlowSpec()


def test_flow_spec_ui_follows_every_control_and_resets():
    at = AppTest.from_function(_spec_app).run(timeout=30)
    at.slider(key="spec.a_mean").set_value(-1.5)
    at.slider(key="spec.scale_y").set_value(2.0)
    at.slider(key="spec.theta_start").set_value(90)
    at.slider(key="spec.theta_span").set_value(45)
    at.toggle(key="spec.tanh").set_value(False)
    at.selectbox(key="spec.cmap").set_value("viridis")
    at.run(timeout=30)
    spec = _shown_spec(at)
    assert spec.a_mean == -1.5 and spec.scale == (1.0, 2.0) and not spec.tanh
    assert spec.cmap == "viridis"
    assert spec.theta_min == pytest.approx(math.pi / 2)
    assert spec.theta_max == pytest.approx(math.pi * 3 / 4)

    at.button(key="spec.reset").click().run(timeout=30)
    assert _shown_spec(at) == vaeflow.FlowSpec()


def test_flow_spec_ui_bounds_cannot_produce_an_invalid_spec():
    at = AppTest.from_function(_spec_app).run(timeout=30)
    for slider in at.slider:
        slider.set_value(slider.min)
    at.run(timeout=30)
    assert not at.exception
    low = _shown_spec(at)
    assert low.base_scale > 0 and low.a_std > 0 and low.theta_max > low.theta_min
    for slider in at.slider:
        slider.set_value(slider.max)
    at.run(timeout=30)
    assert not at.exception
    assert _shown_spec(at).grid_size == 256


def test_theta_range_round_trips_whole_degrees():
    spec = vaeflow.FlowSpec(theta_min=math.radians(30), theta_max=math.radians(120))
    assert theta_degrees(spec) == (30, 90)
    assert theta_range(*theta_degrees(spec)) == pytest.approx((spec.theta_min, spec.theta_max))
    assert theta_degrees(vaeflow.FlowSpec()) == (0, 360)
    with pytest.raises(ValueError, match="span_deg"):
        theta_range(10, 0)


def test_the_plan_line_says_what_start_will_train():
    from explorer.widgets import STREAM, plan_text

    config = vaeflow.TrainConfig(epochs=3, batch_size=64, stream=True, stream_epoch_size=20_000,
                                 stream_val_size=1_000, patience=2, time_limit_s=90.0)
    text = plan_text(config, vaeflow.ModelConfig(latent_dim=3), STREAM)
    assert "3 epochs on 20,000 fresh images per epoch (1,000 for validation)" in text
    assert "batch 64" in text and "latent size 3" in text
    assert "early stop after 2 epochs" in text and "at most 1.5 min" in text
    saved = plan_text(vaeflow.TrainConfig(val_fraction=0.2), vaeflow.ModelConfig(), "flow.npz")
    assert "on flow.npz (20% held out for validation)" in saved and "early stop" not in saved
