"""The log-rank machinery shared by every group test: observed, expected and variance per group
and stratum, with R survival's weights, and the chi-square by survival's generalised inverse.

statsmodels' ``survdiff`` returns only the chi-square (no O, E or V, which the trend test needs),
has no Fleming–Harrington gamma and fails on a singular variance (a group with no expected
events), so the components are computed here and the chi-square uses survival's generalised
inverse (:func:`generalised_wald`); tests check them against statsmodels and R survdiff
(tests/stats/test_group_tests.py, tests/stats/test_logrank_empty.py)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
