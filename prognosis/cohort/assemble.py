"""Join validated tables into one cohort, derive time and event, and count every exclusion.

Accounting: the patients read are the union of the join key over all tables. Each step of the
flow excludes patients for one stated reason (absent from a table, a needed value missing), so
``n`` plus all exclusions equals the patients read. Bad values that are not a reason to exclude
(follow-up <= 0, an end date before its start date, an event not 0/1) are errors naming file,
row and column: they need fixing, not dropping.

Columns are addressed by name or position only, never through pandas' label-or-level lookup, so a
column may be called anything (``row``, ``index``, ``größe``) except the cohort's own ``_time``,
``_event``, ``_beyond_horizon`` and ``_row:<table>``. Dates and the join key are refused wherever
a section would print or summarise them. A table with no data row, and a cohort left with no
patient or no event, are errors that say which table or which step emptied it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._suggest import did_you_mean
from prognosis.cohort import derived
from prognosis.cohort.flow import FlowStep, check_flow_balances
from prognosis.cohort.join import ROW_PREFIX, join_tables
from prognosis.cohort.readers import Table
from prognosis.cohort.variable import Variable
from prognosis.dictionary import ColumnSpec
from prognosis.errors import DataValidationError, ModelError, SpecError, Violation
from prognosis.spec import DAYS_PER_UNIT, EndpointSpec, VariableSpec
from prognosis.spec.derive import Derivation
from prognosis.spec.expressions import Expression

logger = logging.getLogger(__name__)

TIME = "_time"
EVENT = "_event"
#: True where follow-up was cut at the horizon: whatever happened later is censored.
BEYOND_HORIZON = "_beyond_horizon"

#: Spec keys whose columns the report shows level by level or summarises: a date there would
#: print patients' dates (or their nanosecond counts), and a free-text column their identifiers.
_SUMMARISED = ("table1", "associations", "subgroups", "strata", "km.strata")
_DERIVE = ("derive a number from it (e.g. age at diagnosis, or years since diagnosis) and declare that "
           "numeric, or a period (e.g. year of diagnosis) and declare it categorical")


def _check_not_reserved(tables: list[Table]) -> None:
    """Columns the cohort adds itself cannot also come from a table (they would be overwritten)."""
    reserved = {TIME, EVENT, BEYOND_HORIZON}
    for table in tables:
        for column in table.data.columns:
            if column in reserved or str(column).startswith(ROW_PREFIX):
                raise SpecError(
                    f"table {table.name!r} ({Path(table.path).name}) has a column {column!r}, a name prognosis "
                    f"uses for the cohort's own columns ({', '.join(sorted(reserved))}, {ROW_PREFIX}<table>); "
                    "rename it in the table and its dictionary")


@dataclass(frozen=True)
class Cohort:
    """One row per analysed patient.

    ``data`` holds the key, every table's columns, ``_time`` (in ``unit``) and ``_event`` (0/1).
    ``flow`` lists the steps from the patients read to ``n``.
    """

    data: pd.DataFrame
    key: str
    flow: tuple[FlowStep, ...]
    unit: str
    n_read: int
    variables: dict[str, Variable]
    columns: dict[str, ColumnSpec]
    eligible: pd.DataFrame | None = None
    """Patients with known follow-up and event, before the complete-case exclusions (for imputation)."""

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def events(self) -> int:
        return int(self.data[EVENT].sum())

    @property
    def time(self) -> np.ndarray:
        return self.data[TIME].to_numpy(dtype=float)

    @property
    def event(self) -> np.ndarray:
        return self.data[EVENT].to_numpy(dtype=float)


def _locate(tables: list[Table], key: str) -> dict[str, tuple[Table, ColumnSpec]]:
    """Map each non-key column to the one table that declares it."""
    owners: dict[str, list[Table]] = {}
    for table in tables:
        if key not in table.data.columns:
            raise SpecError(
                f"join key {key!r} is not a column of table {table.name!r} ({Path(table.path).name})"
                f"{did_you_mean(key, table.data.columns)}"
            )
        for column in table.data.columns:
            if column != key:
                owners.setdefault(column, []).append(table)
    clashes = {c: [t.name for t in ts] for c, ts in owners.items() if len(ts) > 1}
    if clashes:
        listed = "; ".join(f"{c!r} in {', '.join(ts)}" for c, ts in clashes.items())
        raise SpecError(f"columns appear in more than one table, so the join is ambiguous: {listed}. Rename them.")
    return {c: (ts[0], ts[0].dictionary.columns.get(c) or ColumnSpec(c, "string")) for c, ts in owners.items()}


def _needed(where: str, name: str, located: dict[str, tuple[Table, ColumnSpec]], *,
            declared: bool = True) -> tuple[Table, ColumnSpec]:
    if name not in located:
        raise SpecError(
            f"{where}: {name!r} is not a column declared in any table{did_you_mean(name, located)}"
        )
    table, spec = located[name]
    # kept by allow_extra: true, never declared (a derived variable is declared by its derive: entry)
    if declared and isinstance(table, Table) and name not in table.dictionary.columns:
        raise SpecError(
            f"{where}: column {name!r} is in table {table.name!r} but not declared in its dictionary "
            f"{table.dictionary.source}: add it under columns: with its type"
        )
    return table, spec


def _variable(where: str, var: VariableSpec, located: dict[str, tuple[Table, ColumnSpec]], *,
              model: bool = True) -> Variable:
    role = where.split("[")[0]
    # `associations.adjust_for` and the like are shown (or modelled) as their section is.
    summarised = any(role == key or role.startswith(key + ".") for key in _SUMMARISED)
    table, spec = _needed(where, var.name, located, declared=model or summarised)
    if spec.type == "date" and (model or summarised):
        raise SpecError(f"{where}: {var.name!r} is declared as date, and a date cannot be {_role_words(role)} "
                        f"without printing patients' dates; {_DERIVE}")
    if spec.type == "string" and role in ("table1", "associations"):
        raise SpecError(f"{where}: {var.name!r} is declared as string (free text or an identifier), which "
                        f"cannot be {_ROLE_WORDS[role]}; declare it categorical with its levels, or numeric")
    if not model:  # grouping columns (cluster ids, competing causes) may be of any type
        return Variable(var.name, spec, table.name, spec.category_levels[0] if spec.category_levels else None)
    if spec.type not in ("numeric", "categorical", "binary"):
        raise SpecError(f"{where}: {var.name!r} is declared as {spec.type}; a model variable must be numeric, binary or categorical")
    levels = spec.category_levels
    if var.reference is not None and spec.type == "numeric":
        raise SpecError(f"{where}: {var.name!r} is numeric, so it takes no reference level")
    if var.reference is not None and var.reference not in levels:
        raise SpecError(
            f"{where}: reference {var.reference!r} is not a level of {var.name!r} "
            f"({', '.join(levels)}){did_you_mean(var.reference, levels)}"
        )
    reference = var.reference if var.reference is not None else (levels[0] if levels else None)
    return Variable(var.name, spec, table.name, reference)


_ROLE_WORDS = {"table1": "summarised in Table 1", "associations": "a factor of the associations",
               "subgroups": "a subgroup", "strata": "a stratum", "km.strata": "a stratum", "marker": "the marker",
               "covariates": "a covariate", "km.by": "a Kaplan–Meier grouping", "interactions": "a model term"}


def _role_words(role: str) -> str:
    return _ROLE_WORDS.get(role) or _ROLE_WORDS.get(role.split(".")[0], "used there")


def _check_not_key(join: str, names: dict[str, str]) -> None:
    """The join key identifies patients: no section may summarise, group or model by it."""
    for name, where in names.items():
        if name == join:
            role = where.split("[")[0]
            raise SpecError(f"{where}: {name!r} is the join key, which identifies patients; it cannot be "
                            f"{_role_words(role)}")


def _as_written(value: object) -> str:
    """A typed cell back as a person would have typed it (0 not 0.0, a date without 00:00:00)."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bad_rows(joined: pd.DataFrame, mask: pd.Series, table: Table, column: str, rule: str) -> list[Violation]:
    rows = joined.loc[mask, ROW_PREFIX + table.name].astype(int)
    values = joined.loc[mask, column]
    return [Violation(table.path, int(r), column, _as_written(v), rule) for r, v in zip(rows, values)]


