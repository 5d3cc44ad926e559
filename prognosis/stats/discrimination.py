"""How well a risk score separates patients: Harrell's and Uno's C, time-dependent AUC, Brier score.

Harrell's C is lifelines' ``concordance_index``, which counts pairs as R's ``concordance`` does
(tests/stats/test_validation.py). Uno's C is computed here as R's ``concordance(timewt = "n/G2")``
(:func:`uno_c`). The cumulative/dynamic AUC and the Brier scores are scikit-survival's, with the same
cohort as "training" data for the censoring weights (apparent performance); for honest estimates see
:func:`prognosis.stats.bootstrap_validate`.

Censoring weights where a censoring ties an event (which convention each index follows):

- Uno's C: R survival's. An event at t is weighted by 1 / G(t-)^2, G the Kaplan-Meier estimate of
  the censoring distribution with the censorings at t counted after the events at t; events at
  t <= tau count (survival's ``fastkm1`` and ``concordancefit``). scikit-survival's
  ``concordance_index_ipcw`` uses G(t), which already counts the censorings at t, and only events
  at t < tau: on GBSG2 (35 event-censoring ties) 0.681690 against R's 0.681745.
- Time-dependent AUC and Brier score: scikit-survival's, an event at t weighted by 1 / G(t)
  (censorings at t counted), a patient beyond the horizon s by 1 / G(s). R survival 3.5 has
  neither index (no ``brier``), so there is no R convention to follow; R packages that have them
  (timeROC, pec, riskRegression) weight events by G(t-) and may differ where times tie.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
from lifelines.utils import concordance_index
from sksurv.metrics import brier_score, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from prognosis._json import finite_or_none
from prognosis.errors import ModelError, PrognosisWarning
from prognosis.stats.checks import check_survival, check_times_at

logger = logging.getLogger(__name__)

T = TypeVar("T")

# scikit-survival's ValueErrors on valid input, and what they mean for the cohort.
_SKSURV_REASONS = {
    "all samples are censored": "no event before {tau:g}",
    "Found array with 0 sample": "no patient's follow-up ends before {tau:g}",
    "censoring survival function is zero": "the censoring distribution reaches 0 where it is needed "
                                           "(the longest follow-up ends in censoring tied with events)",
}


def _or_undefined(what: str, compute: Callable[[], T], undefined: T, *, tau: float) -> T:
    """``compute()``, or ``undefined`` with a note where scikit-survival finds the index undefined.

    R reports such an index as NA (no comparable pairs, no cases at t); scikit-survival raises
    ValueError. Only its known messages are caught: any other error is a bug and propagates.
    """
    try:
        return compute()
    except ValueError as error:
        reason = next((r for key, r in _SKSURV_REASONS.items() if str(error).startswith(key)), None)
        if reason is None:
            raise
        warnings.warn(f"{what} is undefined ({reason.format(tau=tau)}); reported as null",
                      PrognosisWarning, stacklevel=3)
        return undefined


def _list(values: np.ndarray) -> list[float | None]:
    return [finite_or_none(v) for v in np.asarray(values, dtype=float)]


@dataclass(frozen=True)
class DiscriminationResult:
    """Discrimination of a risk score (higher = worse prognosis); arrays are aligned with ``times``.

    ``brier`` is NaN and ``integrated_brier`` NaN when no survival predictions were given;
    ``integrated_brier`` is also NaN with fewer than two times.
    """

    harrell_c: float
    uno_c: float
    tau: float
    times: np.ndarray
    auc: np.ndarray
    mean_auc: float
    brier: np.ndarray
    integrated_brier: float
    n: int
    n_events: int

    def to_dict(self) -> dict:
        return {"harrell_c": finite_or_none(self.harrell_c), "uno_c": finite_or_none(self.uno_c),
                "tau": finite_or_none(self.tau), "times": _list(self.times), "auc": _list(self.auc),
                "mean_auc": finite_or_none(self.mean_auc), "brier": _list(self.brier),
                "integrated_brier": finite_or_none(self.integrated_brier), "n": self.n, "events": self.n_events}


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of a risk score (higher = shorter survival).

    A pair is comparable when the shorter time is an event; pairs tied on the score count 1/2,
    pairs of events at the same time are left out, and a censoring at an event's time outlives it.

    References
    ----------
    R ``survival::concordance(Surv(time, status) ~ risk, reverse = TRUE)``; Harrell FE et al.
    (1982) JAMA 247:2543-2546.

    Returns NaN when no pair is comparable (e.g. the only events are at the longest follow-up),
    as R's concordance does (0 / 0).
    """
    time, event = check_survival(time, event, risk=risk)
    return _harrell_c(time, event, np.asarray(risk, dtype=float))


