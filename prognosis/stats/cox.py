"""Cox proportional-hazards models: Efron or Breslow ties, strata, robust (clustered) variance.

The likelihood is maximised by the vectorised engine in :mod:`prognosis.stats.cox_engine`
(statsmodels' ``PHReg`` gives the same estimates but loops over event times in Python, too slow
for bootstrap, imputation and simulation); estimates agree with R ``survival::coxph`` to about
1e-10 on GBSG2 (tests/stats/test_cox.py). Harrell's C is computed with lifelines'
``concordance_index``, which counts pairs as R's ``concordance`` does.

The robust (sandwich) variance is computed here from Efron score residuals rather than by
``PHReg.fit(groups=...)``: statsmodels' score residuals follow Breslow's handling of ties
whatever ``ties`` is, so with Efron ties and tied event times they differ from R's
``residuals(fit, "score")``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index

from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival
from prognosis.stats.cox_engine import CoxFitError, newton_cox
from prognosis.stats.design import Design, check_rank
from prognosis.stats.wald import terms_dict, terms_frame, wald_summary

logger = logging.getLogger(__name__)

Ties = Literal["efron", "breslow"]


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model. Arrays are aligned with ``terms``; ``conf_int`` has shape (n_terms, 2).

    ``se`` is the standard error behind ``conf_int`` and ``p_value``: the robust one when
    ``variance`` is ``"robust"`` (as R's ``summary.coxph`` reports), else the model-based one.
    ``naive_se`` is always the model-based SE; ``robust_se`` is None unless computed.
    """

    terms: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hazard_ratio: np.ndarray
    conf_int: np.ndarray
    p_value: np.ndarray
    n: int
    n_events: int
    log_likelihood: float
    log_likelihood_null: float
    concordance: float
    ties: Ties
    conf_level: float = 0.95
    naive_se: np.ndarray | None = None
    robust_se: np.ndarray | None = None
    covariance: np.ndarray | None = None
    variance: Literal["model", "robust"] = "model"
    n_strata: int = 1
    n_clusters: int | None = None

    def to_frame(self) -> pd.DataFrame:
        return terms_frame(self)

    def to_dict(self) -> dict:
        terms = terms_dict(self)
        if self.robust_se is not None:
            for term, robust, naive in zip(self.terms, self.robust_se, self.naive_se):
                terms[term].update(robust_se=float(robust), naive_se=float(naive))
        out = {"terms": terms, "concordance": self.concordance, "log_likelihood": self.log_likelihood,
               "log_likelihood_null": self.log_likelihood_null, "n": self.n, "events": self.n_events,
               "ties": self.ties}
        if self.variance != "model" or self.n_strata != 1:
            out.update(variance=self.variance, n_strata=self.n_strata, n_clusters=self.n_clusters)
        return out


def _monotone_message(runaway: list[str]) -> str:
    return (f"the hazard ratio of {', '.join(runaway)} cannot be estimated: the likelihood keeps rising as it "
            "goes to 0 or infinity (monotone likelihood), usually because a level has no event or only events; "
            "merge sparse levels or drop the term")


def _null_log_likelihood(time: np.ndarray, event: np.ndarray, ties: Ties, strata: np.ndarray | None) -> float:
    return newton_cox(time, event, np.zeros((time.size, 0)), ties=ties, strata=strata).log_likelihood_null


def score_residuals(time: np.ndarray, event: np.ndarray, x: np.ndarray, coef: np.ndarray, *,
                    ties: Ties = "efron", strata: np.ndarray | None = None) -> np.ndarray:
    """Score residuals of a Cox model, one row per patient, as R ``residuals(fit, type = "score")``.

    With Efron ties, the d deaths at a tied time enter the k-th of d risk-set sums with weight
    1 - k/d (Therneau & Grambsch 2000, sect. 3.3); patients censored at an event time are at risk.

    References
    ----------
    R ``survival::residuals.coxph(type = "score")`` (C routine ``coxscore``).
    """
    time, event = check_survival(time, event, require_events=False, x=x, strata=strata)
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    groups = np.zeros(time.size) if strata is None else np.asarray(strata)
    for level in pd.unique(groups):
        rows = np.flatnonzero(groups == level)
        if event[rows].sum() > 0:
            out[rows] = _stratum_score_residuals(time[rows], event[rows], x[rows], coef, ties)
    return out


