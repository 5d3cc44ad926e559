"""The optional sections of an analysis: each turns the cohort and the spec into one result.

:func:`prognosis.analysis.pipeline.run` calls these in order; each returns ``None`` when the spec does not
ask for its section. They only adapt the cohort to the statistical functions in
:mod:`prognosis.stats`; the statistics live there.

Only the core (cohort, Kaplan–Meier, the main Cox comparison) may stop a run. An optional section
that cannot be computed on this cohort (R would stop inside ``cox.zph``, say, while everything
else fits) is run through :class:`SectionRunner`, which records why as a :class:`NotComputed`
and lets the analysis go on.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from dataclasses import dataclass, replace
from typing import Any, Callable, TypeVar

from prognosis.cohort.assemble import BEYOND_HORIZON, EVENT, TIME, Cohort
from prognosis.errors import ModelError, PrognosisWarning, SpecError
from prognosis.spec import AnalysisSpec
from prognosis.stats.associations import AssociationsResult, associations
from prognosis.stats.competing import CompetingRisksResult, competing_risks
from prognosis.stats.compare import ModelComparison
from prognosis.stats.design import level_labels
from prognosis.stats.followup import FollowUpResult, median_followup
from prognosis.stats.imputation import ImputationResult, multiple_imputation_cox
from prognosis.stats.checks import check_survival
from prognosis.stats.misclassification import Distribution, MisclassificationResult, misclassification_bias_analysis
from prognosis.stats.logrank import (
    PairwiseLogRankResult,
    StratifiedLogRankResult,
    TrendTestResult,
    WeightedLogRankResult,
    logrank_trend_test,
    pairwise_logrank_test,
    stratified_logrank_test,
    weighted_logrank_test,
)
from prognosis.stats.ph import PHTestResult, ph_test
from prognosis.stats.subgroups import SubgroupResult, subgroup_analysis
from prognosis.stats.table1 import TableOne, table_one
from prognosis.stats.validation import ValidationSummary, validate_cox

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class NotComputed:
    """An optional section that was asked for but could not be computed on this cohort, and why.

    ``reason`` is the statistical function's message: it names variables and rules, never a
    patient's value, so it may go to results.json and the report.
    """

    section: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"status": "not_computed", "reason": self.reason}


# What "cannot be computed on this cohort" means: the named statistical error, and a singular
# system the statistics did not anticipate (R's own "system is exactly singular"). Anything else
# is a bug in prognosis and must stay loud.
_SECTION_FAILURES = (ModelError, np.linalg.LinAlgError)


class SectionRunner:
    """Runs the optional sections of one analysis, keeping the reasons of those that failed.

    >>> runner = SectionRunner()
    >>> ph = runner.run("ph_test", proportional_hazards, cohort, spec, models)  # doctest: +SKIP

    ``runner.not_computed`` then holds one :class:`NotComputed` per section that raised
    :class:`~prognosis.errors.ModelError` (or a singular linear system), in the order run.
    """

    def __init__(self) -> None:
        self.not_computed: list[NotComputed] = []

    def run(self, section: str, compute: Callable[..., T], *args: Any, fallback: Any = None, **kwargs: Any) -> T:
        """``compute(*args, **kwargs)``, or ``fallback`` when the section cannot be computed."""
        try:
            return compute(*args, **kwargs)
        except _SECTION_FAILURES as exc:
            reason = str(exc) if isinstance(exc, ModelError) else f"a singular linear system ({exc})"
            logger.warning("%s was not computed: %s", section, reason)
            self.not_computed.append(NotComputed(section, reason))
            return fallback


def check_km_groups(cohort: Cohort, spec: AnalysisSpec) -> None:
    """``km.by``, every ``km.strata`` and every (Cox) ``strata`` column must be categorical or binary.

    A numeric or date column would make a group (or a stratum) of nearly every distinct value:
    meaningless curves, log-rank variances that are singular, and Cox strata of one patient each
    whose partial likelihood is empty (a singular information matrix, as if terms were collinear).

    Raises
    ------
    SpecError
        Naming the key, the column and its declared type.
    """
    where = spec.path.name if spec.path else "spec"
    by = cohort.variables[spec.km.by]
    if not by.is_categorical:
        default = "" if "by" in (spec.raw.get("km") or {}) else " (km.by defaults to the marker)"
        raise SpecError(f"{where}: km.by must be a categorical or binary variable{default}; {by.name} is "
                        f"{by.spec.type} (derive a grouped version: a column declared categorical in its "
                        "data dictionary)")
    if by.name in spec.km.strata:
        raise SpecError(f"{where}: km.strata: {by.name} is km.by itself; within its strata the groups are never "
                        "compared, so there is nothing to test (stratify by another variable)")
    strata = [("km.strata", name) for name in spec.km.strata] + [("strata", name) for name in spec.options.strata]
    for key, name in strata:
        var = cohort.variables.get(name)
        if var is not None and not var.is_categorical:
            raise SpecError(f"{where}: {key}: a stratum must be a categorical or binary variable; {name} is "
                            f"{var.spec.type}, which would make a stratum of nearly every patient (derive a "
                            "grouped version: a column declared categorical in its data dictionary)")


def proportional_hazards(cohort: Cohort, spec: AnalysisSpec, models: ModelComparison) -> PHTestResult | None:
    """Scaled-Schoenfeld test of the adjusted model, per variable and global (R ``cox.zph``)."""
    if not spec.options.ph_test or models.design is None or not models.adjusted.terms:
        return None
    return ph_test(cohort.time, cohort.event, models.design, models.adjusted, transform="km", strata=models.strata)


def validation(cohort: Cohort, spec: AnalysisSpec, models: ModelComparison, *, progress: bool | None = None
               ) -> ValidationSummary | None:
    """Discrimination, calibration and bootstrap optimism of the adjusted model."""
    options = spec.options.validation
    if options is None or models.design is None:
        return None
    times = options.times or spec.km.times
    if not times:
        raise ModelError("validation needs times at which to assess the model: give validation.times or km.times")
    if spec.options.strata:
        warnings.warn("validation uses the unstratified adjusted model; strata are ignored there",
                      PrognosisWarning, stacklevel=2)
    # Time-dependent AUC and Brier need patients still at risk after t: times at or beyond the
    # last follow-up (e.g. the horizon itself) are left out, and said so.
    usable = tuple(t for t in times if t < cohort.time.max())
    for t in sorted(set(times) - set(usable)):
        warnings.warn(f"validation at {t:g} {spec.endpoint.unit} was left out: no patient is followed beyond it",
                      PrognosisWarning, stacklevel=2)
    if not usable:
        raise ModelError("no validation time lies inside the follow-up (every one is at or beyond the last "
                         "follow-up time); choose earlier validation.times")
    return validate_cox(cohort.time, cohort.event, models.design, times=usable, groups=options.groups,
                        B=options.bootstrap, seed=options.seed, ties=spec.options.ties, progress=progress)


def subgroups(cohort: Cohort, spec: AnalysisSpec) -> SubgroupResult | None:
    """The marker's hazard ratio within each level of each subgroup factor, with interaction tests."""
    if not spec.options.subgroups:
        return None
    covariates = tuple(c.name for c in spec.covariates)
    return subgroup_analysis(cohort, spec.marker.name, list(spec.options.subgroups), covariates=covariates,
                             ties=spec.options.ties)