def _derive_time(joined: pd.DataFrame, endpoint: EndpointSpec, located: dict) -> tuple[pd.Series, list[Violation]]:
    """Follow-up in days, and the violations: values <= 0 or an end before its start."""
    time = endpoint.time
    if time.column:
        table, spec = _needed("endpoint.time.column", time.column, located)
        if spec.type != "numeric":
            raise SpecError(f"endpoint.time.column: {time.column!r} is declared as {spec.type}, not numeric")
        days = joined[time.column].astype(float) * DAYS_PER_UNIT[time.unit]
        bad = _bad_rows(joined, days <= 0, table, time.column, "is zero or negative follow-up; follow-up must be > 0")
    else:
        (_, start_spec), (end_table, end_spec) = (
            _needed("endpoint.time.start", time.start, located), _needed("endpoint.time.end", time.end, located))
        for name, spec in ((time.start, start_spec), (time.end, end_spec)):
            if spec.type != "date":
                raise SpecError(f"endpoint.time: {name!r} is declared as {spec.type}, not date")
        delta = joined[time.end] - joined[time.start]
        days = delta.dt.days.astype(float)
        bad = _bad_rows(joined, days < 0, end_table, time.end, f"is before {time.start} (end date before start date)")
        bad += _bad_rows(joined, days == 0, end_table, time.end, f"equals {time.start}: zero follow-up; follow-up must be > 0")
    return days, bad


