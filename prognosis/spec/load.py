"""The analysis spec (``analyses/*.yaml``): load, check keys, resolve paths.

Relative paths resolve against the spec file's folder. Unknown keys are errors with a
did-you-mean hint, so a typo never silently changes an analysis. Column names are checked
against the data dictionaries later, by :func:`prognosis.cohort.assemble_cohort`, once the
tables are known.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prognosis._paths import SYMLINK_LOOP, resolve
from prognosis._yaml import read_yaml
from prognosis.spec.derive import Derivation, parse_derive, parse_population
from prognosis.spec.expressions import Expression
from prognosis.spec.options import OPTION_KEYS, AnalysisOptions, parse_options
from prognosis.spec.reader import SpecReader, TimeUnit, VariableSpec
from prognosis.errors import SpecError

logger = logging.getLogger(__name__)

DAYS_PER_UNIT: dict[str, float] = {"days": 1.0, "months": 365.25 / 12.0, "years": 365.25}

_TOP_KEYS = ("title", "description", "tables", "join", "endpoint", "marker", "covariates", "km", "derive",
             "population", *OPTION_KEYS)
_TABLE_KEYS = ("name", "path", "dictionary")
_ENDPOINT_KEYS = ("time", "event", "unit", "horizon")
_TIME_KEYS = ("column", "start", "end", "unit")
_KM_KEYS = ("by", "times", "strata", "conf_type", "weights")
_WEIGHT_KEYS = ("rho", "gamma")
MAX_WEIGHT = 10.0
"""Largest Fleming–Harrington exponent; beyond it S(t)^rho underflows and the test is meaningless."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    path: Path
    dictionary: Path


@dataclass(frozen=True)
class TimeSpec:
    """Follow-up time: one column in ``unit``, or a start and an end date."""

    column: str | None = None
    start: str | None = None
    end: str | None = None
    unit: TimeUnit = "days"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column else (self.start, self.end)  # type: ignore[return-value]


@dataclass(frozen=True)
class EndpointSpec:
    time: TimeSpec
    event: str
    unit: TimeUnit = "years"
    horizon: float | None = None


@dataclass(frozen=True)
class KMSpec:
    by: str
    times: tuple[float, ...] = ()
    strata: tuple[str, ...] = ()
    conf_type: str = "log-log"
    weights: tuple[float, float] | None = None
    """Fleming–Harrington (rho, gamma) weights S(t-)^rho (1 - S(t-))^gamma for a weighted log-rank test."""


@dataclass(frozen=True)
class AnalysisSpec:
    """A checked analysis spec. ``raw`` keeps the YAML as written, for provenance."""

    title: str
    tables: tuple[TableSpec, ...]
    join: str
    endpoint: EndpointSpec
    marker: VariableSpec
    covariates: tuple[VariableSpec, ...]
    km: KMSpec
    path: Path | None = None
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    derive: tuple[Derivation, ...] = ()
    """Derived variables (``derive:``), in the order they are computed."""
    population: tuple[Expression, ...] = ()
    """Population filters (``population:``): a patient stays if every one is true."""

    @property
    def name(self) -> str:
        """The spec's name: its file name without extension (``demo`` for ``analyses/demo.yaml``)."""
        return self.path.stem if self.path else "analysis"

    @property
    def model_variables(self) -> tuple[VariableSpec, ...]:
        return (self.marker, *self.covariates)


def _resolve(r: SpecReader, base: Path, value: str, where: str) -> Path:
    if "\x00" in value:  # the OS refuses it later with a bare ValueError
        raise r.fail(where, "a path cannot contain a NUL character")
    try:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path).resolve()
    except RuntimeError:  # Python < 3.13 reports a symlink loop as RuntimeError("Symlink loop from ...")
        raise r.fail(where, f"the path {value!r}: {SYMLINK_LOOP}") from None
    except (OSError, ValueError) as exc:  # e.g. ~user that does not exist
        raise r.fail(where, f"the path {value!r} cannot be resolved ({exc})") from None


