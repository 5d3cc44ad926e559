"""The proportional-hazards test of a fitted Cox model, as R ``survival::cox.zph`` (survival >= 3.0).

For each variable the test is a score test, at the fitted coefficients, for adding the terms
``beta_j * g(t)`` (one per term of the variable, ``g`` a transform of time centred on the
event times), using the full ``2p x 2p`` information matrix, not the older approximation
that correlates the scaled Schoenfeld residuals with time. A factor with ``k`` levels is one
test on ``k - 1`` degrees of freedom; the global test adds every ``g(t)`` term at once.

No library offers this (lifelines' ``proportional_hazard_test`` is the older approximation),
so the score vector and information are accumulated here, once per event, with Efron or
Breslow ties as the fit used; tests/stats/test_ph.py checks them against R.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata

from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival
from prognosis.stats.cox import CoxResult
from prognosis.stats.design import Design

logger = logging.getLogger(__name__)

Transform = Literal["km", "rank", "identity"]


@dataclass(frozen=True)
class PHTest:
    """One score test of proportional hazards."""

    chisq: float
    df: int
    p: float

    def to_dict(self) -> dict:
        return {"chisq": float(self.chisq), "df": int(self.df), "p": float(self.p)}


@dataclass(frozen=True)
class PHTestResult:
    """The proportional-hazards tests of a Cox model and its scaled Schoenfeld residuals.

    ``terms`` is keyed by variable (a three-level factor is one test on 2 df). ``time`` holds
    the transformed event times, ``event_time`` the event times themselves, and ``residuals``
    the scaled Schoenfeld residuals, one row per event (sorted by stratum, then time) and one
    column per variable in ``term_names`` (R's ``zph$x``, ``zph$time``, ``zph$y``). For a
    variable with several terms the column is the residual of their combined effect
    ``x @ beta`` scaled so that a constant effect is 1, as R does. ``strata`` gives each
    row's stratum (None without strata).
    """

    terms: dict[str, PHTest]
    global_test: PHTest
    transform: str
    time: np.ndarray
    residuals: np.ndarray
    term_names: tuple[str, ...]
    event_time: np.ndarray
    strata: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {"terms": {name: test.to_dict() for name, test in self.terms.items()},
                "global": self.global_test.to_dict(), "transform": self.transform}


def _transform_time(time: np.ndarray, event: np.ndarray, transform: str) -> np.ndarray:
    if transform == "identity":
        return time.copy()
    if transform == "rank":
        return rankdata(time)  # all patients, ties averaged, as R rank()
    if transform == "km":
        # 1 - S(t-) from the Kaplan-Meier estimate of the whole cohort (strata ignored, as R)
        unique = np.unique(time)
        at_risk = time.size - np.searchsorted(np.sort(time), unique, side="left")
        deaths = np.bincount(np.searchsorted(unique, time), weights=event, minlength=unique.size)
        surv = np.cumprod(1.0 - deaths / at_risk)
        before = np.concatenate([[1.0], surv])[np.searchsorted(unique, time, side="left")]
        return 1.0 - before
    raise ValueError(f"transform must be 'km', 'rank' or 'identity', not {transform!r}")


def _score_pieces(time, event, stratum, x, eta, gtime, efron):
    """Score for the g(t) terms, 2p x 2p information and unscaled Schoenfeld residuals.

    Rows are sorted by (stratum, time); returns the event rows' indices in that order too.
    """
    order = np.lexsort((time, stratum))
    time, event, stratum, x, eta, gtime = (a[order] for a in (time, event, stratum, x, eta, gtime))
    x = x - x.mean(axis=0)  # centring leaves every quantity unchanged but the sums better conditioned
    risk = np.exp(eta - eta.max())
    n, p = x.shape
    rx = risk[:, None] * x
    rxx = rx[:, :, None] * x[:, None, :]
    # Risk-set sums: everyone in the stratum still followed at t (time >= t), via reverse cumsums.
    key = np.column_stack([stratum, time])
    first = np.ones(n, dtype=bool)
    first[1:] = (key[1:] != key[:-1]).any(axis=1)
    group = np.cumsum(first) - 1  # tied (stratum, time) group of each row
    stratum_end = np.r_[np.flatnonzero(stratum[1:] != stratum[:-1]), n - 1]
    end_of_row = stratum_end[np.searchsorted(stratum_end, np.arange(n))]

    def at_risk_sum(values):
        rev = np.cumsum(values[::-1], axis=0)[::-1]  # sum from row i to n-1
        after = np.concatenate([rev[1:], np.zeros((1,) + values.shape[1:])])
        start = np.flatnonzero(first)[group]
        return rev[start] - after[end_of_row]

    s0, s1, s2 = at_risk_sum(risk), at_risk_sum(rx), at_risk_sum(rxx)
    ev = np.flatnonzero(event == 1)
    n_groups = group[-1] + 1
    d0 = np.bincount(group, weights=risk * event, minlength=n_groups)
    d1 = np.zeros((n_groups, p))
    d2 = np.zeros((n_groups, p, p))
    np.add.at(d1, group[ev], rx[ev])
    np.add.at(d2, group[ev], rxx[ev])
    deaths = np.bincount(group, weights=event, minlength=n_groups)
    g_ev = group[ev]
    # k-th of the d tied deaths (0-based) sees the risk set less k/d of the deaths (Efron);
    # Breslow keeps all of them (fraction 0).
    rank_in_group = np.arange(ev.size) - np.searchsorted(g_ev, g_ev, side="left")
    frac = rank_in_group / deaths[g_ev] if efron else np.zeros(ev.size)
    den = s0[ev] - frac * d0[g_ev]
    mean = (s1[ev] - frac[:, None] * d1[g_ev]) / den[:, None]
    var = (s2[ev] - frac[:, None, None] * d2[g_ev]) / den[:, None, None] - mean[:, :, None] * mean[:, None, :]
    g = gtime[ev]
    info = np.zeros((2 * p, 2 * p))
    info[:p, :p] = var.sum(axis=0)
    info[:p, p:] = info[p:, :p] = np.einsum("e,eij->ij", g, var)
    info[p:, p:] = np.einsum("e,eij->ij", g * g, var)
    if efron:  # each tied death is compared with the average of the d Efron means
        sums = np.zeros((n_groups, p))
        np.add.at(sums, g_ev, mean)
        mean = sums[g_ev] / deaths[g_ev][:, None]
    schoenfeld = x[ev] - mean
    score = (g[:, None] * schoenfeld).sum(axis=0)
    return score, info, schoenfeld, order[ev]


def _used(stratum_ev_counts, x, stratum, columns_of):
    """R's ``used``: per stratum and column, the stratum's events if the column varies there, else 0."""
    levels = np.unique(stratum)
    used = np.zeros((levels.size, x.shape[1]))
    for i, level in enumerate(levels):
        block = x[stratum == level]
        varies = (block != block[:1]).any(axis=0)
        used[i] = np.where(varies, stratum_ev_counts[i], 0.0)
        for cols in columns_of:  # a factor counts as used when any of its columns is
            if len(cols) > 1 and (used[i, cols] == 0).any():
                used[i, cols] = used[i, cols].max()
    return levels, used


def ph_test(time: np.ndarray, event: np.ndarray, design: Design, cox: CoxResult, *,
            transform: Transform = "km", strata: np.ndarray | None = None) -> PHTestResult:
    """Test the proportional-hazards assumption of a fitted Cox model, per variable and globally.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator, as given to the fit.
    design : Design
        The design the model was fitted on; its ``terms_of`` groups terms into variables.
    cox : CoxResult
        The fit (its ``coef`` and ``ties`` are used); its terms must be ``design.terms``.
    transform : {"km", "rank", "identity"}
        The function of time ``g(t)``: one minus the Kaplan-Meier estimate just before t (R's
        default), the rank of t among all follow-up times, or t itself.
    strata : ndarray, optional
        Stratum of each patient when the model was stratified (R ``+ strata(s)``); the
        coefficients must then come from a stratified fit.

    Returns
    -------
    PHTestResult

    Raises
    ------
    ModelError
        The fit does not belong to the design, or the information matrix is singular; the
        message names the variable.

    References
    ----------
    R ``survival::cox.zph(fit, transform = ...)``, survival >= 3.0 (the score test);
    Grambsch PM, Therneau TM (1994) Biometrika 81:515-526.
    """
    time, event = check_survival(time, event, design=design.matrix, strata=strata)
    if transform not in ("km", "rank", "identity"):
        raise ValueError(f"transform must be 'km', 'rank' or 'identity', not {transform!r}")
    if tuple(cox.terms) != tuple(design.terms) or not design.terms:
        raise ModelError("the Cox fit and the design have different terms "
                         f"({', '.join(cox.terms) or 'none'} vs {', '.join(design.terms) or 'none'}); "
                         "pass the design the model was fitted on")
    x = design.matrix.to_numpy(dtype=float)
    if x.shape[0] != time.size:
        raise ModelError("the design and the follow-up have different numbers of patients")
    if np.unique(time[event == 1]).size < 2:
        # The test regresses the scaled Schoenfeld residuals on (a transform of) time: with one event
        # time there is no slope to estimate, and R's cox.zph stops ("system is exactly singular").
        raise ModelError("every event happened at the same time, so the scaled Schoenfeld residuals cannot be "
                         "regressed on time (R cox.zph: system is exactly singular)")
    if strata is None:
        stratum = np.zeros(time.size, dtype=int)
    else:
        strata = np.asarray(strata)
        if strata.shape != time.shape or pd.isna(strata).any():
            raise ModelError("strata must give every patient a stratum")
        stratum = np.unique(strata, return_inverse=True)[1].ravel()
    coef = np.asarray(cox.coef, dtype=float)
    p = coef.size
    ttime = _transform_time(time, event, transform)
    gtime = ttime - ttime[event == 1].mean()
    score, info, schoenfeld, ev_index = _score_pieces(
        time, event, stratum, x, x @ coef, gtime, cox.ties == "efron")

    variables = tuple(design.terms_of)
    position = {term: i for i, term in enumerate(design.terms)}
    columns_of = [[position[t] for t in design.terms_of[v]] for v in variables]
    terms = {v: _score_test(score, info, cols, p, v) for v, cols in zip(variables, columns_of)}
    global_test = _score_test(score, info, list(range(p)), p, "the global test")

    # Scaled residuals: Schoenfeld residuals times the inverse of the average information.
    ev_stratum = stratum[ev_index]
    counts = np.bincount(ev_stratum, minlength=stratum.max() + 1).astype(float)
    levels, used = _used(counts, x, stratum, columns_of)
    weight = sum(np.minimum.outer(u, u) for u in used)
    mean_info = info[:p, :p] / np.where(weight == 0, 1.0, weight)
    combine = np.zeros((p, len(variables)))
    for j, cols in enumerate(columns_of):
        combine[cols, j] = 1.0 if len(cols) == 1 else coef[cols]
    resid = schoenfeld @ combine
    mean_info = combine.T @ mean_info @ combine
    used = used[:, [cols[0] for cols in columns_of]]
    for i, level in enumerate(levels):
        rows = ev_stratum == level
        k = np.flatnonzero(used[i] > 0)
        if k.size:
            resid[np.ix_(rows, k)] = np.linalg.solve(mean_info[np.ix_(k, k)], resid[np.ix_(rows, k)].T).T
        resid[np.ix_(rows, np.flatnonzero(used[i] == 0))] = np.nan
    resid += np.array([coef[cols[0]] if len(cols) == 1 else 1.0 for cols in columns_of])
    logger.debug("cox.zph-type test (%s) on %d events: global chisq %.4g", transform, ev_index.size,
                 global_test.chisq)
    return PHTestResult(
        terms=terms, global_test=global_test, transform=transform, time=ttime[ev_index], residuals=resid,
        term_names=variables, event_time=time[ev_index],
        strata=None if strata is None else strata[ev_index])


def _score_test(score: np.ndarray, info: np.ndarray, cols: list[int], p: int, name: str) -> PHTest:
    # Score test for the g(t) terms of `cols`, the coefficients held at their fitted values:
    # u' I^-1 u over the information of (all beta, the tested gammas); u is 0 for the betas.
    keep = list(range(p)) + [p + c for c in cols]
    u = np.concatenate([np.zeros(p), score[cols]])
    try:
        chisq = float(u @ np.linalg.solve(info[np.ix_(keep, keep)], u))
    except np.linalg.LinAlgError:
        raise ModelError(f"the proportional-hazards test of {name} cannot be computed: its information "
                         "matrix is singular (a term that does not vary?)") from None
    return PHTest(chisq=chisq, df=len(cols), p=float(stats.chi2.sf(chisq, len(cols))))
