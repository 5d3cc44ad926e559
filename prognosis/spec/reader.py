"""Reading one analysis spec: typed accessors that name the spec file and key in every error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from prognosis._numbers import is_finite
from prognosis._suggest import did_you_mean
from prognosis.errors import SpecError

TimeUnit = Literal["days", "months", "years"]
TIME_UNITS: tuple[str, ...] = ("days", "months", "years")
_VARIABLE_KEYS = ("name", "reference")
MAX_TIMES = 50
"""Most times a spec may list (``km.times``, ``validation.times``)."""


@dataclass(frozen=True)
class VariableSpec:
    """A model variable; ``reference`` None means the first level in its dictionary."""

    name: str
    reference: str | None = None


class SpecReader:
    """Reads one mapping of the spec, naming the spec file and key path in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping with keys {', '.join(allowed)}")
        for key in value:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                raise self.fail(where, f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected a non-empty name")
        return value

    def unit(self, value: Any, where: str) -> TimeUnit:
        if value not in TIME_UNITS:
            raise self.fail(where, f"unit {value!r} is not one of {', '.join(TIME_UNITS)}{did_you_mean(str(value), TIME_UNITS)}")
        return value

    def number(self, value: Any, where: str, *, positive: bool = True, maximum: float | None = None) -> float:
        """A finite number (> 0 unless ``positive=False``, <= ``maximum`` if given).

        YAML reads ``.inf`` and ``.nan`` as floats; they are refused here, by key, before any work
        starts (a ``.nan`` validation time used to fail only after the whole analysis had run).
        """
        kind = f"{'positive ' if positive else ''}number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a {kind}, got {value!r}")
        if not is_finite(value):
            raise self.fail(where, f"expected a finite {kind}, got {value!r}")
        if (positive and value <= 0) or (maximum is not None and value > maximum):
            limit = f" at most {maximum:g}" if maximum is not None else ""
            raise self.fail(where, f"expected a {kind}{limit}, got {value!r}")
        return float(value)

    def variable(self, value: Any, where: str) -> VariableSpec:
        if isinstance(value, str):
            return VariableSpec(self.text(value, where))
        value = self.mapping(value, where, _VARIABLE_KEYS)
        if "name" not in value:
            raise self.fail(where, "a variable needs `name`")
        reference = value.get("reference")
        if isinstance(reference, bool):  # YAML reads a bare no/yes as a boolean
            raise self.fail(where, f"reference {reference!r} was read as a boolean; quote it, e.g. reference: \"no\"")
        return VariableSpec(self.text(value["name"], f"{where}.name"), None if reference is None else str(reference))

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}")
        return value

    def integer(self, value: Any, where: str, *, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole number in [``minimum``, ``maximum``]; the maximum bounds the work a spec can ask for."""
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(where, f"expected a whole number >= {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"{value:,} is more than the maximum, {maximum:,}")
        return value

    def numbers(self, value: Any, where: str, *, maximum_count: int = MAX_TIMES) -> tuple[float, ...]:
        """A list of positive finite numbers, e.g. times in the endpoint unit; sorted, at most ``maximum_count``."""
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of times in the endpoint unit")
        if len(value) > maximum_count:
            raise self.fail(where, f"{len(value):,} times is more than the maximum, {maximum_count}")
        times = tuple(self.number(t, f"{where}[{i}]") for i, t in enumerate(value))
        if len(set(times)) != len(times):
            raise self.fail(where, "a time is listed twice")
        return tuple(sorted(times))

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        """A list of column names (a single name is accepted as a list of one)."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of column names")
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(value))

    def choice(self, value: Any, where: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}{did_you_mean(str(value), allowed)}")
        return value