def _weights(r: SpecReader, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    raw = r.mapping(value, "km.weights", _WEIGHT_KEYS)
    rho, gamma = (r.number(raw.get(k, 0), f"km.weights.{k}", positive=False, maximum=MAX_WEIGHT)
                  for k in _WEIGHT_KEYS)
    if rho < 0 or gamma < 0:
        raise r.fail("km.weights", "rho and gamma must be >= 0")
    return rho, gamma


def parse_spec(raw: Any, *, path: Path | None = None) -> AnalysisSpec:
    """Check a spec already read from YAML; see :func:`load_spec`."""
    r = SpecReader(path.name if path else "spec")
    base = path.parent if path else Path.cwd()
    top = r.mapping(raw, "", _TOP_KEYS)
    for key in ("tables", "join", "endpoint", "marker"):
        if key not in top:
            raise r.fail("", f"`{key}` is required")

    if not isinstance(top["tables"], list) or not top["tables"]:
        raise r.fail("tables", "expected a list of {name, path, dictionary}")
    tables = []
    for i, item in enumerate(top["tables"]):
        where = f"tables[{i}]"
        item = r.mapping(item, where, _TABLE_KEYS)
        for key in _TABLE_KEYS:
            if key not in item:
                raise r.fail(where, f"`{key}` is required")
        tables.append(TableSpec(r.text(item["name"], f"{where}.name"),
                                _resolve(r, base, r.text(item["path"], f"{where}.path"), f"{where}.path"),
                                _resolve(r, base, r.text(item["dictionary"], f"{where}.dictionary"),
                                         f"{where}.dictionary")))
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise r.fail("tables", "table names must be unique")

    endpoint = r.mapping(top["endpoint"], "endpoint", _ENDPOINT_KEYS)
    for key in ("time", "event"):
        if key not in endpoint:
            raise r.fail("endpoint", f"`{key}` is required")
    time = r.mapping(endpoint["time"], "endpoint.time", _TIME_KEYS)
    if ("column" in time) == ("start" in time or "end" in time) or (("start" in time) != ("end" in time)):
        raise r.fail("endpoint.time", "give either `column` (with `unit`) or both `start` and `end` dates")
    time_columns = {k: r.text(time[k], f"endpoint.time.{k}") for k in ("column", "start", "end") if k in time}
    time_spec = TimeSpec(**time_columns, unit=r.unit(time.get("unit", "days"), "endpoint.time.unit"))
    unit = r.unit(endpoint.get("unit", "years"), "endpoint.unit")
    horizon = endpoint.get("horizon")
    endpoint_spec = EndpointSpec(
        time=time_spec, event=r.text(endpoint["event"], "endpoint.event"), unit=unit,
        horizon=None if horizon is None else r.number(horizon, "endpoint.horizon"),
    )

    marker = r.variable(top["marker"], "marker")
    covariates_raw = top.get("covariates") or []
    if not isinstance(covariates_raw, list):
        raise r.fail("covariates", "expected a list of column names or {name, reference}")
    covariates = tuple(r.variable(c, f"covariates[{i}]") for i, c in enumerate(covariates_raw))
    seen = [marker.name, *(c.name for c in covariates)]
    if len(set(seen)) != len(seen):
        raise r.fail("covariates", "a variable is listed twice (the marker is not repeated among covariates)")

    km_raw = r.mapping(top.get("km") or {}, "km", _KM_KEYS)
    km = KMSpec(
        by=r.text(km_raw.get("by", marker.name), "km.by"),
        times=r.numbers(km_raw.get("times", []), "km.times"),
        strata=r.names(km_raw.get("strata", []), "km.strata"),
        conf_type=r.choice(km_raw.get("conf_type", "log-log"), "km.conf_type", ("log-log", "log", "plain")),
        weights=_weights(r, km_raw.get("weights")),
    )
    join = r.text(top["join"], "join")
    title = top.get("title") or (path.stem if path else "Analysis")
    if isinstance(title, (list, dict)):
        raise r.fail("title", "expected text (quote it if it contains `: ` or starts with `[` or `{`)")
    description = top.get("description")
    if isinstance(description, (list, dict)):
        raise r.fail("description", "expected text")
    return AnalysisSpec(
        title=str(title), tables=tuple(tables), join=join, endpoint=endpoint_spec, marker=marker,
        covariates=covariates, km=km, path=path, description=None if description is None else str(description),
        raw=dict(top),
        options=parse_options(r, top),
        derive=parse_derive(r, top.get("derive")),
        population=parse_population(r, top.get("population")),
    )


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and check an analysis spec.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative table and dictionary paths resolve against its folder.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    SpecError
        The file is missing or malformed; the message names the file and the key.
    """
    path = resolve(path, error=SpecError, what="analysis spec")
    return parse_spec(read_yaml(path, error=SpecError, what="analysis spec"), path=path)