def _derive_event(joined: pd.DataFrame, endpoint: EndpointSpec, located: dict) -> tuple[pd.Series, list[Violation]]:
    table, spec = _needed("endpoint.event", endpoint.event, located)
    if spec.type not in ("binary", "numeric"):
        raise SpecError(f"endpoint.event: {endpoint.event!r} is declared as {spec.type}; declare it binary (0/1)")
    event = joined[endpoint.event].astype(float)
    bad = _bad_rows(joined, event.notna() & ~event.isin([0.0, 1.0]), table, endpoint.event, "is not 0 or 1 (the event indicator)")
    return event, bad


def _exclude_missing(frame: pd.DataFrame, column: str, step: str, reason: str, flow: list[FlowStep]) -> pd.DataFrame:
    missing = frame[column].isna()
    flow.append(FlowStep(step, len(frame), int(missing.sum()), int((~missing).sum()), reason))
    return frame.loc[~missing]


def assemble_cohort(
    tables: list[Table],
    join: str,
    endpoint: EndpointSpec,
    variables: tuple[VariableSpec, ...] = (),
    *,
    extra: tuple[str, ...] = (),
    required: dict[str, str] | None = None,
    optional: dict[str, str] | None = None,
    derive: tuple[Derivation, ...] = (),
    population: tuple[Expression, ...] = (),
) -> Cohort:
    """Join tables on a key and derive the survival endpoint, counting every exclusion.

    Parameters
    ----------
    tables : list of Table
        Validated tables (see :func:`prognosis.cohort.read_table`).
    join : str
        The key column, present in every table; the join is inner.
    endpoint : EndpointSpec
        Time (a column in a unit, or start and end dates), event column, analysis unit and
        optional horizon for administrative censoring.
    variables : tuple of VariableSpec
        Model variables (marker first, then covariates); patients missing any are excluded,
        one flow step per variable (complete-case analysis).
    extra : tuple of str
        Further model columns that must exist and be complete (e.g. the KM grouping).
    required : dict, optional
        Further columns, mapped to the spec key that names them, that must be complete
        (strata, cluster); they may be of any declared type.
    optional : dict, optional
        Columns, mapped to the spec key that names them, that must exist but may be missing
        (subgroups, associations, competing causes): no patient is excluded for them.
    derive : tuple of Derivation
        Derived variables, computed in order after the join; each may be used like a column.
    population : tuple of Expression
        Filters applied after the derivations and before the complete-case exclusions, one
        counted flow step each; a patient for whom a filter is missing is excluded by it.

    Returns
    -------
    Cohort

    Raises
    ------
    SpecError
        A named column is not declared, has the wrong type, or a reference level does not exist.
    DataValidationError
        Follow-up <= 0, an end date before its start date, or an event not 0/1, with every
        offending file, row and column.
    """
    _check_not_reserved(tables)
    _check_not_key(join, {**{v.name: ("marker" if i == 0 else f"covariates[{i - 1}]") for i, v in enumerate(variables)},
                          **{name: "km.by" for name in extra}, **(required or {}), **(optional or {})})
    in_tables = _locate(tables, join)
    columns = {c: spec for c, (_, spec) in in_tables.items()}
    declared = derived.declare(derive, columns, key=join)
    columns.update(declared)
    derived.check_filters(population, columns, key=join)
    located = {**in_tables, **{name: (derived.SOURCE, spec) for name, spec in declared.items()}}
    model_vars = {v.name: _variable("marker" if i == 0 else f"covariates[{i - 1}]", v, located)
                  for i, v in enumerate(variables)}
    for name in extra:
        if name not in model_vars:
            model_vars[name] = _variable("km.by", VariableSpec(name), located)
    for name, where in (required or {}).items():
        if name not in model_vars:
            model_vars[name] = _variable(where, VariableSpec(name), located, model=False)
    kept = {name: _variable(where, VariableSpec(name), located, model=False)
            for name, where in (optional or {}).items() if name not in model_vars}
    joined, flow, n_read = join_tables(tables, join)
    days, bad_time = _derive_time(joined, endpoint, in_tables)   # the endpoint comes from the tables
    event, bad_event = _derive_event(joined, endpoint, in_tables)
    if bad_time or bad_event:
        raise DataValidationError(sorted(bad_time + bad_event, key=lambda v: (v.path, v.row or 0)))
    joined[TIME] = days / DAYS_PER_UNIT[endpoint.unit]
    joined[EVENT] = event

    joined = derived.derive(joined, derive, columns, flow)
    filtered = derived.filter_population(joined, population, columns, flow)
    cohort = _exclude_missing(filtered, TIME, "follow-up time known", "follow-up time missing", flow)
    cohort = _exclude_missing(cohort, EVENT, "event status known", f"{endpoint.event} missing", flow)
    eligible = cohort
    for name, var in model_vars.items():
        cohort = _exclude_missing(cohort, name, f"{name} known", f"{var.label} missing (complete-case analysis)", flow)

    cohort_before_horizon = cohort
    if endpoint.horizon is not None:
        beyond = cohort[TIME] > endpoint.horizon
        n_events_censored = int((beyond & (cohort[EVENT] == 1)).sum())
        cohort = _censor_at(cohort, endpoint.horizon)
        eligible = _censor_at(eligible, endpoint.horizon)
        flow.append(FlowStep(
            f"administrative censoring at {endpoint.horizon:g} {endpoint.unit}", len(cohort), 0, len(cohort),
            f"{int(beyond.sum())} followed beyond the horizon censored there ({n_events_censored} of their events not counted)",
        ))
    cohort = cohort.reset_index(drop=True)
    check_flow_balances(tuple(flow), n_read, len(cohort))
    _check_analysable(cohort, flow, endpoint, n_events_read=int((joined[EVENT] == 1).sum()),
                      n_events_eligible=int((cohort_before_horizon[EVENT] == 1).sum()))
    logger.info("cohort: %d of %d patients, %d events", len(cohort), n_read, int(cohort[EVENT].sum()))
    return Cohort(cohort, join, tuple(flow), endpoint.unit, n_read, {**model_vars, **kept}, columns,
                  eligible.reset_index(drop=True))


