"""Derived variables and population filters on the joined cohort (``derive:``, ``population:``).

:func:`declare` turns each derivation into a :class:`~prognosis.dictionary.ColumnSpec`, as if a
dictionary had declared it, so a derived variable can be a marker, covariate, stratum, subgroup,
Table 1 row or association factor like any column: ``map``/``cut`` give a categorical column with
the levels in the order written, ``expr`` a numeric one, or binary (0/1) for a comparison.
:func:`derive` computes them in order, one flow step each (no exclusion); :func:`filter_population`
applies each filter as a counted flow step. Both run after the join, before the complete-case
exclusions, so the patients a filter removes are never counted as "missing".
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis._cells import cell_text
from prognosis._suggest import did_you_mean
from prognosis.cohort.flow import FlowStep
from prognosis.dictionary import ColumnSpec
from prognosis.errors import PrognosisWarning, SpecError
from prognosis.spec.derive import Derivation
from prognosis.spec.expressions import Expression, Kind, evaluate, infer_kind

logger = logging.getLogger(__name__)

_KINDS: dict[str, Kind] = {"numeric": "number", "binary": "binary", "categorical": "text", "string": "text",
                           "date": "date"}


@dataclass(frozen=True)
class DerivedSource:
    """Where a derived variable comes from, in place of a table (its ``Variable.table`` is ``"derive"``)."""

    name: str = "derive"


SOURCE = DerivedSource()


class UndefinedValueWarning(PrognosisWarning):
    """An expression was undefined for some patients (x / 0, log of 0 or less, overflow): set missing."""


def kinds_of(columns: dict[str, ColumnSpec]) -> dict[str, Kind]:
    """The expression kind of each declared column."""
    return {name: _KINDS[spec.type] for name, spec in columns.items()}


def _key(expr_where: str) -> str:
    """``derive.age10.expr`` from ``spec.yaml: derive.age10.expr`` (the pipeline adds the file back)."""
    return expr_where.split(": ", 1)[-1]


def declare(derivations: tuple[Derivation, ...], columns: dict[str, ColumnSpec], *,
            key: str) -> dict[str, ColumnSpec]:
    """Check each derivation against the declared columns and the earlier derivations.

    Parameters
    ----------
    derivations : tuple of Derivation
        From the spec, in the order written.
    columns : dict
        The tables' declared columns (the join key excluded).
    key : str
        The join key, which no derivation may read (it identifies patients).

    Returns
    -------
    dict
        Name -> ColumnSpec of each derived variable.

    Raises
    ------
    SpecError
        A name already taken by a column, an unknown source (with a did-you-mean), a source of the
        wrong type, or an expression that is text or a date rather than a number or a condition.
    """
    known = dict(columns)
    declared: dict[str, ColumnSpec] = {}
    for d in derivations:
        where = f"derive.{d.name}"
        if d.name in known or d.name == key:
            raise SpecError(f"{where}: {d.name!r} is already a column of the tables; give the derived variable "
                            "another name")
        if key in d.reads:
            raise SpecError(f"{where}: reads {key!r}, the join key, which identifies patients")
        if d.form == "expr":
            kind = infer_kind(d.expression, kinds_of(known))   # type: ignore[arg-type]
            if kind not in ("number", "binary", "bool"):
                raise SpecError(f"{where}.expr: {d.expression.text!r} gives {kind}, not a number or a "  # type: ignore[union-attr]
                                "condition; to recode levels use {from: column, map: {...}}")
            spec = ColumnSpec(d.name, "numeric" if kind == "number" else "binary", label=d.label)
        else:
            if d.source not in known:
                raise SpecError(f"{where}.from: {d.source!r} is not a declared column or an earlier derived "
                                f"variable{did_you_mean(str(d.source), known)}")
            source = known[d.source]  # type: ignore[index]
            if d.form == "cut" and source.type != "numeric":
                raise SpecError(f"{where}.from: {d.source!r} is declared as {source.type}; `cut` groups a numeric "
                                "column (use `map` to merge levels)")
            if d.form == "map" and source.type == "date":
                raise SpecError(f"{where}.from: {d.source!r} is a date; derive a number from it with "
                                "expr: \"days_between(start, end)\" first")
            spec = ColumnSpec(d.name, "categorical", label=d.label, levels=d.levels)
        declared[d.name] = known[d.name] = spec
    return declared


def _as_text(values: pd.Series) -> list[str | None]:
    """Cells as text the way a map's codes are written (1.0 -> "1"), None where missing."""
    return [None if text is pd.NA else text for text in map(cell_text, values.astype(object))]


