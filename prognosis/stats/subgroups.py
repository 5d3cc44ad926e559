"""Subgroup analysis: the marker's hazard ratio within each level of other factors, for a forest plot.

Each subgroup is a separate Cox fit on the patients of that level; whether the marker's effect
differs between levels is judged by the likelihood-ratio test of the marker x factor interaction
(not by comparing the subgroups' p-values).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from prognosis._json import finite_or_none
from prognosis.cohort.assemble import Cohort
from prognosis.cohort.variable import Variable
from prognosis.errors import ModelError, PrognosisWarning
from prognosis.stats.checks import check_survival
from prognosis.stats.cox import Ties, fit_cox
from prognosis.stats.design import design_matrix, level_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubgroupEstimate:
    """The marker's hazard ratio in one subgroup; NaN when it cannot be estimated there."""

    hazard_ratio: float
    lower: float
    upper: float
    p: float

    def to_dict(self) -> dict:
        return {"hazard_ratio": finite_or_none(self.hazard_ratio), "lower": finite_or_none(self.lower),
                "upper": finite_or_none(self.upper), "p": finite_or_none(self.p)}


@dataclass(frozen=True)
class SubgroupLevel:
    """One level of a factor: its patients, events, and the marker's unadjusted (and adjusted) HR."""

    level: str
    n: int
    events: int
    unadjusted: SubgroupEstimate
    adjusted: SubgroupEstimate | None

    def to_dict(self) -> dict:
        out = {"n": self.n, "events": self.events, **self.unadjusted.to_dict()}
        if self.adjusted is not None:
            out["adjusted"] = self.adjusted.to_dict()
        return out


@dataclass(frozen=True)
class SubgroupFactor:
    """A factor's levels and the likelihood-ratio test of the marker x factor interaction."""

    factor: str
    levels: tuple[SubgroupLevel, ...]
    interaction_statistic: float
    interaction_df: int
    interaction_p: float
    interaction_p_adjusted: float | None

    def to_dict(self) -> dict:
        out = {"interaction_p": finite_or_none(self.interaction_p),
               "interaction_statistic": finite_or_none(self.interaction_statistic), "interaction_df": self.interaction_df,
               "levels": {level.level: level.to_dict() for level in self.levels}}
        if self.interaction_p_adjusted is not None:
            out["interaction_p_adjusted"] = finite_or_none(self.interaction_p_adjusted)
        return out


@dataclass(frozen=True)
class SubgroupResult:
    """The marker's hazard ratio within the levels of each factor in ``by`` (see :func:`subgroup_analysis`)."""

    marker: str
    term: str
    factors: tuple[SubgroupFactor, ...]
    covariates: tuple[str, ...]
    ties: Ties
    conf_level: float

    def to_dict(self) -> dict:
        return {"marker": self.marker, "term": self.term, "covariates": list(self.covariates), "ties": self.ties,
                "conf_level": self.conf_level,
                "subgroups": {factor.factor: factor.to_dict() for factor in self.factors}}

    def to_frame(self) -> pd.DataFrame:
        """One row per (factor, level), ready for a forest plot."""
        rows = [{"factor": f.factor, "level": lv.level, "n": lv.n, "events": lv.events,
                 "hazard_ratio": lv.unadjusted.hazard_ratio, "lower": lv.unadjusted.lower,
                 "upper": lv.unadjusted.upper, "p": lv.unadjusted.p, "interaction_p": f.interaction_p}
                for f in self.factors for lv in f.levels]
        return pd.DataFrame(rows)


_MISSING = SubgroupEstimate(math.nan, math.nan, math.nan, math.nan)


def _marker_estimate(data: pd.DataFrame, time: np.ndarray, event: np.ndarray, marker: Variable,
                     covariates: list[Variable], ties: Ties, conf_level: float, where: str) -> SubgroupEstimate:
    try:
        with warnings.catch_warnings():
            # A covariate level absent from a subgroup is expected; the fit goes on without it.
            warnings.simplefilter("ignore", PrognosisWarning)
            design = design_matrix(data, [marker, *covariates])
            result = fit_cox(time, event, design, ties=ties, conf_level=conf_level)
    except ModelError as exc:
        warnings.warn(f"{where}: the hazard ratio of {marker.name} cannot be estimated ({exc})",
                      PrognosisWarning, stacklevel=3)
        return _MISSING
    i = result.terms.index(design.terms_of[marker.name][0])
    return SubgroupEstimate(float(result.hazard_ratio[i]), float(result.conf_int[i, 0]),
                            float(result.conf_int[i, 1]), float(result.p_value[i]))


