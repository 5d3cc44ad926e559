"""Kaplan–Meier estimates with pointwise confidence intervals, as R's ``survfit``.

The risk sets come from statsmodels' ``SurvfuncRight``; the estimate (the product of
(n - d) / n, in R's order), its Greenwood standard error and the interval transforms follow R
``survival::survfit``: ``conf.type = "log-log"`` (the default here and in the report), ``"log"``
(R's default) and ``"plain"``. The median and its interval follow ``print.survfit``, other
quantiles (:meth:`KMCurve.quantile`) ``quantile.survfit``: where a curve equals the target within
``sqrt(.Machine$double.eps)`` over an interval, the quantile is that interval's midpoint (the two
R functions differ only when that flat runs to the last follow-up), and each limit is read from
its own bound curve, so a median that is not reached can still have a lower limit. Checked
against R at these edges in tests/stats/test_km.py (tests/fixtures/km_edges).

Where S(t) = 0 (after a last death) every interval is NaN, as R reports NA. Where S(t) = 1 the
log-log interval is undefined too (NA on R's curve rows at censoring times before the first
death), while ``summary.survfit`` at a time before the first observed time gives [1, 1] for
every ``conf.type``; :attr:`KMCurve.at_times` does the same.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival, check_times_at
from prognosis.stats.logrank import LogRankResult, logrank_test

logger = logging.getLogger(__name__)

ConfType = Literal["log-log", "log", "plain"]


@dataclass(frozen=True)
class SurvivalAt:
    """S(t) with its interval and the number at risk at ``time``; NaN beyond follow-up."""

    time: float
    estimate: float
    lower: float
    upper: float
    n_at_risk: int


@dataclass(frozen=True)
class Median:
    """Median survival and its interval, as ``print.survfit``; NaN where the curve (or that bound)
    never reaches 0.5, each limit on its own (a median not reached can have a lower limit)."""

    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Quantile:
    """The time by which a fraction ``prob`` had the event, with its interval; NaN where not reached."""

    prob: float
    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class KMCurve:
    """One Kaplan–Meier curve, evaluated at its event times."""

    label: str
    n: int
    events: int
    time: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    censor_times: np.ndarray
    followup: np.ndarray
    median: Median
    at_times: tuple[SurvivalAt, ...]
    conf_type: ConfType = "log-log"
    conf_level: float = 0.95

    def survival_at(self, times: np.ndarray) -> np.ndarray:
        """S(t) for arbitrary times (right-continuous step function)."""
        index = np.searchsorted(self.time, np.asarray(times, dtype=float), side="right") - 1
        if self.survival.size == 0:  # a group without events: S stays 1
            return np.ones(index.shape)
        values = np.where(index >= 0, self.survival[np.clip(index, 0, None)], 1.0)
        return values

    def n_at_risk_at(self, times: np.ndarray) -> np.ndarray:
        """Patients still under follow-up (time >= t) at each of ``times``."""
        index = np.searchsorted(self.followup, np.asarray(times, dtype=float), side="left")
        return self.followup.size - index

    def quantile(self, prob: float) -> Quantile:
        """The ``prob`` quantile of the event time (0.5: the median) and its interval.

        As R ``quantile(survfit(...), prob)``: the first time at which 1 - S(t) reaches ``prob``,
        or the midpoint of the interval over which it equals ``prob``; the lower (upper) limit
        is the same rule applied to the lower (upper) bound curve. NaN where a curve never
        reaches ``prob``.

        References
        ----------
        R ``survival:::quantile.survfit`` (its helper ``findq``), survival 3.5.
        """
        prob = float(prob)
        if not 0.0 <= prob <= 1.0:
            raise ModelError(f"a survival quantile needs a probability in [0, 1], not {prob}")
        times, surv, lower, upper = _curve_rows(self)
        return Quantile(prob, *(_find_quantile(times, curve, prob) for curve in (surv, lower, upper)))


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier curves per level of ``by`` and the log-rank test between them."""

    by: str
    groups: dict[str, KMCurve]
    logrank: LogRankResult
    times: tuple[float, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """S(t) with its interval and the number at risk at each of ``times``, one row per (group, time).

        Columns ``group``, ``time``, ``estimate``, ``lower``, ``upper`` (probabilities; NaN beyond
        follow-up) and ``n_at_risk``.
        """
        rows = [{"group": level, "time": s.time, "estimate": s.estimate, "lower": s.lower, "upper": s.upper,
                 "n_at_risk": s.n_at_risk} for level, curve in self.groups.items() for s in curve.at_times]
        return pd.DataFrame(rows, columns=["group", "time", "estimate", "lower", "upper", "n_at_risk"])


def _interval(surv: np.ndarray, se_log: np.ndarray, z: float, conf_type: ConfType) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log-log":
            defined = (surv > 0) & (surv < 1)
            log_s = np.log(np.where(defined, surv, np.nan))
            a = np.exp(-np.exp(np.log(-log_s) + z * se_log / log_s))
            b = np.exp(-np.exp(np.log(-log_s) - z * se_log / log_s))
            return np.minimum(a, b), np.maximum(a, b)
        if conf_type == "log":
            width = np.exp(z * se_log)
            lower = np.where(surv > 0, surv / width, np.nan)
            return lower, np.minimum(surv * width, 1.0)
        if conf_type == "plain":
            half = z * se_log * surv
            return np.clip(surv - half, 0.0, 1.0), np.clip(surv + half, 0.0, 1.0)
    raise ValueError(f"conf_type must be 'log-log', 'log' or 'plain', not {conf_type!r}")


# survival's quantile.survfit: values within sqrt(.Machine$double.eps) of the target count as equal.
_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


def _unit_bounds(conf_type: ConfType) -> float:
    """The interval R puts on a curve row where S = 1: log-log is undefined (NA), the others [1, 1]."""
    return float("nan") if conf_type == "log-log" else 1.0


def _curve_rows(curve: KMCurve) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """S and its bounds at every distinct observed time, censorings included, as R ``survfit`` rows."""
    times = np.unique(curve.followup)
    index = np.searchsorted(curve.time, times, side="right") - 1
    before = index < 0
    at = np.clip(index, 0, None)
    if curve.time.size == 0:
        ones = np.ones(times.size)
        bounds = np.full(times.size, _unit_bounds(curve.conf_type))
        return times, ones, bounds, bounds.copy()
    surv = np.where(before, 1.0, curve.survival[at])
    lower = np.where(before, _unit_bounds(curve.conf_type), curve.lower[at])
    upper = np.where(before, _unit_bounds(curve.conf_type), curve.upper[at])
    return times, surv, lower, upper


def _median_time(times: np.ndarray, curve: np.ndarray) -> float:
    """First time the curve is at or below 0.5, as ``print.survfit`` (survival's ``survmean``).

    On an exact flat at 0.5 it is the midpoint of the flat's start and the next drop. Unlike
    :meth:`KMCurve.quantile` (R's ``quantile.survfit``), a flat that runs to the end of follow-up
    gives its start, not the midpoint with the last observed time: R's two functions differ there.
    """
    keep = ~np.isnan(curve) & (curve < 0.5 + _QUANTILE_TOL)
    if not keep.any():
        return float("nan")
    times, curve = times[keep], curve[keep]
    drops = np.flatnonzero(curve < curve[0])
    if abs(curve[0] - 0.5) < _QUANTILE_TOL and drops.size:
        return float((times[0] + times[drops[0]]) / 2)
    return float(times[0])


def _first_knot_at_or_above(knots: np.ndarray, prob: float) -> int | None:
    """R ``approx(knots, seq_along(knots), prob, method = "constant", f = 1)``, 0-based: the first
    knot >= ``prob``; None outside the knots' range. Missing knots are dropped, as approx does."""
    rows = np.flatnonzero(~np.isnan(knots))
    if rows.size == 0:
        return None
    order = np.argsort(knots[rows], kind="stable")
    values, rows = knots[rows][order], rows[order]
    if prob < values[0] or prob > values[-1]:
        return None
    return int(rows[np.searchsorted(values, prob, side="left")])


def _find_quantile(times: np.ndarray, curve: np.ndarray, prob: float) -> float:
    """Time at which the step function 1 - ``curve`` reaches ``prob``, as survival's ``findq``.

    Where 1 - curve equals ``prob`` within the tolerance on [t1, t2), the quantile is (t1 + t2) / 2;
    when that flat runs to the end of follow-up, t2 is the last observed time.
    """
    x = np.concatenate([[0.0], times])
    y = np.concatenate([[0.0], 1.0 - curve])
    if np.isnan(y).all() or np.nanmax(y) < prob:
        return float("nan")
    last_time = x[-1]
    # R drops repeated values of y (a missing one repeats an earlier missing one), keeping the first.
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    if prob == 0.0:
        return float(x[0])
    first = _first_knot_at_or_above(y + _QUANTILE_TOL, prob)
    if first is None:
        return float("nan")
    if not np.isnan(y[-1]) and abs(prob - y[-1]) < _QUANTILE_TOL:
        return float((x[first] + last_time) / 2)
    past = _first_knot_at_or_above(y - _QUANTILE_TOL, prob)
    if past is None:
        return float("nan")
    return float((x[first] + x[past]) / 2)


def kaplan_meier(
    time: np.ndarray,
    event: np.ndarray,
    *,
    times: tuple[float, ...] = (),
    conf_level: float = 0.95,
    conf_type: ConfType = "log-log",
    label: str = "all",
) -> KMCurve:
    """Kaplan–Meier survival with pointwise intervals, median and survival at chosen times.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator (1 = event, 0 = censored).
    times : tuple of float
        Times at which to report S(t); a time beyond the last follow-up gives NaN, as R's
        ``summary.survfit`` omits it.
    conf_level : float
        Level of the pointwise intervals.
    conf_type : {"log-log", "log", "plain"}
        Interval transform, as R ``survfit(conf.type = ...)``.
    label : str
        Name of the group, kept on the result.

    Returns
    -------
    KMCurve
        With the median and its interval as ``print.survfit`` (NaN where a curve never reaches
        0.5, each limit on its own) and S(t) at ``times`` as ``summary.survfit``.

    References
    ----------
    R ``survival::survfit.formula``, ``survival:::survmean`` (the printed median) and
    ``survival:::quantile.survfit``.
    """
    time, event = check_survival(time, event, require_events=False)
    times = check_times_at(times)
    fit = SurvfuncRight(time, event)
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    n_risk = np.asarray(fit.n_risk, dtype=float)
    n_events = np.asarray(fit.n_events, dtype=float)
    # The product (n - d) / n in R's order, not statsmodels' exp(sum(log)): the two differ in the
    # last bit, and an exact flat at 0.5 (the median rule) must stay exactly 0.5 as in R.
    surv = np.cumprod((n_risk - n_events) / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood's SE of log S; infinite once S = 0 (R's std.err is Inf there too).
        se_log = np.where(surv > 0, np.sqrt(np.cumsum(n_events / (n_risk * (n_risk - n_events)))), np.nan)
    lower, upper = _interval(surv, se_log, z, conf_type)
    event_times = np.asarray(fit.surv_times, dtype=float)

    first_followup = time.min() if time.size else 0.0
    last_followup = time.max() if time.size else 0.0
    at_times = []
    for t in times:
        n_risk = int((time >= t).sum())
        if t > last_followup:
            at_times.append(SurvivalAt(float(t), float("nan"), float("nan"), float("nan"), n_risk))
            continue
        i = np.searchsorted(event_times, t, side="right") - 1
        if t < first_followup:
            # summary.survfit reads a time before the first observed one off its time-0 row: [1, 1].
            at_times.append(SurvivalAt(float(t), 1.0, 1.0, 1.0, n_risk))
        elif i < 0:
            # From a censoring before the first death, R reads the curve row: S = 1, where the
            # log-log interval is NA and the others are [1, 1].
            bound = _unit_bounds(conf_type)
            at_times.append(SurvivalAt(float(t), 1.0, bound, bound, n_risk))
        else:
            at_times.append(SurvivalAt(float(t), float(surv[i]), float(lower[i]), float(upper[i]), n_risk))
    curve = KMCurve(
        label=label, n=int(time.size), events=int(event.sum()), time=event_times, survival=surv,
        lower=lower, upper=upper, n_at_risk=np.asarray(fit.n_risk, dtype=int),
        n_events=np.asarray(fit.n_events, dtype=int), censor_times=np.sort(time[event == 0]),
        followup=np.sort(time), median=Median(float("nan"), float("nan"), float("nan")),
        at_times=tuple(at_times), conf_type=conf_type, conf_level=conf_level,
    )
    rows = _curve_rows(curve)
    median = Median(*(_median_time(rows[0], bound) for bound in rows[1:]))
    return dataclasses.replace(curve, median=median)


def kaplan_meier_by(
    time: np.ndarray,
    event: np.ndarray,
    group: pd.Series | np.ndarray,
    *,
    levels: tuple[str, ...] | None = None,
    by: str = "group",
    times: tuple[float, ...] = (),
    conf_level: float = 0.95,
    conf_type: ConfType = "log-log",
) -> KMResult:
    """Kaplan–Meier curve per group and the log-rank test across groups.

    Parameters
    ----------
    time, event : ndarray
        Follow-up and event indicator.
    group : array-like
        Group of each patient; compared as text.
    levels : tuple of str, optional
        Group order (e.g. the dictionary's levels); groups with no patient are left out.
        Defaults to the sorted distinct values.

    See Also
    --------
    kaplan_meier, prognosis.stats.logrank.logrank_test
    """
    time, event = check_survival(time, event, group=group)
    labels = pd.Series(np.asarray(group, dtype=object)).map(lambda v: str(v)).to_numpy()
    present = set(labels)
    order = [lv for lv in (levels or sorted(present)) if lv in present]
    groups = {
        level: kaplan_meier(time[labels == level], event[labels == level], times=times,
                            conf_level=conf_level, conf_type=conf_type, label=level)
        for level in order
    }
    return KMResult(by=by, groups=groups, logrank=logrank_test(time, event, labels, by=by), times=tuple(times))
