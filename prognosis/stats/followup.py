"""Follow-up summaries: median follow-up by reverse Kaplan–Meier, and numbers at risk.

The reverse Kaplan–Meier estimate treats censoring as the event and events as censored, so the
median is the time by which half the patients would have left follow-up had none had the event
(Schemper & Smith, 1996). It is what REMARK asks for instead of the median observed time, which
shrinks with every early event.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis._json import finite_or_none
from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival, check_time, check_times_at
from prognosis.stats.km import ConfType, kaplan_meier

logger = logging.getLogger(__name__)

ALL_EVENTS_NOTE = ("every patient had the event, so nobody is censored and the reverse Kaplan–Meier median "
                   "follow-up is undefined (R gives NA); the observed follow-up is complete")


@dataclass(frozen=True)
class FollowUpResult:
    """Median follow-up and its interval; NaN where the reverse curve (or a bound) stays above 0.5.

    ``note`` says why the median is undefined when that is not just a short follow-up (every
    patient had the event, so nobody is censored: R's ``quantile(survfit(...))`` gives NA).
    """

    median: float
    lower: float
    upper: float
    n: int
    n_censored: int
    conf_type: ConfType = "log"
    conf_level: float = 0.95
    method: str = "reverse Kaplan-Meier"
    note: str | None = None

    def to_dict(self) -> dict:
        out = {"median": finite_or_none(self.median), "lower": finite_or_none(self.lower),
               "upper": finite_or_none(self.upper), "method": self.method}
        if self.note is not None:
            out["note"] = self.note
        return out


def median_followup(
    time: np.ndarray, event: np.ndarray, *, conf_level: float = 0.95, conf_type: ConfType = "log",
) -> FollowUpResult:
    """Median follow-up by the reverse Kaplan–Meier method, with its confidence interval.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator (1 = event, 0 = censored), as for survival.
    conf_level : float
        Level of the interval.
    conf_type : {"log", "log-log", "plain"}
        Interval transform, as R ``survfit(conf.type = ...)``; the default "log" is R's default.

    Returns
    -------
    FollowUpResult

    Raises
    ------
    ModelError
        Inputs fail :func:`~prognosis.stats.checks.check_survival`.

    Notes
    -----
    When every patient had the event nobody is censored, the reverse curve stays at 1 and the
    median and both bounds are NaN with a ``note``, as R gives NA there.

    References
    ----------
    R ``quantile(survfit(Surv(time, 1 - status) ~ 1, conf.type = "log"), 0.5)``.
    Schemper M, Smith TL (1996). Control Clin Trials 17:343-346.

    See Also
    --------
    prognosis.stats.km.kaplan_meier
    """
    time, event = check_survival(time, event, what="the follow-up cohort")
    censored = 1.0 - event
    if censored.sum() == 0:
        # R: quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5) is NA, and every other estimate still fits.
        return FollowUpResult(math.nan, math.nan, math.nan, n=int(time.size), n_censored=0, conf_type=conf_type,
                              conf_level=conf_level, note=ALL_EVENTS_NOTE)
    # statsmodels' quantile_ci takes logs of S = 0 and 1 on the way; those NaNs are expected and
    # never reach the interval, so numpy's divide warnings are noise here.
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = kaplan_meier(time, censored, conf_level=conf_level, conf_type=conf_type, label="follow-up")
    # R's quantile.survfit rule, as the reference above (a flat at 0.5 gives its midpoint, and one
    # running to the last follow-up its midpoint with that time), not print.survfit's median.
    median = curve.quantile(0.5)
    return FollowUpResult(median.estimate, median.lower, median.upper, n=int(time.size),
                          n_censored=int(censored.sum()), conf_type=conf_type, conf_level=conf_level)


def median_followup_by(
    time: np.ndarray, event: np.ndarray, group: np.ndarray | pd.Series, *, levels: tuple[str, ...] | None = None,
    conf_level: float = 0.95, conf_type: ConfType = "log", by: str = "group",
) -> dict[str, FollowUpResult]:
    """:func:`median_followup` within each level of ``group``, in ``levels`` order (default sorted)."""
    time, event = check_survival(time, event, group=group)
    labels = _labels(group, by, time.size)
    order = [lv for lv in (levels or sorted(set(labels))) if lv in set(labels)]
    return {lv: median_followup(time[labels == lv], event[labels == lv], conf_level=conf_level, conf_type=conf_type)
            for lv in order}


@dataclass(frozen=True)
class NumbersAtRisk:
    """Patients still under follow-up (time >= t) at each of ``times``, per group."""

    times: tuple[float, ...]
    n_at_risk: dict[str, tuple[int, ...]]

    def to_dict(self) -> dict:
        return {"times": list(self.times), "n_at_risk": {g: list(n) for g, n in self.n_at_risk.items()}}

    def to_frame(self) -> pd.DataFrame:
        """One row per group, one column per time, as printed under a Kaplan–Meier plot."""
        return pd.DataFrame(self.n_at_risk, index=list(self.times)).T


def numbers_at_risk(
    time: np.ndarray, group: np.ndarray | pd.Series | None = None, *, times: tuple[float, ...],
    levels: tuple[str, ...] | None = None, by: str = "group",
) -> NumbersAtRisk:
    """Numbers at risk at ``times`` per group (one group "all" when ``group`` is None).

    References
    ----------
    R ``summary(survfit(Surv(time, status) ~ group), times = times, extend = TRUE)$n.risk``.
    """
    time = check_time(time)
    labels = np.full(time.size, "all", dtype=object) if group is None else _labels(group, by, time.size)
    present = set(labels)
    order = [lv for lv in (levels or sorted(present)) if lv in present]
    at = np.asarray(check_times_at(times), dtype=float)
    counts = {}
    for lv in order:
        followup = np.sort(time[labels == lv])
        # Still at risk at t means follow-up >= t, as R's n.risk (and KMCurve.n_at_risk_at).
        counts[lv] = tuple(int(n) for n in followup.size - np.searchsorted(followup, at, side="left"))
    return NumbersAtRisk(tuple(float(t) for t in at), counts)


def _labels(group: np.ndarray | pd.Series, by: str, n: int) -> np.ndarray:
    values = pd.Series(np.asarray(group, dtype=object))
    if values.size != n:
        raise ModelError(f"{by} must have one value per patient")
    if values.isna().any():
        raise ModelError(f"{by} has missing values; drop or impute those patients first")
    return values.map(str).to_numpy()