def misclassification(cohort: Cohort, spec: AnalysisSpec, models: ModelComparison) -> MisclassificationResult | None:
    """The marker's adjusted hazard ratio corrected for its misclassification (probabilistic bias analysis).

    Raises
    ------
    SpecError
        The marker is not binary (one term: a 0/1 column or two levels).
    ModelError
        The marker has interaction terms (they would have to be imputed too), or no draw could be used.
    """
    options = spec.options.misclassification
    if options is None or models.design is None:
        return None
    marker = cohort.variables[spec.marker.name]
    levels = marker.spec.category_levels
    if not (marker.spec.type == "binary" or (marker.is_categorical and len(levels) == 2)):
        where = spec.path.name if spec.path else "spec"
        raise SpecError(f"{where}: misclassification: applies to a binary marker only (yes/no, a 0/1 column); "
                        f"{marker.name} is {marker.spec.type}"
                        f"{f' with {len(levels)} levels' if levels else ''}; remove the key or derive a binary marker")
    design = models.design
    if any(":" in key and marker.name in key.split(":") for key in design.terms_of):
        raise ModelError(f"the misclassification analysis does not impute interaction terms of {marker.name}; "
                         "remove its interactions to run it")
    (term,) = design.terms_of[marker.name]
    adjusted = models.adjusted
    i = adjusted.terms.index(term)
    time, event = check_survival(cohort.time, cohort.event, design=design.matrix)
    return misclassification_bias_analysis(
        time, event, design.matrix.to_numpy(dtype=float), list(design.terms).index(term),
        sensitivity=Distribution(options.sensitivity.kind, options.sensitivity.parameters, options.sensitivity.counts),
        specificity=Distribution(options.specificity.kind, options.specificity.parameters, options.specificity.counts),
        draws=options.draws, seed=options.seed,
        time_groups=options.time_groups, ties=spec.options.ties, strata=models.strata, term=term,
        conventional=(float(adjusted.hazard_ratio[i]), float(adjusted.conf_int[i, 0]), float(adjusted.conf_int[i, 1])))