def _check_analysable(cohort: pd.DataFrame, flow: list[FlowStep], endpoint: EndpointSpec, *,
                      n_events_read: int, n_events_eligible: int) -> None:
    """No patient or no event left: say which step took them, not only that they are gone."""
    if len(cohort) == 0:
        emptied = next((step for step in flow if step.n_after == 0), flow[0])
        if emptied.step == "patients read":
            raise ModelError("no patient to analyse: the tables hold no patient at all")
        raise ModelError(f"no patient to analyse: all {emptied.n_before} remaining were excluded at the step "
                         f"'{emptied.step}' ({emptied.reason})")
    if cohort[EVENT].sum() == 0:
        said = [f"{n_events_read} event{'s' if n_events_read != 1 else ''} ({endpoint.event} = 1) in the joined tables"]
        if n_events_read > n_events_eligible:
            lost = n_events_read - n_events_eligible
            said.append(f"{lost} in patients excluded by the flow (missing follow-up, event or a model variable)")
        if n_events_eligible:
            said.append(f"{n_events_eligible} after the horizon of {endpoint.horizon:g} {endpoint.unit}, "
                        "so censored there")
        raise ModelError(f"the analysed cohort of {len(cohort)} patients has no events, so no survival model can "
                         f"be estimated: {'; '.join(said)}")


def _censor_at(frame: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Administrative censoring: events after ``horizon`` do not count, time stops there."""
    beyond = frame[TIME] > horizon
    return frame.assign(**{EVENT: frame[EVENT].where(~beyond, 0.0), TIME: frame[TIME].clip(upper=horizon),
                           BEYOND_HORIZON: beyond})


def row_of(cohort: Cohort, table: str) -> pd.Series:
    """Source row numbers (spreadsheet style) of the cohort's patients in ``table``."""
    return cohort.data[ROW_PREFIX + table]