def _interaction_test(data: pd.DataFrame, time: np.ndarray, event: np.ndarray, marker: Variable,
                      factor: Variable, covariates: list[Variable], ties: Ties) -> tuple[float, int, float]:
    key = f"{marker.name}:{factor.name}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrognosisWarning)
            design = design_matrix(data, [marker, factor, *covariates], interactions=[(marker.name, factor.name)])
            full = fit_cox(time, event, design, ties=ties)
            base = fit_cox(time, event, design.without(key), ties=ties)
    except ModelError as exc:
        warnings.warn(f"the interaction test {key} cannot be computed ({exc})", PrognosisWarning, stacklevel=3)
        return math.nan, 0, math.nan
    statistic = max(2.0 * (full.log_likelihood - base.log_likelihood), 0.0)
    df = len(design.terms_of[key])
    return statistic, df, float(stats.chi2.sf(statistic, df))


def subgroup_analysis(data: Cohort | pd.DataFrame, marker: Variable | str, by: Sequence[Variable | str], *,
                      covariates: Sequence[Variable | str] = (), time: str | np.ndarray = "_time",
                      event: str | np.ndarray = "_event", ties: Ties = "efron",
                      conf_level: float = 0.95) -> SubgroupResult:
    """The marker's hazard ratio within each level of each factor in ``by``, with interaction tests.

    Parameters
    ----------
    data : Cohort or DataFrame
        A complete-case cohort, or a frame with one row per patient.
    marker : Variable or str
        The marker; it must give a single model term (binary, two-level or numeric). Names are
        looked up in ``cohort.variables`` and need a Cohort.
    by : sequence of Variable or str
        Categorical factors defining the subgroups.
    covariates : sequence of Variable or str
        If given, each subgroup also gets the marker's HR adjusted for these (less the factor
        itself), and each factor an adjusted interaction test.
    time, event : str or ndarray
        Columns of ``data`` (or arrays) with follow-up and event; ignored for a Cohort.
    ties : {"efron", "breslow"}
    conf_level : float

    Returns
    -------
    SubgroupResult
        Per factor: the interaction LRT (marker x factor added to marker + factor, and to
        marker + factor + covariates) and per level n, events, HR, CI and Wald p. A subgroup in
        which the HR cannot be estimated (e.g. no event) gets NaN and a warning.

    Raises
    ------
    ModelError
        The marker gives several terms or a factor is not categorical. An interaction model that
        cannot be fitted (e.g. a level without events) gives NaN and a warning instead.

    References
    ----------
    R ``survival::coxph`` on each subset; ``anova(coxph(~ m + f), coxph(~ m * f))``.
    Wang R, Lagakos SW, Ware JH et al. (2007) Statistics in medicine: reporting of subgroup analyses
    in clinical trials. N Engl J Med 357:2189-2194.
    """
    if isinstance(data, Cohort):
        variables, frame = data.variables, data.data
        time_values, event_values = data.time, data.event
    else:
        variables, frame = {}, data
        time_values = frame[time].to_numpy() if isinstance(time, str) else time
        event_values = frame[event].to_numpy() if isinstance(event, str) else event
    time_values, event_values = check_survival(time_values, event_values, rows_of_data=np.arange(len(frame)))

    def resolve(v: Variable | str) -> Variable:
        if isinstance(v, Variable):
            return v
        if v not in variables:
            raise ModelError(f"{v} is not a model variable of the cohort")
        return variables[v]

    marker_var, factors = resolve(marker), [resolve(f) for f in by]
    covariate_vars = [resolve(c) for c in covariates]
    marker_terms = design_matrix(frame, [marker_var]).terms_of[marker_var.name]
    if len(marker_terms) != 1:
        raise ModelError(f"{marker_var.name} gives {len(marker_terms)} terms ({', '.join(marker_terms)}); subgroup "
                         "analysis needs a marker with one term (binary, two levels or numeric)")
    results = []
    for factor in factors:
        if not factor.is_categorical:
            raise ModelError(f"{factor.name} ({factor.label}) is not categorical, so it cannot define subgroups")
        others = [c for c in covariate_vars if c.name != factor.name]
        labels = level_labels(frame[factor.name], factor)
        levels = []
        for level in factor.spec.category_levels:
            rows = (labels == level).to_numpy()
            if not rows.any():
                continue
            sub, t, e = frame.loc[rows], time_values[rows], event_values[rows]
            where = f"subgroup {factor.name} = {level}"
            unadjusted = _marker_estimate(sub, t, e, marker_var, [], ties, conf_level, where)
            adjusted = (_marker_estimate(sub, t, e, marker_var, others, ties, conf_level, where)
                        if covariate_vars else None)
            levels.append(SubgroupLevel(str(level), int(rows.sum()), int(e.sum()), unadjusted, adjusted))
        statistic, df, p = _interaction_test(frame, time_values, event_values, marker_var, factor, [], ties)
        p_adjusted = (_interaction_test(frame, time_values, event_values, marker_var, factor, others, ties)[2]
                      if covariate_vars else None)
        results.append(SubgroupFactor(factor.name, tuple(levels), statistic, df, p, p_adjusted))
    return SubgroupResult(marker_var.name, marker_terms[0], tuple(results),
                          tuple(c.name for c in covariate_vars), ties, conf_level)