@dataclass(frozen=True)
class GroupTests:
    """Comparisons of the Kaplan–Meier groups beyond the plain log-rank test; None where not asked or not meaningful."""

    stratified: StratifiedLogRankResult | None
    pairwise: PairwiseLogRankResult | None
    trend: TrendTestResult | None
    weighted: WeightedLogRankResult | None = None
    strata_by: tuple[str, ...] = ()
    """The columns whose levels form the strata of the stratified test."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "weighted_logrank": None if self.weighted is None else self.weighted.to_dict(),
            "stratified_logrank": None if self.stratified is None else {
                **self.stratified.to_dict(), "by": list(self.strata_by)},
            "pairwise": None if self.pairwise is None else self.pairwise.to_dict(),
            "trend": None if self.trend is None else self.trend.to_dict(),
        }


def group_tests(cohort: Cohort, spec: AnalysisSpec) -> GroupTests:
    """Stratified log-rank (``km.strata``), weighted log-rank (``km.weights``); pairwise Holm-adjusted
    and trend tests for three or more groups."""
    by = cohort.variables[spec.km.by]
    labels = level_labels(cohort.data[by.name], by).to_numpy()
    levels = tuple(level for level in by.spec.category_levels if level in set(labels)) or None
    stratified = None
    if spec.km.strata:
        strata = _stratum_labels(cohort, spec.km.strata)
        stratified = stratified_logrank_test(cohort.time, cohort.event, labels, strata, levels=levels, by=by.name)
    pairwise = trend = None
    if levels is not None and len(levels) > 2:
        pairwise = pairwise_logrank_test(cohort.time, cohort.event, labels, method="holm", levels=levels, by=by.name)
        trend = logrank_trend_test(cohort.time, cohort.event, labels, levels=levels, by=by.name)
    weighted = None
    if spec.km.weights is not None:
        rho, gamma = spec.km.weights
        weighted = weighted_logrank_test(cohort.time, cohort.event, labels, rho=rho, gamma=gamma, levels=levels,
                                         by=by.name)
    return GroupTests(stratified, pairwise, trend, weighted, spec.km.strata)


def _stratum_labels(cohort: Cohort, columns: tuple[str, ...]) -> pd.Series:
    """Readable stratum names: the level (``3``) for one column, ``grade=3, er=positive`` for several."""
    parts = [level_labels(cohort.data[c], cohort.variables[c]) if c in cohort.variables else cohort.data[c].astype(str)
             for c in columns]
    if len(parts) == 1:
        return parts[0].astype(str)
    return pd.concat([p.astype(str).radd(f"{c}=") for c, p in zip(columns, parts)], axis=1).agg(", ".join, axis=1)


def followup(cohort: Cohort) -> FollowUpResult:
    """Median follow-up by the reverse Kaplan–Meier method (censoring as the event)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return median_followup(cohort.time, cohort.event, conf_type="log-log")


def imputation(cohort: Cohort, spec: AnalysisSpec, *, progress: bool | None = None) -> ImputationResult | None:
    """The adjusted Cox model with missing marker and covariates multiply imputed (Rubin's rules)."""
    options = spec.options.missing
    if options.method != "multiple_imputation" or cohort.eligible is None:
        return None
    marker = cohort.variables[spec.marker.name]
    covariates = [cohort.variables[c.name] for c in spec.covariates]
    return multiple_imputation_cox(cohort.eligible, time=TIME, event=EVENT, marker=marker, covariates=covariates,
                                   m=options.m, seed=options.seed, ties=spec.options.ties,
                                   iterations=options.iterations, progress=progress)


