"""Predictions, calibration and the combined validation summary of a Cox model.

:func:`baseline_hazard` and :func:`predict_survival` give S(t | x) as R's ``survfit.coxph``
(Breslow or Efron-corrected baseline hazard); :func:`calibration_at` compares predicted with
Kaplan–Meier survival at one time; :func:`validate_cox` puts discrimination, calibration and the
bootstrap optimism correction (:mod:`prognosis.stats.bootstrap`) into one :class:`ValidationSummary`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis._json import finite_or_none
from prognosis.errors import ConvergenceWarning, ModelError
from prognosis.stats.bootstrap import ValidationResult, bootstrap_validate
from prognosis.stats.checks import check_survival, check_times_at
from prognosis.stats.compare import MIN_EVENTS_PER_VARIABLE
from prognosis.stats.cox import Ties, fit_cox
from prognosis.stats.cox_engine import newton_cox
from prognosis.stats.design import Design
from prognosis.stats.discrimination import DiscriminationResult, discrimination
from prognosis.stats.km import kaplan_meier

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- predictions

@dataclass(frozen=True)
class BaselineHazard:
    """The baseline cumulative hazard of a Cox model, a step function jumping at the event times.

    ``cumulative_hazard`` is for a patient whose linear predictor equals ``center`` (the mean
    linear predictor of the fitting data, as R centres covariates); S(t | x) does not depend on it.
    """

    time: np.ndarray
    cumulative_hazard: np.ndarray
    coef: np.ndarray
    center: float
    ties: Ties

    def at(self, times: np.ndarray) -> np.ndarray:
        """The baseline cumulative hazard (at ``center``) at ``times``; 0 before the first event."""
        i = np.searchsorted(self.time, np.asarray(times, dtype=float), side="right")
        return np.concatenate([[0.0], self.cumulative_hazard])[i]


def linear_predictor(x: np.ndarray | pd.DataFrame | Design, coef: np.ndarray) -> np.ndarray:
    """x @ coef for a design matrix (uncentred, as R ``predict(fit, type = "lp", reference = "zero")``)."""
    matrix = x.matrix if isinstance(x, Design) else x
    return np.asarray(matrix, dtype=float) @ np.asarray(coef, dtype=float)


def baseline_hazard(time: np.ndarray, event: np.ndarray, x: np.ndarray | pd.DataFrame | Design,
                    coef: np.ndarray, *, ties: Ties = "efron") -> BaselineHazard:
    """The Breslow (or Efron-corrected) baseline cumulative hazard of a fitted Cox model.

    At an event time with d deaths, risk-set sum R and deaths' sum D of exp(lp), the hazard
    jumps by d / R (Breslow) or by sum_{k<d} 1 / (R - k D / d) (Efron).

    Parameters
    ----------
    time, event : ndarray
        The data the model was fitted to.
    x : ndarray, DataFrame or Design
        Its design matrix, columns aligned with ``coef``.
    coef : ndarray
        The fitted coefficients (:attr:`prognosis.stats.CoxResult.coef`).
    ties : {"efron", "breslow"}
        As the fit: R's ``survfit.coxph`` uses ``ctype = 2`` (Efron) after ``ties = "efron"``.

    References
    ----------
    R ``survival::survfit.coxph`` (default ``stype = 2``); Breslow NE (1974) Biometrics 30:89-99.
    """
    time, event = check_survival(time, event, x=getattr(x, "matrix", x))
    lp = linear_predictor(x, coef)
    center = float(lp.mean())
    risk = np.exp(lp - center)
    order = np.argsort(time, kind="stable")
    time_sorted, event_sorted, risk_sorted = time[order], event[order], risk[order]
    event_times, first = np.unique(time_sorted, return_index=True)
    # risk-set sums: everyone whose time is >= t, i.e. from the first index of t onwards
    at_risk = np.cumsum(risk_sorted[::-1])[::-1][first]
    deaths = np.add.reduceat(event_sorted, first)
    death_risk = np.add.reduceat(risk_sorted * event_sorted, first)
    keep = deaths > 0
    event_times, at_risk, deaths, death_risk = event_times[keep], at_risk[keep], deaths[keep], death_risk[keep]
    if ties == "breslow":
        jump = deaths / at_risk
    elif ties == "efron":
        jump = np.array([np.sum(1.0 / (r - np.arange(d) / d * dr)) for r, d, dr in
                         zip(at_risk, deaths.astype(int), death_risk)])
    else:
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    return BaselineHazard(event_times, np.cumsum(jump), np.asarray(coef, dtype=float).copy(), center, ties)


def predict_survival(baseline: BaselineHazard, x: np.ndarray | pd.DataFrame | Design,
                     times: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """S(t | x) = exp(-H0(t) exp(lp)), shape (n_patients, n_times).

    References
    ----------
    R ``summary(survfit(fit, newdata), times = times)$surv`` (transposed).
    """
    lp = linear_predictor(x, baseline.coef) - baseline.center
    return np.exp(-np.outer(np.exp(lp), baseline.at(np.asarray(times, dtype=float))))


# ------------------------------------------------------------------------------- calibration

@dataclass(frozen=True)
class CalibrationGroup:
    """One risk group: mean predicted and Kaplan–Meier survival at the calibration time."""

    n: int
    predicted: float
    observed: float
    lower: float
    upper: float

    def to_dict(self) -> dict:
        return {"n": self.n, "predicted": finite_or_none(self.predicted), "observed": finite_or_none(self.observed),
                "lower": finite_or_none(self.lower), "upper": finite_or_none(self.upper)}


@dataclass(frozen=True)
class CalibrationResult:
    """Predicted against observed survival at ``time`` by group of predicted risk (lowest risk first)."""

    time: float
    groups: tuple[CalibrationGroup, ...]
    slope: float
    slope_se: float
    conf_level: float

    def to_dict(self) -> dict:
        return {"time": self.time, "groups": [g.to_dict() for g in self.groups],
                "slope": finite_or_none(self.slope), "slope_se": finite_or_none(self.slope_se),
                "conf_level": self.conf_level}


def calibration_slope(time: np.ndarray, event: np.ndarray, lp: np.ndarray, *, ties: Ties = "efron") -> tuple[float, float]:
    """Slope (and its SE) of a Cox regression of the outcome on a linear predictor; 1 = well calibrated."""
    time, event = check_survival(time, event, lp=lp)
    fit = newton_cox(time, event, np.asarray(lp, dtype=float)[:, None], ties=ties)
    return float(fit.coef[0]), float(np.sqrt(1.0 / fit.information[0, 0]))


def calibration_at(time: np.ndarray, event: np.ndarray, predicted_survival_at_t: np.ndarray, t: float, *,
                   groups: int = 10, conf_level: float = 0.95) -> CalibrationResult:
    """Calibration of predicted survival at time ``t``.

    Patients are sorted by predicted survival and split into ``groups`` groups of (nearly)
    equal size, highest predicted survival first; each group's mean prediction is set against
    its Kaplan–Meier estimate at ``t`` with a log-log interval (undefined, NaN, while S = 1).
    The slope is that of a Cox regression of the outcome on log(-log S(t | x)), which for a Cox
    model is the linear predictor plus a constant: 1 on the fitting data, below 1 when
    predictions are too extreme.

    Raises
    ------
    ModelError
        Predictions missing or outside (0, 1), or too few patients for ``groups``.

    References
    ----------
    R ``rms::calibrate(cph, u = t, cmethod = "KM")`` (grouped KM); van Houwelingen HC (2000)
    Stat Med 19:3401-3415 (calibration slope).
    """
    time, event = check_survival(time, event, predicted_survival_at_t=predicted_survival_at_t)
    t = check_times_at(t, name="the calibration time")[0]
    predicted = np.asarray(predicted_survival_at_t, dtype=float)
    if predicted.shape != time.shape or not np.all((predicted > 0) & (predicted < 1)):
        raise ModelError("predicted survival must have one value per patient, strictly between 0 and 1")
    if groups < 1 or time.size < 2 * groups:
        raise ModelError(f"{time.size} patients are too few for {groups} calibration groups")
    order = np.argsort(-predicted, kind="stable")
    rows = []
    for members in np.array_split(order, groups):
        # km.py's median interval takes log(-log S) at S = 1 in small groups: harmless, silenced here
        with np.errstate(divide="ignore", invalid="ignore"):
            at = kaplan_meier(time[members], event[members], times=(float(t),), conf_level=conf_level).at_times[0]
        rows.append(CalibrationGroup(int(members.size), float(predicted[members].mean()), at.estimate, at.lower, at.upper))
    slope, slope_se = calibration_slope(time, event, np.log(-np.log(predicted)))
    return CalibrationResult(float(t), tuple(rows), slope, slope_se, conf_level)


# ------------------------------------------------------------------------- events per variable

def events_per_variable(n_events: int, n_terms: int) -> float:
    """Events per estimated model term; warns below 10 (Peduzzi P et al. 1995, J Clin Epidemiol 48:1503).

    Warns
    -----
    ConvergenceWarning
        Fewer than 10 events per term.
    """
    epv = float(n_events) / max(int(n_terms), 1)
    if epv < MIN_EVENTS_PER_VARIABLE:
        warnings.warn(f"only {epv:.1f} events per model term (fewer than {MIN_EVENTS_PER_VARIABLE:g}); "
                      "performance estimates may be optimistic or unstable", ConvergenceWarning, stacklevel=2)
    return epv


# --------------------------------------------------------------------------------- summary

@dataclass(frozen=True)
class ValidationSummary:
    """Apparent discrimination and calibration plus bootstrap-corrected indexes of one Cox model."""

    discrimination: DiscriminationResult
    calibration: CalibrationResult
    bootstrap: ValidationResult
    events_per_variable: float

    def to_dict(self) -> dict:
        disc = self.discrimination.to_dict()
        return {"harrell_c": disc["harrell_c"], "uno_c": disc["uno_c"], "times": disc["times"], "auc": disc["auc"],
                "brier": disc["brier"], "integrated_brier": disc["integrated_brier"],
                "calibration": self.calibration.to_dict(), "bootstrap": self.bootstrap.to_dict(),
                "events_per_variable": self.events_per_variable}


def validate_cox(time: np.ndarray, event: np.ndarray, design: Design, *, times: tuple[float, ...],
                 calibration_time: float | None = None, groups: int = 10, B: int = 200,
                 seed: int | np.random.Generator | None = 1, ties: Ties = "efron",
                 progress: bool | Callable[[int, int], None] | None = None) -> ValidationSummary:
    """Fit the Cox model and assess it: discrimination, calibration, bootstrap optimism, EPV.

    ``calibration_time`` defaults to ``max(times)``. See :func:`discrimination`,
    :func:`calibration_at` and :func:`prognosis.stats.bootstrap_validate` for the parts.

    Raises
    ------
    ModelError
        No event by the calibration time (the message names ``validation.times``), or from the parts.
    """
    time, event = check_survival(time, event, design=design.matrix)
    fit = fit_cox(time, event, design, ties=ties)
    epv = events_per_variable(fit.n_events, len(fit.terms))
    base = baseline_hazard(time, event, design, fit.coef, ties=ties)
    lp = linear_predictor(design, fit.coef)
    t_cal = float(max(times) if calibration_time is None else calibration_time)
    if not np.any((event == 1) & (time <= t_cal)):
        # The baseline hazard is 0 before the first event: every predicted survival is 1 and the
        # groups have nothing to set against each other. Said in the spec's terms, since this
        # becomes the validation section's not-computed reason (no patient's time is quoted).
        raise ModelError(f"calibration at {t_cal:g} is not possible: no event by then, so every predicted "
                         "survival is 1; give validation.times whose last (the calibration time) is after "
                         "the first event")
    disc = discrimination(time, event, lp, times=times, survival_at_times=predict_survival(base, design, times))
    calib = calibration_at(time, event, predict_survival(base, design, (t_cal,))[:, 0], t_cal, groups=groups)
    boot = bootstrap_validate(time, event, design, B=B, seed=seed, ties=ties, progress=progress)
    return ValidationSummary(disc, calib, boot, epv)
