"""vaeflow.validate: the one "number but not bool" check, integers, reals, seeds, flag types."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from vaeflow import validate


@pytest.mark.parametrize("value, expected", [
    (3, True), (3.5, True), (np.int64(3), True), (np.float32(0.5), True),
    (True, False), (np.bool_(True), False), ("3", False), (None, False), ([3], False),
])
def test_is_number_refuses_bools_and_non_numbers(value, expected):
    assert validate.is_number(value) is expected


def test_integer_accepts_integral_numbers_and_names_the_field():
    assert validate.integer("n", 3.0, low=1) == 3 and validate.integer("n", np.int32(7)) == 7
    for bad in (2.5, True, "3", None, math.inf, math.nan, 0):
        with pytest.raises(ValueError, match=r"^Owner\.n must be an integer >= 1, got "):
            validate.integer("Owner.n", bad, low=1)
    with pytest.raises(ValueError, match=r"in \[2, 5\]"):
        validate.integer("k", 6, 2, 5)


def test_real_is_finite_and_in_range():
    assert validate.real("x", 2) == 2.0 and isinstance(validate.real("x", 2), float)
    for bad in (math.nan, math.inf, True, "1"):
        with pytest.raises(ValueError, match="x must be a finite number"):
            validate.real("x", bad)
    with pytest.raises(ValueError, match="x must be > 0"):
        validate.real("x", 0.0, positive=True)
    with pytest.raises(ValueError, match=r"x must be a number in \[0, 1\]"):
        validate.real("x", 1.5, 0, 1)


def test_seeds_fit_int64_and_numpy():
    assert validate.seed("seed", validate.MAX_SEED) == 2**63 - 1
    np.random.default_rng(validate.MAX_SEED)  # numpy takes the largest seed
    for bad in (-1, 2**63, 2**64, 1.5, True):
        with pytest.raises(ValueError, match="seed must be an integer in"):
            validate.seed("seed", bad)
    assert validate.optional_seed("s", None) is None


def test_boolean_and_one_of():
    assert validate.boolean("b", np.bool_(False)) is False
    for bad in (1, "false", None):
        with pytest.raises(ValueError, match="b must be a bool"):
            validate.boolean("b", bad)
    with pytest.raises(ValueError, match=r"c must be one of \('a', 'b'\), got 'z'"):
        validate.one_of("c", "z", ("a", "b"))


def test_flag_types():
    assert validate.flag_int("20000") == 20000 and validate.flag_int("2e4") == 20000
    assert validate.flag_float("1e-3") == 1e-3
    for parse, bad in ((validate.flag_int, "2.5"), (validate.flag_int, "many"), (validate.flag_int, "inf"),
                       (validate.flag_float, "nan"), (validate.flag_float, "x")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)