def _stratum_score_residuals(time, event, x, coef, ties):
    eta = x @ coef
    risk = np.exp(eta - eta.max())
    death_times, death_index = np.unique(time[event == 1], return_inverse=True)
    n_times = death_times.size
    # Risk-set sums over T >= t at each death time, via a reverse cumulative sum on sorted times.
    order = np.argsort(time, kind="stable")
    cum_s0 = np.cumsum(risk[order][::-1])[::-1]
    cum_s1 = np.cumsum((risk[:, None] * x)[order][::-1], axis=0)[::-1]
    first = np.searchsorted(time[order], death_times, side="left")
    s0, s1 = cum_s0[first], cum_s1[first]
    dead = event == 1
    n_dead = np.bincount(death_index, minlength=n_times).astype(float)
    s0_dead = np.bincount(death_index, weights=risk[dead], minlength=n_times)
    s1_dead = np.column_stack([np.bincount(death_index, weights=(risk * x[:, j])[dead], minlength=n_times)
                               for j in range(x.shape[1])])
    # One row per (death time, k): the k-th Efron step removes k/d of the deaths' risk.
    time_of = np.repeat(np.arange(n_times), n_dead.astype(int))
    k = np.arange(time_of.size) - np.repeat(np.cumsum(n_dead) - n_dead, n_dead.astype(int))
    frac = k / n_dead[time_of] if ties == "efron" else np.zeros(time_of.size)
    s0_k = s0[time_of] - frac * s0_dead[time_of]
    xbar_k = (s1[time_of] - frac[:, None] * s1_dead[time_of]) / s0_k[:, None]

    def per_time(weights, values=None):
        if values is None:
            return np.bincount(time_of, weights=weights, minlength=n_times)
        return np.column_stack([np.bincount(time_of, weights=weights * values[:, j], minlength=n_times)
                                for j in range(values.shape[1])])

    # Hazard increments for those at risk but alive (a) and for the deaths themselves (a_dead);
    # with Breslow ties both are d / S0.
    death_weight = 1.0 - frac
    a, b = per_time(1.0 / s0_k), per_time(1.0 / s0_k, xbar_k)
    a_dead, b_dead = per_time(death_weight / s0_k), per_time(death_weight / s0_k, xbar_k)
    xbar_mean = per_time(np.ones(time_of.size), xbar_k) / n_dead[:, None]
    cum_a = np.concatenate([[0.0], np.cumsum(a)])
    cum_b = np.vstack([np.zeros(x.shape[1]), np.cumsum(b, axis=0)])
    before = np.searchsorted(death_times, time, side="left")          # death times < T_i
    at = np.minimum(before, n_times - 1)
    on_death_time = (before < n_times) & (death_times[at] == time)
    own_a = np.where(on_death_time, np.where(dead, a_dead[at], a[at]), 0.0)
    own_b = np.where(on_death_time[:, None], np.where(dead[:, None], b_dead[at], b[at]), 0.0)
    hazard = cum_a[before] + own_a
    hazard_x = cum_b[before] + own_b
    residual = -risk[:, None] * (x * hazard[:, None] - hazard_x)
    residual[dead] += x[dead] - xbar_mean[death_index]
    return residual


def _concordance(time: np.ndarray, event: np.ndarray, risk_score: np.ndarray, strata: np.ndarray | None) -> float:
    """Harrell's C; with strata, pairs are only formed within a stratum (as R's coxph reports)."""
    if strata is None:
        return float(concordance_index(time, -risk_score, event))
    total = weighted = 0.0
    for level in pd.unique(strata):
        rows = strata == level
        t, e = time[rows], event[rows]
        # Comparable pairs as R counts them: an event before a later time, or before a censoring
        # at the same time; two events at the same time are not comparable.
        t_sorted = np.sort(t)
        later = t.size - np.searchsorted(t_sorted, t[e == 1], side="right")
        censored_same = np.searchsorted(np.sort(t[e == 0]), t[e == 1], side="right") - np.searchsorted(
            np.sort(t[e == 0]), t[e == 1], side="left")
        pairs = float(later.sum() + censored_same.sum())
        if pairs > 0:
            weighted += pairs * concordance_index(t, -risk_score[rows], e)
            total += pairs
    return weighted / total if total > 0 else 0.5


