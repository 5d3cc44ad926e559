"""Weighted, stratified, pairwise and trend log-rank tests, as R ``survival::survdiff``, on the
components of :mod:`prognosis.stats.logrank_core`."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from statsmodels.stats.multitest import multipletests

from prognosis._json import finite_or_none
from prognosis.errors import ModelError, PrognosisWarning
from prognosis.stats.checks import check_survival
from prognosis.stats.logrank_core import (
    _by_group,
    _chi_square,
    _components,
    _labels,
    _levels,
    _p,
    generalised_wald,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightedLogRankResult:
    """G(rho, gamma) test: weights S(t-)^rho (1 - S(t-))^gamma; (0, 0) is the log-rank test."""

    statistic: float
    df: int
    p: float
    rho: float
    gamma: float
    groups: tuple[str, ...]
    observed: tuple[float, ...]   # weighted, summed over strata
    expected: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": finite_or_none(self.p), "rho": self.rho, "gamma": self.gamma}


def weighted_logrank_test(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, *, rho: float = 0.0, gamma: float = 0.0,
    strata: np.ndarray | None = None, levels: tuple[str, ...] | None = None, by: str = "group",
) -> WeightedLogRankResult:
    """Fleming–Harrington G(rho, gamma) test of equal survival across groups.

    Parameters
    ----------
    time, event, group : array-like
        Follow-up (> 0), event indicator (0/1) and group of each patient (compared as text).
    rho, gamma : float
        Exponents of the weight S(t-)^rho (1 - S(t-))^gamma, S the pooled Kaplan–Meier estimate
        within the stratum. ``rho = 1, gamma = 0`` is the Peto–Peto (Prentice) test; ``gamma > 0``
        puts weight on late differences.
    strata : array-like, optional
        Stratum of each patient; the test sums O - E and V over strata.
    levels : tuple of str, optional
        Group order; the default is the sorted distinct values.

    Raises
    ------
    ModelError
        Fewer than two groups, missing group or stratum, negative exponents.

    References
    ----------
    R ``survival::survdiff(Surv(time, status) ~ group, rho = rho)`` (gamma = 0 only);
    Harrington & Fleming (1982), Biometrika 69:553-566, for gamma > 0.
    """
    parts = _components(time, event, group, strata, levels=levels, rho=rho, gamma=gamma, by=by)
    statistic, df = _chi_square(parts, by)
    return WeightedLogRankResult(statistic, df, _p(statistic, df), float(rho), float(gamma), parts.groups,
                                 tuple(parts.observed.sum(axis=1).tolist()), tuple(parts.expected.sum(axis=1).tolist()))


@dataclass(frozen=True)
class StratumCounts:
    """Observed and expected (weighted) events per group within one stratum."""

    stratum: str
    n: int
    observed: dict[str, float]
    expected: dict[str, float]

    def to_dict(self) -> dict:
        return {"stratum": self.stratum, "n": self.n, "observed": dict(self.observed), "expected": dict(self.expected)}


@dataclass(frozen=True)
class StratifiedLogRankResult:
    """Log-rank (or G-rho) test within strata, O - E and V summed over strata."""

    statistic: float
    df: int
    p: float
    groups: tuple[str, ...]
    strata: tuple[StratumCounts, ...]
    rho: float = 0.0

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": finite_or_none(self.p),
                "strata": [s.to_dict() for s in self.strata]}


def stratified_logrank_test(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, strata: np.ndarray, *, rho: float = 0.0,
    levels: tuple[str, ...] | None = None, by: str = "group",
) -> StratifiedLogRankResult:
    """Log-rank test of ``group`` stratified by ``strata`` (e.g. a key confounder).

    References
    ----------
    R ``survival::survdiff(Surv(time, status) ~ group + strata(s), rho = rho)``.

    See Also
    --------
    weighted_logrank_test, logrank_test
    """
    parts = _components(time, event, group, strata, levels=levels, rho=rho, gamma=0.0, by=by)
    statistic, df = _chi_square(parts, by)
    per_stratum = tuple(
        StratumCounts(s, int(parts.n_strata[j]), _by_group(parts.observed[:, j], parts.groups),
                      _by_group(parts.expected[:, j], parts.groups))
        for j, s in enumerate(parts.strata)
    )
    return StratifiedLogRankResult(statistic, df, _p(statistic, df), parts.groups, per_stratum, float(rho))


@dataclass(frozen=True)
class PairwiseComparison:
    groups: tuple[str, str]
    statistic: float
    p: float
    p_adjusted: float
    p_bonferroni: float

    def to_dict(self) -> dict:
        return {"groups": list(self.groups), "statistic": self.statistic, "p": finite_or_none(self.p),
                "p_adjusted": finite_or_none(self.p_adjusted), "p_bonferroni": finite_or_none(self.p_bonferroni)}


@dataclass(frozen=True)
class PairwiseLogRankResult:
    """Log-rank test of every pair of levels; ``p_adjusted`` by ``method`` over all pairs."""

    method: str
    comparisons: tuple[PairwiseComparison, ...]

    def to_dict(self) -> dict:
        return {"method": self.method, "comparisons": [c.to_dict() for c in self.comparisons]}


def pairwise_logrank_test(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, *, method: str = "holm", rho: float = 0.0,
    strata: np.ndarray | None = None, levels: tuple[str, ...] | None = None, by: str = "group",
) -> PairwiseLogRankResult:
    """Log-rank test between each pair of levels, on that pair's patients, with adjusted p-values.

    Parameters
    ----------
    method : str
        Adjustment for ``p_adjusted``, any ``statsmodels.stats.multitest.multipletests`` method
        ("holm", "bonferroni", "fdr_bh", ...); ``p_bonferroni`` is always given too.
    rho, strata, levels
        As :func:`weighted_logrank_test`; pairs follow the order of ``levels``.

    References
    ----------
    R: ``survdiff(Surv(time, status) ~ group, data = subset(d, group %in% pair))`` for each pair,
    then ``p.adjust(p, method = "holm")`` and ``"bonferroni"``.
    """
    time, event = check_survival(time, event, group=group, strata=strata)
    labels = _labels(group, by)
    order = _levels(labels, levels, by)
    strata = None if strata is None else np.asarray(strata, dtype=object)
    pairs = list(combinations(order, 2))
    statistics, p_values = [], []
    for pair in pairs:
        rows = np.isin(labels, pair)
        if event[rows].sum() == 0:
            # No events in the pair: survdiff's chi-square is 0 on 0 df, no test.
            statistics.append(0.0)
            p_values.append(float("nan"))
            continue
        parts = _components(time[rows], event[rows], labels[rows], None if strata is None else strata[rows],
                            levels=pair, rho=rho, gamma=0.0, by=by)
        statistic, df = _chi_square(parts, by)
        statistics.append(statistic)
        p_values.append(_p(statistic, df))
    adjusted = _adjust(np.array(p_values), method, by)
    bonferroni = _adjust(np.array(p_values), "bonferroni", by)
    comparisons = tuple(PairwiseComparison(pair, float(s), float(p), float(a), float(b))
                        for pair, s, p, a, b in zip(pairs, statistics, p_values, adjusted, bonferroni))
    return PairwiseLogRankResult(method, comparisons)


def _adjust(p_values: np.ndarray, method: str, by: str) -> np.ndarray:
    """Adjusted p-values over the pairs that have a test; a pair with no test (NaN) stays NaN and,
    as R's ``p.adjust`` does with NA, is not counted among the tests."""
    adjusted = np.full(p_values.shape, np.nan)
    tested = np.isfinite(p_values)
    try:
        # An empty set still goes through multipletests once, so that a bad method is always named.
        values = multipletests(p_values[tested] if tested.any() else np.array([1.0]), method=method)[1]
    except ValueError as error:
        raise ModelError(f"unknown p-value adjustment method {method!r} for {by}") from error
    if tested.any():
        adjusted[tested] = values
    return adjusted


