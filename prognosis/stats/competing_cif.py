"""Aalen–Johansen cumulative incidence and Gray's test, as R ``cmprsk::cuminc``.

Neither statsmodels, lifelines nor scikit-survival gives cuminc's variance or Gray's test, so
both are written here from the formulas of Gray (1988) as cmprsk 2.2 implements them (its
Fortran routines ``cinc`` and ``crst``), and checked against cmprsk 2.2.11 in
tests/stats/test_competing.py.

Intervals use the log(-log) transform of the CIF, the one most cuminc users apply by hand:
``F ** exp(±z * sd / (F * log F))``; where F is 0 or 1 the bounds are NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats
from prognosis._json import finite_or_none as _json
from prognosis.stats.checks import check_competing, check_indicator, check_survival, check_times_at

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CIFAt:
    """The cumulative incidence at ``time`` with its variance and 95% interval; NaN past follow-up."""

    time: float
    estimate: float
    variance: float
    lower: float
    upper: float


@dataclass(frozen=True)
class CIFCurve:
    """The cumulative incidence of one cause in one group.

    ``time``, ``estimate`` and ``variance`` hold the curve at each distinct time with an event of
    this cause (right-continuous steps: the value holds from that time until the next one), as
    the corners of R's ``cuminc()$time/$est/$var`` without the duplicates. ``followup`` is the
    largest follow-up time in the group; beyond it the curve is not defined.
    """

    group: str
    cause: str
    n: int
    events: int
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    followup: float
    at_times: tuple[CIFAt, ...]
    conf_level: float = 0.95

    def estimate_at(self, times: np.ndarray) -> np.ndarray:
        """F(t) as R ``cmprsk::timepoints``: right-continuous, NaN after the last follow-up."""
        return _step_at(self.time, self.estimate, self.followup, times)

    def variance_at(self, times: np.ndarray) -> np.ndarray:
        return _step_at(self.time, self.variance, self.followup, times)

    def to_dict(self) -> dict:
        return {"n": self.n, "events": self.events,
                "cumulative_incidence": [
                    {"time": _json(a.time), "estimate": _json(a.estimate),
                     "lower": _json(a.lower), "upper": _json(a.upper)} for a in self.at_times]}


@dataclass(frozen=True)
class GrayTest:
    """Gray's K-sample test of equal cumulative incidence of one cause across groups."""

    cause: str
    statistic: float
    df: int
    p: float
    rho: float = 0.0

    def to_dict(self) -> dict:
        return {"statistic": _json(self.statistic), "df": self.df, "p": _json(self.p)}


def _step_at(jump_time: np.ndarray, values: np.ndarray, followup: float, times: np.ndarray) -> np.ndarray:
    times = np.asarray(times, dtype=float)
    index = np.searchsorted(jump_time, times, side="right") - 1
    if values.size == 0:  # no event of this cause in the group: the incidence stays 0 (cmprsk::cuminc)
        return np.where(times > followup, np.nan, 0.0)
    out = np.where(index >= 0, values[np.clip(index, 0, None)], 0.0)
    return np.where(times > followup, np.nan, out)


