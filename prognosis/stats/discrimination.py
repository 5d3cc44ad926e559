"""How well a risk score separates patients: Harrell's and Uno's C, time-dependent AUC, Brier score.

Harrell's C is lifelines' ``concordance_index``, which counts pairs as R's ``concordance`` does
(tests/stats/test_validation.py). Uno's C, the cumulative/dynamic AUC and the Brier scores are
scikit-survival's, with the same cohort as "training" data for the censoring weights (apparent
performance); for honest estimates see :func:`prognosis.stats.bootstrap_validate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from lifelines.utils import concordance_index
from sksurv.metrics import brier_score, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from prognosis._json import finite_or_none
from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival, check_times_at

logger = logging.getLogger(__name__)


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
    """
    time, event = check_survival(time, event, risk=risk)
    return float(concordance_index(time, -np.asarray(risk, dtype=float), event))


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

    References
    ----------
    R ``survival::concordance``; scikit-survival ``concordance_index_ipcw`` (Uno H et al. 2011,
    Stat Med 30:1105-1117), ``cumulative_dynamic_auc`` (Uno H et al. 2007, JASA 102:1050-1059;
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
        raise ModelError(f"times must lie within the follow-up, from {time.min():g} to before {time.max():g}")
    surv = Surv.from_arrays(event.astype(bool), time)
    tau = float(times[-1])
    uno = float(concordance_index_ipcw(surv, surv, risk, tau=tau)[0])
    auc, mean_auc = cumulative_dynamic_auc(surv, surv, risk, times)
    brier = np.full(times.size, np.nan)
    integrated = float("nan")
    if survival_at_times is not None:
        survival_at_times = np.asarray(survival_at_times, dtype=float)
        if survival_at_times.shape != (time.size, times.size):
            raise ModelError(f"survival_at_times must have shape ({time.size}, {times.size}): one row per "
                             "patient and one column per time")
        brier = np.asarray(brier_score(surv, surv, survival_at_times, times)[1], dtype=float)
        if times.size >= 2:
            integrated = float(integrated_brier_score(surv, surv, survival_at_times, times))
    return DiscriminationResult(
        harrell_c=harrell_c(time, event, risk), uno_c=uno, tau=tau, times=times,
        auc=np.asarray(auc, dtype=float), mean_auc=float(mean_auc), brier=brier, integrated_brier=integrated,
        n=int(time.size), n_events=int(event.sum()),
    )