def _mapped(frame: pd.DataFrame, d: Derivation) -> pd.Categorical:
    codes = dict(d.mapping)
    texts = _as_text(frame[d.source])
    uncovered = pd.Series([t for t in texts if t is not None and t not in codes], dtype=object).value_counts()
    if len(uncovered):
        listed = ", ".join(f"{code!r} ({n} patient{'s' if n != 1 else ''})" for code, n in uncovered.head(10).items())
        raise SpecError(f"derive.{d.name}.map: {d.source!r} holds values the map does not cover: {listed}; map each "
                        "to a level, or to null to make it missing")
    return pd.Categorical([None if t is None else codes[t] for t in texts], categories=list(d.levels))


def _grouped(frame: pd.DataFrame, d: Derivation) -> pd.Categorical:
    values = frame[d.source].to_numpy(dtype=float)
    # side="right": a value equal to a cut point starts the next group, so cut: [4] gives [min, 4) and [4, max].
    index = np.searchsorted(np.asarray(d.cuts), values, side="right")
    codes = np.where(np.isnan(values), -1, index)
    return pd.Categorical.from_codes(codes, categories=list(d.levels))


def _warn_undefined(where: str, text: str, undefined: int) -> None:
    if undefined:
        warnings.warn(f"{where}: {text!r} is undefined for {undefined} patient{'s' if undefined != 1 else ''} "
                      "(division by zero, log or sqrt of a value out of range, or overflow); treated as missing",
                      UndefinedValueWarning, stacklevel=3)


def derive(frame: pd.DataFrame, derivations: tuple[Derivation, ...], columns: dict[str, ColumnSpec],
           flow: list[FlowStep]) -> pd.DataFrame:
    """Add each derived variable to ``frame`` in order, appending one flow step each.

    ``columns`` holds every declared column and the derived specs from :func:`declare`.
    """
    frame = frame.copy()
    kinds = kinds_of(columns)
    for d in derivations:
        if d.form == "map":
            frame[d.name] = _mapped(frame, d)
            how = f"{d.source} recoded to {', '.join(d.levels)}"
        elif d.form == "cut":
            frame[d.name] = _grouped(frame, d)
            how = f"{d.source} cut at {', '.join(f'{c:g}' for c in d.cuts)} into {', '.join(d.levels)}"
        else:
            result = evaluate(d.expression, frame, kinds)   # type: ignore[arg-type]
            _warn_undefined(f"derive.{d.name}", d.expression.text, result.undefined)  # type: ignore[union-attr]
            frame[d.name] = result.values
            how = f"{d.expression.text}{' (0/1)' if columns[d.name].type == 'binary' else ''}"  # type: ignore[union-attr]
        missing = int(frame[d.name].isna().sum())
        flow.append(FlowStep(f"derived {d.name}", len(frame), 0, len(frame),
                             f"{how}; missing for {missing} patient{'s' if missing != 1 else ''}"))
    return frame


def check_filters(filters: tuple[Expression, ...], columns: dict[str, ColumnSpec], *, key: str) -> None:
    """Each filter must read known columns (not the join key) and be a condition."""
    kinds = kinds_of(columns)
    for i, f in enumerate(filters):
        if key in f.names:
            raise SpecError(f"population[{i}]: reads {key!r}, the join key, which identifies patients")
        kind = infer_kind(f, kinds)
        if kind not in ("bool", "binary"):
            raise SpecError(f"{_key(f.where)}: {f.text!r} is not a condition; write a comparison such as "
                            "\"tsize <= 50\" or \"stage != 'IV'\"")


def filter_population(frame: pd.DataFrame, filters: tuple[Expression, ...], columns: dict[str, ColumnSpec],
                      flow: list[FlowStep]) -> pd.DataFrame:
    """Keep the patients for whom every filter is true, one counted flow step per filter.

    A patient for whom a filter is missing (a value it reads is missing) is excluded by that
    filter, and the step says how many were.
    """
    kinds = kinds_of(columns)
    for f in filters:
        result = evaluate(f, frame, kinds)
        _warn_undefined(_key(f.where), f.text, result.undefined)
        missing = np.isnan(result.values)
        keep = result.values == 1.0
        n_false = int((~keep & ~missing).sum())
        reason = f"not {f.text}: {n_false}"
        if missing.any():
            reason += f"; {int(missing.sum())} with {f.text} unknown (a value it reads is missing)"
        flow.append(FlowStep(f"population: {f.text}", len(frame), int((~keep).sum()), int(keep.sum()), reason))
        frame = frame.loc[keep]
    return frame