def loglog_interval(estimate: np.ndarray, variance: np.ndarray, *, conf_level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """log(-log) interval of a cumulative incidence: ``F ** exp(±z sd / (F log F))``; NaN at F = 0 or 1."""
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    estimate = np.asarray(estimate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (estimate > 0) & (estimate < 1)
        f = np.where(inside, estimate, np.nan)
        power = np.exp(z * np.sqrt(variance) / (f * np.log(f)))
        a, b = f ** power, f ** (1.0 / power)
    return np.fmin(a, b), np.fmax(a, b)


def _tie_counts(time: np.ndarray, *flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Distinct sorted times, number at risk at each, and the per-time sums of each flag."""
    unique, inverse = np.unique(time, return_inverse=True)
    size = np.bincount(inverse, minlength=unique.size)
    at_risk = time.size - np.concatenate([[0], np.cumsum(size)[:-1]])
    return unique, at_risk.astype(float), [np.bincount(inverse, weights=f, minlength=unique.size) for f in flags]


def aalen_johansen(time: np.ndarray, cause_event: np.ndarray, other_event: np.ndarray, *,
                   group: str = "all", cause: str = "1", times: tuple[float, ...] = (),
                   conf_level: float = 0.95) -> CIFCurve:
    """Cumulative incidence of one cause with cmprsk's variance, in one group.

    Parameters
    ----------
    time : ndarray
        Follow-up times (> 0).
    cause_event, other_event : ndarray
        0/1 indicators of failure from the cause of interest and from any competing cause
        (both 0 = censored).
    group, cause : str
        Labels kept on the result.
    times : tuple of float
        Times at which to report the estimate, as R ``cmprsk::timepoints``.

    References
    ----------
    R ``cmprsk::cuminc`` (Fortran ``cinc``) and ``cmprsk::timepoints``; Gray RJ (1988) Ann Stat
    16:1141-1154; Aalen OO, Johansen S (1978) Scand J Stat 5:141-150.
    """
    time, cause_event = check_survival(time, cause_event, require_events=False)
    other_event = check_indicator(other_event, time.size, name="other_event")
    unique, at_risk, (d1, d2) = _tie_counts(time, cause_event, other_event)
    d = d1 + d2
    surv_after = np.cumprod(1.0 - d / at_risk)                    # all-cause KM, S(t)
    surv_before = np.concatenate([[1.0], surv_after[:-1]])         # S(t-)
    cif = np.cumsum(surv_before * d1 / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # cinc's tie correction (1 - (d - 1)/(r - 1)) and S(t-)^2 d / r^2
        def weight(dk: np.ndarray) -> np.ndarray:
            tie = np.where(dk > 1, 1.0 - (dk - 1.0) / (at_risk - 1.0), 1.0)
            return surv_before ** 2 * tie * dk / at_risk ** 2

        inv_s = np.where(surv_after > 0, 1.0 / surv_after, 0.0)
        use2 = (d2 > 0) & (surv_after > 0)
        w2 = np.where(use2, weight(d2), 0.0)
        a2 = np.where(use2, cif * inv_s, 0.0)
        w1 = np.where(d1 > 0, weight(d1), 0.0)
        a1 = 1.0 + inv_s * cif
    v1 = np.cumsum(a2 * a2 * w2 + a1 * a1 * w1)
    v2 = np.cumsum(inv_s * a2 * w2 + inv_s * a1 * w1)
    v3 = np.cumsum(inv_s * inv_s * (w2 + w1))
    variance = v1 + cif ** 2 * v3 - 2.0 * cif * v2
    jumps = d1 > 0
    jump_time, estimate, variance = unique[jumps], cif[jumps], variance[jumps]
    lower, upper = loglog_interval(estimate, variance, conf_level=conf_level)
    followup = float(time.max())
    at = tuple(sorted(set(check_times_at(times))))
    est_at = _step_at(jump_time, estimate, followup, np.array(at))
    var_at = _step_at(jump_time, variance, followup, np.array(at))
    lo_at, up_at = loglog_interval(est_at, var_at, conf_level=conf_level)
    at_times = tuple(CIFAt(t, float(e), float(v), float(lo), float(up))
                     for t, e, v, lo, up in zip(at, est_at, var_at, lo_at, up_at))
    return CIFCurve(group=group, cause=cause, n=int(time.size), events=int(cause_event.sum()),
                    time=jump_time, estimate=estimate, variance=variance, lower=lower, upper=upper,
                    followup=followup, at_times=at_times, conf_level=conf_level)


def gray_test(time: np.ndarray, status: np.ndarray, group_index: np.ndarray, *, cause: str = "1",
              rho: float = 0.0) -> GrayTest:
    """Gray's test that the cumulative incidence of one cause is equal across groups.

    Parameters
    ----------
    time : ndarray
        Follow-up times.
    status : ndarray
        0 censored, 1 the cause of interest, 2 any competing cause.
    group_index : ndarray
        Group of each patient coded 0 .. k-1 (k >= 2, every group non-empty).
    rho : float
        Power of the weight ``(1 - F(t-))**rho``; 0 (cuminc's default) gives equal weights.

    Returns
    -------
    GrayTest
        Chi-square statistic on k - 1 degrees of freedom; NaN when the variance is singular
        (cuminc reports -1 there).

    References
    ----------
    R ``cmprsk::cuminc(...)$Tests`` (Fortran ``crst``, one stratum); Gray RJ (1988) Ann Stat
    16:1141-1154.
    """
    time, status = check_competing(time, status, causes=(1, 2), group_index=group_index)
    order = np.argsort(time, kind="stable")
    time, status, group_index = (np.asarray(a)[order] for a in (time, status, group_index))
    k = int(group_index.max()) + 1
    unique, inverse = np.unique(time, return_inverse=True)
    counts = np.zeros((unique.size, 3, k))
    np.add.at(counts, (inverse, status.astype(int), group_index.astype(int)), 1.0)
    at_risk = np.bincount(group_index.astype(int), minlength=k).astype(float)
    f1m, skmm = np.zeros(k), np.ones(k)
    fm = 0.0
    score = np.zeros(k - 1)
    v = np.zeros((k - 1, k - 1))
    v2 = np.zeros((k - 1, k))
    v3 = np.zeros(k)
    c = np.zeros((k, k))
    with np.errstate(divide="ignore", invalid="ignore"):   # groups with nobody at risk are masked
        for step in range(unique.size):
            d1, d2 = counts[step, 1], counts[step, 2]
            nd1, nd2 = d1.sum(), d2.sum()
            if nd1 > 0 or nd2 > 0:
                live = at_risk > 0
                rs = np.where(live, at_risk, 1.0)
                skm = np.where(live, skmm * (at_risk - d1 - d2) / rs, skmm)
                f1 = np.where(live, f1m + skmm * d1 / rs, f1m)
                h = np.where(live, at_risk / skmm, 0.0)              # sum_r h_r in Gray's notation
                tr = h.sum()
                tq = np.where(live, at_risk * (1.0 - f1m) / skmm, 0.0).sum()
                f = fm + nd1 / tr
                fb = (1.0 - fm) ** rho
                a = -fb * np.outer(h, h) / tr
                a[np.diag_indices(k)] = fb * h * (1.0 - h / tr)
                c += a * nd1 / (tr * (1.0 - fm))
                score += np.where(live, fb * (d1 - nd1 * at_risk * (1.0 - f1m) / (skmm * tq)), 0.0)[:-1]
                if nd1 > 0:
                    t4 = np.where(skm > 0, 1.0 - (1.0 - f) / np.where(skm > 0, skm, 1.0), 1.0)
                    t5 = 1.0 - (nd1 - 1.0) / (tr * skmm - 1.0) if nd1 > 1 else np.ones(k)
                    t3 = np.where(live, t5 * skmm * nd1 / (tr * rs), 0.0)
                    v3 += t4 * t4 * t3
                    t1 = a[:-1] - t4 * c[:-1]
                    v2 += t1 * t4 * t3
                    v += (t1 * t3) @ t1.T
                if nd2 > 0:
                    use = live & (skm > 0) & (d2 > 0)
                    t4 = np.where(use, (1.0 - f) / np.where(skm > 0, skm, 1.0), 0.0)
                    t5 = np.where(d2 > 1, 1.0 - (d2 - 1.0) / np.maximum(rs - 1.0, 1.0), 1.0)
                    t3 = np.where(use, t5 * skmm ** 2 * d2 / rs ** 2, 0.0)
                    v3 += t4 * t4 * t3
                    t1 = t4 * c[:-1]
                    v2 -= t1 * t4 * t3
                    v += (t1 * t3) @ t1.T
                fm, f1m, skmm = f, f1, skm
            at_risk = at_risk - counts[step].sum(axis=0)
    cv = c[:-1]
    v = v + (cv * v3) @ cv.T + cv @ v2.T + v2 @ cv.T
    df = k - 1
    if np.linalg.matrix_rank(v) < df:
        logger.info("Gray's test: singular variance for cause %s", cause)
        return GrayTest(cause, float("nan"), df, float("nan"), rho)
    statistic = float(score @ np.linalg.solve(v, score))
    return GrayTest(cause, statistic, df, float(stats.chi2.sf(statistic, df)), rho)