CENSORED = "censored"


def _causes(cohort: Cohort, spec: AnalysisSpec) -> pd.Series:
    """Each patient's cause name, ``"censored"`` when alive (or beyond the horizon), None where unknown."""
    options = spec.options.competing
    assert options is not None
    # A cell may hold a raw code (spec `codes` keys) or, after the dictionary's own `codes`, the cause name.
    names = {**{cause: cause for cause in options.codes.values()}, **options.codes}
    raw = cohort.data[options.column]
    var = cohort.variables.get(options.column)
    text = level_labels(raw, var) if var is not None and var.spec.type == "binary" else raw.astype(object)
    causes = text.map(lambda v: None if pd.isna(v) else names.get(str(v), CENSORED)).astype(object)
    if BEYOND_HORIZON in cohort.data:
        causes = causes.where(~cohort.data[BEYOND_HORIZON].astype(bool), CENSORED)
    return causes


def competing(cohort: Cohort, spec: AnalysisSpec, models: ModelComparison) -> tuple[CompetingRisksResult | None, int]:
    """Cumulative incidence by marker, Gray's test, cause-specific Cox and Fine–Gray.

    Returns the result and the number of patients left out for an unknown cause.
    """
    options = spec.options.competing
    if options is None:
        return None, 0
    causes = _causes(cohort, spec)
    known = causes.notna().to_numpy()
    by = cohort.variables[spec.km.by]
    group = level_labels(cohort.data[by.name], by).to_numpy()[known]
    design = None
    if models.design is not None and models.design.terms:
        design = replace(models.design, matrix=models.design.matrix.loc[known])
    if spec.options.strata:
        warnings.warn("the Fine–Gray and cause-specific models are fitted without strata", PrognosisWarning, stacklevel=2)
    result = competing_risks(cohort.time[known], causes.to_numpy()[known], cause_of_interest=options.of_interest,
                             censor_code=CENSORED, group=group, group_levels=by.spec.category_levels or None,
                             design=design, times=spec.km.times)
    return result, int((~known).sum())


def _eligible(cohort: Cohort) -> pd.DataFrame:
    return cohort.eligible if cohort.eligible is not None else cohort.data


def associations_section(cohort: Cohort, spec: AnalysisSpec) -> AssociationsResult | None:
    """The marker against each factor in ``associations``, among patients with known follow-up.

    The adjusted odds ratios adjust for ``associations.adjust_for`` when the spec names it; with
    the bare list they adjust for a numeric column named ``age`` if there is one (and say so),
    otherwise for nothing (and say that).
    """
    factor_names = spec.options.associations
    if not factor_names:
        return None
    marker = cohort.variables[spec.marker.name]
    factors = [cohort.variables[name] for name in factor_names]
    explicit = spec.options.associations_adjust_for
    how = "name the adjustment with associations: {factors: [...], adjust_for: [...]}"
    if explicit is not None:
        adjust = [cohort.variables[name] for name in explicit]
        adjustment = (f"for {', '.join(explicit)} (associations.adjust_for)" if explicit else
                      "none (associations.adjust_for is empty)")
    else:
        age = cohort.variables.get("age")
        if age is None or age.spec.type != "numeric":
            adjust = []
            adjustment = f"none: the spec lists the factors only, and the cohort has no numeric column named age; {how}"
        elif "age" in factor_names:
            adjust = []
            adjustment = f"none: the spec lists the factors only, which adjusts for age, and age is one of them; {how}"
        else:
            adjust = [age]
            adjustment = ("for age: the spec lists the factors only, and then a numeric column named age is adjusted "
                          f"for; {how}")
    return associations(_eligible(cohort), marker, factors, adjust_for=adjust, adjustment=adjustment)


def table1(cohort: Cohort, spec: AnalysisSpec) -> TableOne:
    """Table 1 by marker level, among patients with known follow-up (missing values counted)."""
    names = spec.options.table1
    if names is None:
        names = tuple(dict.fromkeys([c.name for c in spec.covariates] + list(spec.options.associations)))
    variables = [cohort.variables[n] for n in names if n != spec.marker.name and n in cohort.variables]
    return table_one(_eligible(cohort), cohort.variables[spec.marker.name], variables)
