"""Kaplan–Meier estimates with pointwise confidence intervals, as R's ``survfit``.

The estimate and Greenwood standard error come from statsmodels' ``SurvfuncRight``; the
interval transforms and the median's interval follow R ``survival::survfit``:
``conf.type = "log-log"`` (the default here and in the report), ``"log"`` (R's default) and
``"plain"``. Where S(t) is 1 or 0, the log-log interval is undefined and reported as NaN, as R
reports NA.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from prognosis.stats.checks import check_survival
from prognosis.stats.logrank import LogRankResult, logrank_test

logger = logging.getLogger(__name__)

ConfType = Literal["log-log", "log", "plain"]
_QUANTILE_METHOD = {"log-log": "cloglog", "log": "log", "plain": "linear"}


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
    """Median survival and its interval; NaN where the curve (or a bound) never reaches 0.5."""

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


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier curves per level of ``by`` and the log-rank test between them."""

    by: str
    groups: dict[str, KMCurve]
    logrank: LogRankResult
    times: tuple[float, ...] = field(default=())


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


def _finite_or_nan(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else float("nan")


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

    References
    ----------
    R ``survival::survfit.formula`` and ``survival:::quantile.survfit``.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    fit = SurvfuncRight(time, event)
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    surv = np.asarray(fit.surv_prob, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(surv > 0, np.asarray(fit.surv_prob_se) / surv, np.nan)
    lower, upper = _interval(surv, se_log, z, conf_type)
    event_times = np.asarray(fit.surv_times, dtype=float)

    estimate = _finite_or_nan(fit.quantile(0.5)) if surv.size and surv.min() <= 0.5 else float("nan")
    if np.isfinite(estimate):
        ci = fit.quantile_ci(0.5, alpha=1 - conf_level, method=_QUANTILE_METHOD[conf_type])
        median = Median(estimate, _finite_or_nan(ci[0]), _finite_or_nan(ci[1]))
    else:
        median = Median(float("nan"), float("nan"), float("nan"))

    last_followup = time.max() if time.size else 0.0
    at_times = []
    for t in times:
        n_risk = int((time >= t).sum())
        if t > last_followup:
            at_times.append(SurvivalAt(float(t), float("nan"), float("nan"), float("nan"), n_risk))
            continue
        i = np.searchsorted(event_times, t, side="right") - 1
        if i < 0:
            # Before the first event S = 1; R leaves the log-log interval undefined (NA) there.
            bound = 1.0 if conf_type != "log-log" else float("nan")
            at_times.append(SurvivalAt(float(t), 1.0, bound, bound, n_risk))
        else:
            at_times.append(SurvivalAt(float(t), float(surv[i]), float(lower[i]), float(upper[i]), n_risk))
    return KMCurve(
        label=label, n=int(time.size), events=int(event.sum()), time=event_times, survival=surv,
        lower=lower, upper=upper, n_at_risk=np.asarray(fit.n_risk, dtype=int),
        n_events=np.asarray(fit.n_events, dtype=int), censor_times=np.sort(time[event == 0]),
        followup=np.sort(time),
        median=median, at_times=tuple(at_times), conf_type=conf_type, conf_level=conf_level,
    )


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
    time, event = check_survival(time, event)
    labels = pd.Series(np.asarray(group, dtype=object)).map(lambda v: str(v)).to_numpy()
    present = set(labels)
    order = [lv for lv in (levels or sorted(present)) if lv in present]
    groups = {
        level: kaplan_meier(time[labels == level], event[labels == level], times=times,
                            conf_level=conf_level, conf_type=conf_type, label=level)
        for level in order
    }
    return KMResult(by=by, groups=groups, logrank=logrank_test(time, event, labels, by=by), times=tuple(times))