def _harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """:func:`harrell_c` on checked arrays (near ties already merged, once, as R does)."""
    try:
        return float(concordance_index(time, -risk, event))
    except ZeroDivisionError:  # lifelines: "No admissable pairs in the dataset."
        return float("nan")


def _censoring_survival_before(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """G(t-) at each of ``at``: the Kaplan-Meier estimate of the censoring distribution just before t.

    At a censoring time c the risk set is everyone followed to c or beyond except the events at c:
    a censoring tied with an event comes after it, as in R survival's ``fastkm1``. So G(t-) > 0
    at every event time (the patient with the event is still under observation).
    """
    ordered = np.sort(time)
    event_times = np.sort(time[event == 1])
    censor_times, censored = np.unique(time[event == 0], return_counts=True)
    followed = time.size - np.searchsorted(ordered, censor_times, side="left")
    events_there = (np.searchsorted(event_times, censor_times, side="right")
                    - np.searchsorted(event_times, censor_times, side="left"))
    after_each = np.cumprod(1.0 - censored / (followed - events_there))
    # The number of censoring times strictly before t picks the product over them.
    return np.concatenate(([1.0], after_each))[np.searchsorted(censor_times, at, side="left")]


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, *, tau: float) -> float:
    """Uno's IPCW concordance of a risk score (higher = shorter survival), truncated at ``tau``.

    Each event at t <= tau is weighted by 1 / G(t-)^2 (see :func:`_censoring_survival_before`) and
    compared with every patient followed beyond t and every censoring at t; pairs tied on the
    score count 1/2, pairs of events at the same time are no pair. The censoring distribution is
    estimated on the same patients (apparent performance).

    Returns NaN when no pair is comparable (no event by tau, or no one followed beyond the events),
    as R's concordance does (0 / 0).

    References
    ----------
    R ``survival::concordance(Surv(time, status) ~ risk, reverse = TRUE, timewt = "n/G2",
    ymax = tau)`` (survival 3.5); Uno H et al. (2011) Stat Med 30:1105-1117.
    """
    time, event = check_survival(time, event, risk=risk)
    return _uno_c(time, event, np.asarray(risk, dtype=float), tau=tau)


def _uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, *, tau: float) -> float:
    """:func:`uno_c` on checked arrays (near ties already merged, once, as R does)."""
    case_times = np.unique(time[(event == 1) & (time <= tau)])
    weights = _censoring_survival_before(time, event, case_times) ** -2.0
    # sorted once: each case time's controls are then a masked slice, already in order
    order = np.argsort(risk, kind="stable")
    risk_sorted, time_sorted, event_sorted = risk[order], time[order], event[order]
    numerator = denominator = 0.0
    for t, weight in zip(case_times, weights):
        controls = risk_sorted[(time_sorted > t) | ((time_sorted == t) & (event_sorted == 0))]
        cases = risk[(time == t) & (event == 1)]
        lower = np.searchsorted(controls, cases, side="left")
        tied = np.searchsorted(controls, cases, side="right") - lower
        numerator += weight * (lower.sum() + 0.5 * tied.sum())
        denominator += weight * controls.size * cases.size
    return numerator / denominator if denominator > 0 else float("nan")


