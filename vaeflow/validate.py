"""Checks for numbers that arrive from users, files and flags: one place, one wording.

Every config record (`FlowSpec`, `ModelConfig`, `TrainConfig`), the dataset functions and the
CLI call these, so "a number but not a bool", "an integer" and "a seed" mean the same
everywhere. Each raises `ValueError` naming the field (``name``) and the value it got.

>>> integer("TrainConfig.epochs", 3.0, low=1)
3
>>> seed("seed", -1)
Traceback (most recent call last):
...
ValueError: seed must be an integer in [0, 9223372036854775807], got -1
"""

from __future__ import annotations

import argparse
import math
import numbers
from typing import Any, Sequence

import numpy as np

# Seeds are stored in JSON, shown in Arrow tables (int64) and handed to numpy's SeedSequence;
# a non-negative int64 fits all three.
MAX_SEED = 2**63 - 1


def is_number(value: Any) -> bool:
    """True for a real number (Python or numpy int/float), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int, if it is an integral number (``3`` or ``3.0``) in [low, high].

    Raises:
        ValueError: ``"<name> must be an integer[ in [low, high]], got <value>"``.
    """
    ok = is_number(value) and math.isfinite(value) and int(value) == value
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range_text(low, high)}, got {value!r}")
    return int(value)


def real(name: str, value: Any, low: float | None = None, high: float | None = None, *,
         positive: bool = False) -> float:
    """`value` as a float, if it is a finite number in [low, high] (and > 0 when `positive`).

    Raises:
        ValueError: ``"<name> must be a finite number…, got <value>"`` or ``"<name> must be > 0…"``.
    """
    if not is_number(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be a number{_range_text(low, high)}, got {value!r}")
    return float(value)


def seed(name: str, value: Any) -> int:
    """A seed: an integer in [0, `MAX_SEED`]."""
    return integer(name, value, 0, MAX_SEED)


def optional_seed(name: str, value: Any) -> int | None:
    """None, or a seed (see `seed`)."""
    return None if value is None else seed(name, value)


def boolean(name: str, value: Any) -> bool:
    """`value` if it is a bool (numpy's too); ``1`` or ``"yes"`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def one_of(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------- CLI types
# argparse `type=` callables: a bad value becomes argparse's one-line usage error (exit 2).


def flag_int(text: str) -> int:
    """An integer flag; ``20000`` and ``2e4`` both give 20000, ``2.5`` is refused."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(value)


def flag_float(text: str) -> float:
    """A finite float flag (``inf`` and ``nan`` are refused here, with the flag's name)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
