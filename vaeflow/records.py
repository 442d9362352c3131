"""`JsonRecord`: the JSON round trip shared by the frozen config records (FlowSpec, ModelConfig,
TrainConfig). Tuples become lists on the way out; unknown keys are a `ValueError` naming them
on the way in, and the record's own validation runs as it is built."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

R = TypeVar("R", bound="JsonRecord")


class JsonRecord:
    """Mixin for a dataclass whose fields are JSON values (tuples stored as lists)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[R], d: dict[str, Any]) -> R:
        """Inverse of `to_dict`; a non-object or unknown keys are a `ValueError` naming them."""
        if not isinstance(d, dict):
            raise ValueError(f"{cls.__name__} must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}")
        return cls(**d)

    @classmethod
    def from_json(cls: type[R], text: str) -> R:
        return cls.from_dict(json.loads(text))