@dataclass(frozen=True)
class TrendTestResult:
    """Log-rank test for trend across ordered levels: (s'(O - E))^2 / s'Vs on 1 df (0 df, p NaN, where
    s'Vs = 0)."""

    statistic: float
    df: int
    p: float
    scores: dict[str, float]
    rho: float = 0.0

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": finite_or_none(self.p), "scores": dict(self.scores)}


def logrank_trend_test(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, *, levels: tuple[str, ...] | None = None,
    scores: tuple[float, ...] | None = None, rho: float = 0.0, strata: np.ndarray | None = None,
    by: str = "group",
) -> TrendTestResult:
    """Test for a trend in survival across ordered levels.

    Parameters
    ----------
    levels : tuple of str, optional
        The order of the levels (e.g. ``("I", "II", "III")``); default sorted distinct values.
    scores : tuple of float, optional
        One score per level in ``levels``; default 1, 2, ..., k.
    rho, strata
        As :func:`weighted_logrank_test`.

    Notes
    -----
    With ``rho = 0`` this equals the score test of ``coxph(Surv ~ score, ties = "exact")``; the
    Efron and Breslow score tests differ slightly when event times are tied.

    References
    ----------
    R: from ``fit <- survdiff(Surv(time, status) ~ group)``,
    ``(sum(s * (fit$obs - fit$exp)))^2 / (t(s) %*% fit$var %*% s)`` on 1 df.
    """
    labels = _labels(group, by)
    order = _levels(labels, levels, by) if levels is None else tuple(str(lv) for lv in levels)
    if scores is None:
        scores = tuple(float(i) for i in range(1, len(order) + 1))
    if len(scores) != len(order):
        raise ModelError(f"{by}: {len(scores)} scores given for {len(order)} levels {list(order)}")
    by_level = dict(zip(order, map(float, scores)))
    parts = _components(time, event, labels, strata, levels=order, rho=rho, gamma=0.0, by=by)
    s = np.array([by_level[g] for g in parts.groups])
    statistic, df = generalised_wald(np.atleast_2d(s @ parts.variance @ s), np.atleast_1d(s @ parts.o_minus_e))
    if df == 0:
        # R's u^2 / v is 0 / 0 here; as survdiff with nothing to test: statistic 0 on 0 df, no p.
        warnings.warn(f"{by}: no trend can be tested (the scores do not vary among the groups with information)",
                      PrognosisWarning, stacklevel=2)
        statistic = 0.0
    return TrendTestResult(statistic, df, _p(statistic, df), {g: by_level[g] for g in parts.groups}, float(rho))


