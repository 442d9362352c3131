"""A model's config.json nested past the parser's recursion limit is a ValueError naming the
file (the Explore page and the CLI catch ValueError), never a RecursionError."""

from __future__ import annotations

import pytest

from vaeflow.models import load_model


def test_a_deeply_nested_model_config_is_a_value_error_naming_it(tmp_path):
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="config.json"):
        load_model(tmp_path)
