"""TrainConfig: validation names the field, presets hold the recipes, JSON round trip."""

import pytest

from vaeflow.training.config import PRESETS, TrainConfig


@pytest.mark.parametrize("field, value", [
    ("beta", 0.0), ("beta", float("nan")), ("learning_rate", -1e-3), ("epochs", 0),
    ("batch_size", 0), ("batch_size", 2.5), ("seed", -1), ("patience", 0), ("min_delta", -0.1),
    ("steps_per_window", 0), ("val_fraction", 0.0), ("val_fraction", 1.0), ("time_limit_s", 0.0),
    ("checkpoint_every_s", 0.0), ("stream_val_size", 0), ("stream_repeats", 0),
    ("split_seed", -1), ("split_seed", 1.5), ("split_seed", True),
    ("lr_schedule", "linear"), ("jit_compile", "yes"), ("distribute", "tpu"),
    ("stream", "yes"), ("mixed_precision", 1), ("epochs", True),
])
def test_out_of_range_values_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}\b"):
        TrainConfig(**{field: value})


def test_stream_epoch_must_hold_a_batch():
    with pytest.raises(ValueError, match=r"stream_epoch_size.*batch_size"):
        TrainConfig(batch_size=64, stream_epoch_size=32)


def test_data_and_stream_exclude_each_other():
    with pytest.raises(ValueError, match=r"TrainConfig\.data"):
        TrainConfig(data="data/flow.npz", stream=True)


def test_study_preset_is_the_study_recipe():
    study = TrainConfig.preset("study", data="d.npz")
    assert (study.beta, study.learning_rate, study.batch_size, study.epochs, study.patience) == (
        2.0, 1e-4, 32, 20, 3)
    assert TrainConfig.preset("study", epochs=5).epochs == 5  # overrides win, and are validated
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig.preset("study", batch_size=-1)
    with pytest.raises(ValueError, match="preset"):
        TrainConfig.preset("fast")
    assert set(PRESETS) == {"default", "study"}


def test_dict_round_trip_and_unknown_keys():
    config = TrainConfig(beta=2.0, stream=True, patience=3, time_limit_s=60)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="learning_rat"):
        TrainConfig.from_dict({"learning_rat": 1e-3})


def test_split_seed_round_trips_and_defaults_to_the_run_seed():
    config = TrainConfig(data="d.npz", seed=4, split_seed=11)
    assert config.to_dict()["split_seed"] == 11
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.validation_split_seed == 11
    assert TrainConfig(seed=4).split_seed is None and TrainConfig(seed=4).validation_split_seed == 4
    # a config.json written before split_seed existed still loads, splitting by the run seed
    old = {k: v for k, v in config.to_dict().items() if k != "split_seed"}
    assert TrainConfig.from_dict(old).validation_split_seed == 4


def test_numbers_are_normalised_and_the_config_is_frozen():
    config = TrainConfig(epochs=3.0, beta=1, data=None)
    assert isinstance(config.epochs, int) and isinstance(config.beta, float)
    with pytest.raises(AttributeError):
        config.beta = 3.0  # type: ignore[misc]
    assert config.replace(beta=3.0).beta == 3.0
    assert TrainConfig(stream=True).dataset_label == "stream"
    assert TrainConfig(data="d.npz").dataset_label == "d.npz"