def _risk_score(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """x @ coef with one value per distinct row: BLAS may round identical rows differently in the
    last bit, and C would then count a tie in risk score (R: half a pair) as (dis)concordant."""
    rows, inverse = np.unique(x, axis=0, return_inverse=True)
    return (rows @ coef)[inverse.reshape(-1)]


def _check_groups(values: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values)
    if values.shape != (n,):
        raise ModelError(f"{what} must have one value per patient ({n}), not shape {values.shape}")
    if pd.isna(values).any():
        raise ModelError(f"{what} has missing values; every patient needs one")
    return values


def fit_cox(time: np.ndarray, event: np.ndarray, design: Design, *, ties: Ties = "efron",
            conf_level: float = 0.95, strata: np.ndarray | None = None, robust: bool = False,
            cluster: np.ndarray | None = None, max_iter: int = 100) -> CoxResult:
    """Fit a Cox proportional-hazards model.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator.
    design : Design
        The terms (see :func:`prognosis.stats.design_matrix`); an empty design gives the null
        model (log-likelihood at beta = 0, C = 0.5).
    ties : {"efron", "breslow"}
        Handling of tied event times, as R ``coxph(ties = ...)``.
    conf_level : float
        Level of the Wald intervals for the hazard ratios.
    strata : ndarray, optional
        One label per patient: a separate baseline hazard per stratum, as R ``+ strata(s)``.
        Harrell's C then compares patients within a stratum only.
    robust : bool
        Use the robust (sandwich) variance for ``se``, the intervals and the p-values, with each
        patient its own cluster, as R ``coxph(..., robust = TRUE)``.
    cluster : ndarray, optional
        One cluster label per patient (e.g. patient id when a patient has several rows); implies
        ``robust`` and sums the dfbeta residuals within clusters, as R ``coxph(..., cluster = id)``.
    max_iter : int
        Newton-Raphson iterations before the fit is declared not to converge.

    Returns
    -------
    CoxResult

    Raises
    ------
    ModelError
        No events, collinear terms (named), non-convergence, or a term whose hazard ratio runs
        off to 0 or infinity (monotone likelihood, e.g. a level with no event); the message names
        the term.

    See Also
    --------
    score_residuals : the residuals behind the robust variance.

    References
    ----------
    R ``survival::coxph``; Efron B (1977) JASA 72:557-565; Lin DY, Wei LJ (1989) JASA
    84:1074-1078 (robust variance).
    """
    time, event = check_survival(time, event, design=design.matrix)
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    strata = _check_groups(strata, time.size, "strata")
    cluster = _check_groups(cluster, time.size, "cluster")
    robust = robust or cluster is not None
    n_strata = 1 if strata is None else int(pd.unique(strata).size)
    terms = design.terms
    if not terms:
        null_ll = _null_log_likelihood(time, event, ties, strata)
        empty = np.zeros(0)
        return CoxResult((), empty, empty, empty, np.zeros((0, 2)), empty, int(time.size), int(event.sum()),
                         null_ll, null_ll, 0.5, ties, conf_level, naive_se=empty,
                         robust_se=empty if robust else None, covariance=np.zeros((0, 0)),
                         variance="robust" if robust else "model", n_strata=n_strata)
    check_rank(design)
    x = design.matrix.to_numpy(dtype=float)
    try:
        fit = newton_cox(time, event, x, ties=ties, strata=strata, max_iter=max_iter)
        naive_cov = np.linalg.inv(fit.information)
    except (CoxFitError, np.linalg.LinAlgError) as exc:
        kind = getattr(exc, "kind", "singular")
        if kind == "monotone":
            # The engine flags the coefficients still moving once the log-likelihood has converged
            # (R's "Loglik converged before variable j"), whatever their size or units.
            runaway = [t for t, d in zip(terms, exc.diverging) if d] or list(terms)
            raise ModelError(_monotone_message(runaway)) from None
        if kind == "singular":
            raise ModelError(f"the Cox model with terms {', '.join(terms)} cannot be fitted ({exc}); "
                             "look for collinear terms") from None
        raise ModelError(f"the Cox model with terms {', '.join(terms)} did not converge in {max_iter} iterations "
                         f"({exc}); look for collinear terms or a level with very few events") from None
    coef = fit.coef
    naive_se = np.sqrt(np.diag(naive_cov))
    null_ll = fit.log_likelihood_null
    cov, robust_se, n_clusters = naive_cov, None, None
    if robust:
        # dfbeta = score residuals x model variance; the sandwich is the sum of the clusters' outer products.
        dfbeta = score_residuals(time, event, x, coef, ties=ties, strata=strata) @ naive_cov
        if cluster is not None:
            codes, labels = pd.factorize(pd.Series(cluster))
            n_clusters = int(labels.size)
            dfbeta = np.vstack([np.bincount(codes, weights=dfbeta[:, j], minlength=n_clusters)
                                for j in range(dfbeta.shape[1])]).T
        else:
            n_clusters = int(time.size)
        cov = dfbeta.T @ dfbeta
        robust_se = np.sqrt(np.diag(cov))
    se = robust_se if robust else naive_se
    hazard_ratio, conf_int, p_value = wald_summary(coef, se, conf_level)
    concordance = _concordance(time, event, _risk_score(x, coef), strata)
    return CoxResult(
        terms=tuple(terms), coef=coef, se=se, hazard_ratio=hazard_ratio, conf_int=conf_int, p_value=p_value,
        n=int(time.size), n_events=int(event.sum()), log_likelihood=fit.log_likelihood, log_likelihood_null=null_ll,
        concordance=concordance, ties=ties, conf_level=conf_level, naive_se=naive_se, robust_se=robust_se,
        covariance=cov, variance="robust" if robust else "model", n_strata=n_strata, n_clusters=n_clusters,
    )