def discrimination(time: np.ndarray, event: np.ndarray, risk: np.ndarray, *, times: tuple[float, ...] | np.ndarray,
                   survival_at_times: np.ndarray | None = None) -> DiscriminationResult:
    """Harrell's and Uno's C, time-dependent AUC and, given survival predictions, Brier scores.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator.
    risk : ndarray
        The risk score, higher meaning worse prognosis (e.g. a Cox linear predictor).
    times : sequence of float
        Increasing times for the AUC and Brier score, inside the follow-up (before the last
        observed time); ``max(times)`` is also Uno's truncation time tau.
    survival_at_times : ndarray, optional
        Predicted S(t | x), shape (n, len(times)), e.g. from
        :func:`prognosis.stats.predict_survival`.

    Returns
    -------
    DiscriminationResult

    Raises
    ------
    ModelError
        Lengths differ, ``times`` is empty, not increasing or outside the follow-up, or the
        risk score has missing values.

    Warns
    -----
    PrognosisWarning
        An index that is undefined for these data (no event before tau, no comparable pair, a
        censoring distribution at 0); it is NaN in the result (null in results.json), as R's NA.

    References
    ----------
    R ``survival::concordance`` (Harrell's C; Uno's C with ``timewt = "n/G2"``, see :func:`uno_c`
    and the module docstring for the censoring weights); scikit-survival ``cumulative_dynamic_auc`` (Uno H et al. 2007, JASA 102:1050-1059;
    Hung H, Chiang CT 2010, Can J Stat 38:8-26), ``brier_score`` and ``integrated_brier_score``
    (Graf E et al. 1999, Stat Med 18:2529-2545).
    """
    time, event = check_survival(time, event, risk=risk)
    risk = np.asarray(risk, dtype=float)
    times = np.asarray(check_times_at(times), dtype=float)
    if risk.shape != time.shape or np.isnan(risk).any():
        raise ModelError("the risk score must have one non-missing value per patient")
    if times.ndim != 1 or times.size == 0 or np.any(np.diff(times) <= 0):
        raise ModelError("times must be a non-empty increasing sequence")
    if times[0] < time.min() or times[-1] >= time.max():
        # Counted, not quoted: the shortest and longest follow-up are patients' values, and this
        # text becomes the validation section's not-computed reason in results.json.
        early, late = int(np.sum(times < time.min())), int(np.sum(times >= time.max()))
        raise ModelError(f"times must lie within the follow-up: {early} of the {times.size} times are before the "
                         f"shortest follow-up and {late} at or after the longest; choose times inside it")
    surv = Surv.from_arrays(event.astype(bool), time)
    tau = float(times[-1])
    nan = float("nan")
    uno = _uno_c(time, event, risk, tau=tau)
    if np.isnan(uno):
        warnings.warn(f"Uno's C (truncated at {tau:g}) is undefined (no event by {tau:g} with a patient "
                      "followed beyond it); reported as null", PrognosisWarning, stacklevel=2)
    refused = (np.full(times.size, nan), nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc_and_mean = _or_undefined("the time-dependent AUC", lambda: cumulative_dynamic_auc(surv, surv, risk, times),
                                     refused, tau=tau)
    auc, mean_auc = np.asarray(auc_and_mean[0], dtype=float), float(auc_and_mean[1])
    if auc_and_mean is not refused:
        # scikit-survival returns 0 / 0 itself where no case (event by t) or no control exists.
        for t in times[np.isnan(auc)]:
            warnings.warn(f"the time-dependent AUC at {t:g} is undefined (no event by {t:g}, or nobody "
                          "followed beyond it); reported as null", PrognosisWarning, stacklevel=2)
    brier = np.full(times.size, nan)
    integrated = nan
    if survival_at_times is not None:
        survival_at_times = np.asarray(survival_at_times, dtype=float)
        if survival_at_times.shape != (time.size, times.size):
            raise ModelError(f"survival_at_times must have shape ({time.size}, {times.size}): one row per "
                             "patient and one column per time")
        predicted = survival_at_times
        brier = np.asarray(_or_undefined("the Brier score", lambda: brier_score(surv, surv, predicted, times)[1],
                                         brier, tau=tau), dtype=float)
        if times.size >= 2 and np.isfinite(brier).all():
            integrated = float(integrated_brier_score(surv, surv, survival_at_times, times))
    c_index = _harrell_c(time, event, risk)
    if np.isnan(c_index):
        warnings.warn("Harrell's C is undefined (no comparable pair of patients); reported as null",
                      PrognosisWarning, stacklevel=2)
    return DiscriminationResult(
        harrell_c=c_index, uno_c=uno, tau=tau, times=times,
        auc=auc, mean_auc=mean_auc, brier=brier, integrated_brier=integrated,
        n=int(time.size), n_events=int(event.sum()),
    )
