"""Table 1: patient characteristics overall and by a grouping variable (e.g. the marker).

Categorical variables give n (%) per level, the percentages of the patients with a value (missing
excluded, as R ``tableone``). Numeric variables give median (Q1, Q3) and mean (SD): quartiles by
linear interpolation (R ``quantile`` type 7, numpy's default), SD with n - 1.

The standardised mean difference (SMD) between two groups is, for a numeric variable,
``|m1 - m2| / sqrt((s1^2 + s2^2) / 2)``; for a categorical one, the multivariate SMD of Yang &
Dalton (2012): with ``p1``, ``p2`` the level proportions without the first level,
``T = p1 - p2``, ``S = (V1 + V2) / 2`` and ``V = diag(p) - p p'``, SMD = ``sqrt(T' S^+ T)`` with
the Moore-Penrose inverse ``S^+`` (``MASS::ginv`` in ``tableone``). For two levels it reduces to
``|p1 - p2| / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2)``. With more than two groups the SMD is the
mean over all pairs of groups, as ``tableone`` prints it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prognosis.cohort.variable import Variable
from prognosis.errors import ModelError
from prognosis.stats.design import level_labels

logger = logging.getLogger(__name__)

OVERALL = "overall"
#: Declared types Table 1 can summarise without printing any patient's own value.
SUMMARISED_TYPES = ("numeric", "binary", "categorical")


@dataclass(frozen=True)
class TableOneRow:
    """One line of Table 1.

    ``cells`` maps ``"overall"`` and each group to the text shown; ``numbers`` maps the same keys
    to the raw figures (``count``/``percent``/``n`` for a level; ``n``/``median``/``q1``/``q3``
    or ``n``/``mean``/``sd`` for a numeric summary). ``missing`` (total over all patients) and
    ``smd`` are the variable's and repeat on each of its rows.
    """

    variable: str
    level: str | None
    label: str
    statistic: str
    cells: dict[str, str]
    numbers: dict[str, dict[str, float | int | None]]
    missing: int
    missing_by_group: dict[str, int]
    smd: float | None

    def to_dict(self) -> dict:
        # Each group's cell sits beside the row's own fields (as before) and, complete, under
        # "cells": a group level named like a field (`missing`, `label`) cannot overwrite it.
        fields = {"variable": self.variable, "level": self.level, "label": self.label, "statistic": self.statistic,
                  "missing": self.missing, "missing_by_group": dict(self.missing_by_group), "smd": self.smd,
                  "numbers": {k: dict(v) for k, v in self.numbers.items()}, "cells": dict(self.cells)}
        return {**self.cells, **fields}


@dataclass(frozen=True)
class TableOne:
    """Table 1 by ``by``: ``groups`` in declared order, ``n`` per group and overall."""

    by: str
    groups: tuple[str, ...]
    n: dict[str, int]
    by_missing: int
    rows: tuple[TableOneRow, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"by": self.by, "groups": list(self.groups), "n": dict(self.n), "by_missing": self.by_missing,
                "rows": [row.to_dict() for row in self.rows]}

    def to_frame(self) -> pd.DataFrame:
        """Tidy text table: variable, level, label, statistic, overall, one column per group, missing, smd."""
        return pd.DataFrame([{"variable": r.variable, "level": r.level, "label": r.label, "statistic": r.statistic,
                              **r.cells, "missing": r.missing, "smd": r.smd} for r in self.rows],
                            columns=["variable", "level", "label", "statistic", OVERALL, *self.groups, "missing", "smd"])


def smd_numeric(x1: np.ndarray, x2: np.ndarray) -> float | None:
    """``|m1 - m2| / sqrt((s1^2 + s2^2) / 2)``, SDs with n - 1; 0 when both groups are one constant."""
    x1, x2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    if x1.size < 2 or x2.size < 2:
        return None
    difference = abs(x1.mean() - x2.mean())
    pooled = (x1.var(ddof=1) + x2.var(ddof=1)) / 2
    if pooled == 0:
        return 0.0 if difference == 0 else None
    return float(difference / math.sqrt(pooled))


def smd_categorical(p1: np.ndarray, p2: np.ndarray) -> float | None:
    """Yang & Dalton (2012) SMD from two vectors of level proportions (all levels, first included)."""
    t = np.asarray(p1, dtype=float)[1:] - np.asarray(p2, dtype=float)[1:]
    covariances = [np.diag(p) - np.outer(p, p) for p in (np.asarray(p1, float)[1:], np.asarray(p2, float)[1:])]
    pooled = (covariances[0] + covariances[1]) / 2
    if not np.any(pooled):
        # tableone: a zero covariance gives 0 if the proportions agree, else undefined.
        return 0.0 if not np.any(t) else None
    return float(math.sqrt(max(0.0, t @ np.linalg.pinv(pooled) @ t)))


def _mean_over_pairs(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else float(np.mean(values))


def _fmt(x: float | None, digits: int = 1) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _holds_dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        return True
    first = values.dropna().head(1)
    return values.dtype == object and bool(first.size) and isinstance(first.iloc[0], (dt.date, dt.timedelta))


def _numeric_rows(var: Variable, values: pd.Series, members: dict[str, pd.Series]) -> list[TableOneRow]:
    median_numbers, mean_numbers, median_cells, mean_cells, missing = {}, {}, {}, {}, {}
    present = {}
    if _holds_dates(values):
        # pd.to_numeric would turn dates into nanosecond counts, whose quartiles decode to patients' dates.
        raise ModelError(f"{var.name}: declared numeric but holds dates; Table 1 does not summarise dates "
                         "(derive an age or an interval, e.g. age at diagnosis)")
    for key, member in members.items():
        x = pd.to_numeric(values[member], errors="coerce").to_numpy(dtype=float)
        missing[key] = int(np.isnan(x).sum())
        x = x[~np.isnan(x)]
        present[key] = x
        if x.size:
            q1, median, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
            mean, sd = float(x.mean()), (float(x.std(ddof=1)) if x.size > 1 else None)
        else:
            q1 = median = q3 = mean = sd = None
        median_numbers[key] = {"n": int(x.size), "median": median, "q1": q1, "q3": q3}
        mean_numbers[key] = {"n": int(x.size), "mean": mean, "sd": sd}
        median_cells[key] = f"{_fmt(median)} ({_fmt(q1)}, {_fmt(q3)})"
        mean_cells[key] = f"{_fmt(mean)} ({_fmt(sd)})"
    groups = [k for k in members if k != OVERALL]
    smd = _mean_over_pairs([smd_numeric(present[a], present[b]) for a, b in itertools.combinations(groups, 2)])
    by_group = {k: v for k, v in missing.items() if k != OVERALL}
    return [TableOneRow(var.name, None, var.label, "median (IQR)", median_cells, median_numbers, missing[OVERALL], by_group, smd),
            TableOneRow(var.name, None, var.label, "mean (SD)", mean_cells, mean_numbers, missing[OVERALL], by_group, smd)]


def _categorical_rows(var: Variable, values: pd.Series, members: dict[str, pd.Series]) -> list[TableOneRow]:
    labels = level_labels(values, var) if var.spec.type == "binary" else values.map(lambda v: None if pd.isna(v) else str(v))
    levels = list(var.spec.category_levels)
    counts, totals, missing = {}, {}, {}
    for key, member in members.items():
        in_group = labels[member]
        missing[key] = int(in_group.isna().sum())
        counts[key] = in_group.dropna().value_counts().reindex(levels, fill_value=0).to_numpy(dtype=int)
        totals[key] = int(counts[key].sum())
    undeclared = set(labels.dropna()) - set(levels)
    if undeclared:
        raise ModelError(f"{var.name}: value(s) {sorted(undeclared)} are not declared levels ({', '.join(levels)})")
    groups = [k for k in members if k != OVERALL]
    proportions = {k: (counts[k] / totals[k] if totals[k] else None) for k in members}
    pairs = [smd_categorical(proportions[a], proportions[b]) if proportions[a] is not None and proportions[b] is not None
             else None for a, b in itertools.combinations(groups, 2)]
    smd = _mean_over_pairs(pairs)
    by_group = {k: v for k, v in missing.items() if k != OVERALL}
    rows = []
    for i, level in enumerate(levels):
        numbers, cells = {}, {}
        for key in members:
            count = int(counts[key][i])
            percent = 100.0 * count / totals[key] if totals[key] else None
            numbers[key] = {"count": count, "percent": percent, "n": totals[key]}
            cells[key] = f"{count} ({_fmt(percent)})"
        rows.append(TableOneRow(var.name, level, var.label, "n (%)", cells, numbers, missing[OVERALL], by_group, smd))
    return rows


def table_one(data: pd.DataFrame, by: Variable, variables: list[Variable]) -> TableOne:
    """Summarise ``variables`` overall and within each level of ``by``.

    Patients whose ``by`` value is missing count in ``overall`` only (``by_missing`` says how
    many). Missing values of a variable are counted (``missing``) and left out of its
    percentages and summaries.

    Raises
    ------
    ModelError
        ``by`` is not categorical, a variable is declared as a date or string (a date's quartiles would
        be patients' dates), a column is absent, or a categorical variable holds an undeclared level.

    References
    ----------
    R ``tableone::CreateTableOne(vars, strata = by, data, smd = TRUE)``: SMDs as its
    ``StdDiff`` (numeric) and ``StdDiffMulti`` (categorical; Yang D, Dalton JE. A unified approach
    to measuring the effect size between two groups using SAS. SAS Global Forum 2012, paper 335).
    Quartiles as ``quantile(x, type = 7)``.
    """
    if not by.is_categorical:
        raise ModelError(f"{by.name} ({by.label}) is {by.spec.type}; Table 1 needs a binary or categorical grouping variable")
    unsummarised = [v for v in variables if v.spec.type not in SUMMARISED_TYPES]
    if unsummarised:
        # A date's median and quartiles are patients' own dates; a string column holds identifiers.
        listed = ", ".join(f"{v.name} ({v.spec.type})" for v in unsummarised)
        raise ModelError(f"Table 1 summarises numeric, binary and categorical columns, not {listed}; from a date, "
                         "derive an age or an interval (e.g. age at diagnosis) and summarise that")
    absent = [v.name for v in [by, *variables] if v.name not in data]
    if absent:
        raise ModelError(f"table_one: column(s) {', '.join(absent)} not in the data")
    by_labels = level_labels(data[by.name], by) if by.spec.type == "binary" else \
        data[by.name].map(lambda v: None if pd.isna(v) else str(v))
    groups = tuple(by.spec.category_levels)
    members = {OVERALL: pd.Series(True, index=data.index), **{g: (by_labels == g) for g in groups}}
    rows: list[TableOneRow] = []
    for var in variables:
        build = _categorical_rows if var.is_categorical else _numeric_rows
        rows.extend(build(var, data[var.name], members))
    n = {key: int(member.sum()) for key, member in members.items()}
    return TableOne(by.name, groups, n, int(by_labels.isna().sum()), tuple(rows))
