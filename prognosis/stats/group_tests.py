"""Weighted, stratified, pairwise and trend log-rank tests, as R ``survival::survdiff``.

statsmodels' ``survdiff`` returns only the chi-square (no O, E or V, which the trend test needs),
has no Fleming–Harrington gamma and fails on a singular variance (a group with no expected
events), so the components are computed here and the chi-square uses survival's generalised
inverse (:func:`generalised_wald`); tests check them against statsmodels and R survdiff
(tests/stats/test_group_tests.py, tests/stats/test_logrank_empty.py)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from prognosis._json import finite_or_none
from prognosis.errors import ModelError, PrognosisWarning
from prognosis.stats.checks import check_survival

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Components:
    """Weighted observed and expected counts per group and stratum, and the summed variance."""

    groups: tuple[str, ...]
    strata: tuple[str, ...]
    observed: np.ndarray  # (n_groups, n_strata)
    expected: np.ndarray  # (n_groups, n_strata)
    variance: np.ndarray  # (n_groups, n_groups), summed over strata
    n_strata: np.ndarray  # patients per stratum

    @property
    def o_minus_e(self) -> np.ndarray:
        return (self.observed - self.expected).sum(axis=1)


def _labels(values: np.ndarray | pd.Series, name: str) -> np.ndarray:
    values = pd.Series(np.asarray(values, dtype=object))
    if values.isna().any():
        raise ModelError(f"{name} has missing values; drop or impute those patients before testing")
    return values.map(str).to_numpy()


def _levels(labels: np.ndarray, levels: tuple[str, ...] | None, by: str) -> tuple[str, ...]:
    present = set(labels.tolist())
    if levels is None:
        order = tuple(sorted(present))
    else:
        order = tuple(str(lv) for lv in levels)
        unknown = present - set(order)
        if unknown:
            # Counted, not quoted: a stray value is a patient's (this text can reach results.json).
            raise ModelError(f"{by} has {len(unknown)} value(s) not among its levels {list(order)}; recode them "
                             "or declare them in the data dictionary")
        order = tuple(lv for lv in order if lv in present)
    if len(order) < 2:
        only = order[0] if order else "none"
        raise ModelError(f"{by} has only one level ({only!r}) among the analysed patients, so groups cannot be compared")
    return order


def _stratum_components(time, event, codes, n_groups, rho, gamma):
    times, index = np.unique(time, return_inverse=True)
    n_times = times.size
    flat = index * n_groups + codes
    at_time = np.bincount(flat, minlength=n_times * n_groups).reshape(n_times, n_groups)
    events = np.bincount(flat, weights=event, minlength=n_times * n_groups).reshape(n_times, n_groups)
    at_risk = np.cumsum(at_time[::-1], axis=0)[::-1].astype(float)
    n = at_risk.sum(axis=1)
    d = events.sum(axis=1)
    # Pooled Kaplan–Meier within the stratum, left-continuous: S(t-), as survdiff's C code.
    km = np.cumprod(1.0 - d / n)
    s_minus = np.concatenate(([1.0], km[:-1]))
    weight = s_minus**rho * (1.0 - s_minus) ** gamma
    share = at_risk / n[:, None]
    observed = (weight[:, None] * events).sum(axis=0)
    expected = (weight[:, None] * d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Hypergeometric variance; nothing to add where one patient is at risk (R: nrisk > 1).
        c = np.where(n > 1, weight**2 * d * (n - d) / (n - 1), 0.0)
    variance = np.diag((c[:, None] * share).sum(axis=0)) - (share * c[:, None]).T @ share
    return observed, expected, variance


def _components(time, event, group, strata, *, levels, rho, gamma, by) -> _Components:
    time, event = check_survival(time, event)
    labels = _labels(group, by)
    if labels.shape != time.shape:
        raise ModelError(f"{by} must have one value per patient")
    groups = _levels(labels, levels, by)
    keep = np.isin(labels, groups)
    codes = pd.Categorical(labels, categories=list(groups)).codes
    if strata is None:
        strata_labels = np.full(time.shape, "all", dtype=object)
    else:
        strata_labels = _labels(strata, "strata")
        if strata_labels.shape != time.shape:
            raise ModelError("strata must have one value per patient")
    strata_levels = tuple(sorted(set(strata_labels[keep].tolist())))
    if rho < 0 or gamma < 0:
        raise ModelError(f"the weights S(t-)^rho (1 - S(t-))^gamma need rho >= 0 and gamma >= 0, not {rho}, {gamma}")
    k = len(groups)
    observed = np.zeros((k, len(strata_levels)))
    expected = np.zeros((k, len(strata_levels)))
    variance = np.zeros((k, k))
    n_strata = np.zeros(len(strata_levels), dtype=int)
    for j, stratum in enumerate(strata_levels):
        rows = keep & (strata_labels == stratum)
        o, e, v = _stratum_components(time[rows], event[rows], codes[rows], k, rho, gamma)
        observed[:, j], expected[:, j] = o, e
        variance += v
        n_strata[j] = int(rows.sum())
    return _Components(groups, strata_levels, observed, expected, variance, n_strata)


# survival's coxph.wtest default: a Cholesky pivot below toler x the largest diagonal element
# is taken as a singular direction and dropped.
TOLER_CHOL = 1e-9


def generalised_wald(variance: np.ndarray, score: np.ndarray, *, toler: float = TOLER_CHOL) -> tuple[float, int]:
    """The quadratic form ``score' V^- score`` and the rank of ``V``, V^- a generalised inverse.

    Parameters
    ----------
    variance : ndarray, shape (k, k)
        Symmetric positive semi-definite matrix.
    score : ndarray, shape (k,)
    toler : float
        Relative pivot tolerance of the Cholesky decomposition.

    Returns
    -------
    statistic, rank

    Notes
    -----
    The algorithm of survival's ``cholesky2`` and ``chsolve2`` (C code behind ``coxph.wtest``): a
    Cholesky decomposition that zeroes pivots below ``toler`` times the largest diagonal element,
    and a solve that sets those components to zero. Where ``score`` lies in the column space of
    ``V`` (as a log-rank O - E does), the form does not depend on which g-inverse is used.

    References
    ----------
    R ``survival:::coxph.wtest(var, b, toler.chol = 1e-9)``.
    """
    a = np.array(variance, dtype=float)
    k = a.shape[0]
    if k == 0:
        return 0.0, 0
    largest = max(float(np.max(np.diag(a))), 0.0)
    eps = toler if largest == 0 else largest * toler
    rank = 0
    for i in range(k):
        pivot = a[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            a[i, i] = 0.0
            continue
        rank += 1
        for j in range(i + 1, k):
            ratio = a[j, i] / pivot
            a[j, i] = ratio
            a[j, j] -= ratio * ratio * pivot
            a[j + 1:, j] -= ratio * a[j + 1:, i]
    # Forward solve with the unit lower triangle, then back-solve D L' z = y, zero where D is.
    y = np.array(score, dtype=float)
    for i in range(k):
        y[i] -= y[:i] @ a[i, :i]
    for i in range(k - 1, -1, -1):
        y[i] = 0.0 if a[i, i] == 0 else y[i] / a[i, i] - y[i + 1:] @ a[i + 1:, i]
    return float(np.asarray(score, dtype=float) @ y), rank


def _chi_square(parts: _Components, by: str = "group") -> tuple[float, int]:
    """survdiff's chi-square, with df the rank of the variance of the groups it keeps.

    As survdiff, groups with no expected events drop out and the first remaining is the reference.
    Where a kept group still has zero variance (e.g. its only stratum lost everyone at risk at
    once), survdiff's solve() fails; the generalised inverse drops that direction instead, as
    survival's own Wald tests do. Either is said in a note (group names only, no patient values).
    """
    expected = parts.expected.sum(axis=1)
    used = np.flatnonzero(expected > 0)
    empty = [g for g, e in zip(parts.groups, expected) if not e > 0]
    if empty:
        warnings.warn(f"{by}: {', '.join(empty)} had no expected events (every patient censored before the "
                      "first event), so left out of the log-rank test and its df, as R survdiff does",
                      PrognosisWarning, stacklevel=3)
    if used.size < 2:
        return 0.0, 0
    diff = parts.o_minus_e[used][1:]
    var = parts.variance[np.ix_(used, used)][1:, 1:]
    statistic, rank = generalised_wald(var, diff)
    if rank < used.size - 1:
        warnings.warn(f"{by}: the log-rank variance is singular (groups that are never at risk together at an "
                      "event time within a stratum carry no information); tested on the "
                      f"{rank} df it has", PrognosisWarning, stacklevel=3)
    return (statistic, rank) if rank > 0 else (0.0, 0)


def _p(statistic: float, df: int) -> float:
    return float(stats.chi2.sf(statistic, df)) if df > 0 else float("nan")


def _by_group(values: np.ndarray, groups: tuple[str, ...]) -> dict[str, float]:
    return {g: float(v) for g, v in zip(groups, values)}


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


