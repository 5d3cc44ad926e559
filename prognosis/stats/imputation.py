"""The Cox model of the marker and covariates under multiple imputation of missing values.

Imputes with :func:`prognosis.stats.mice.impute_chained`, fits the adjusted and the
covariates-only Cox models on each completed data set, pools the coefficients by Rubin's rules and
tests the marker's terms with D1 (pooled Wald) and D3 (pooled likelihood ratio).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis.cohort.variable import Variable
from prognosis.errors import ModelError
from prognosis.stats.cox_engine import log_likelihood_at
from prognosis.stats.cox import CoxResult, Ties, fit_cox
from prognosis.stats.design import Design, design_matrix
from prognosis.stats.mice import impute_chained
from prognosis.stats.pooling import (PooledEstimates, PooledTest, pooled_likelihood_ratio_test,
                                     pooled_wald_test, rubin_pool)

logger = logging.getLogger(__name__)

__all__ = ["ImputationResult", "impute_chained", "multiple_imputation_cox", "pooled_likelihood_ratio_test",
           "pooled_wald_test", "rubin_pool"]


@dataclass(frozen=True)
class ImputationResult:
    """Pooled Cox estimates over ``m`` imputations; arrays are aligned with ``terms``."""

    terms: tuple[str, ...]
    marker: str
    marker_terms: tuple[str, ...]
    pooled: PooledEstimates
    d1: PooledTest
    d3: PooledTest
    m: int
    seed: int | None
    n: int
    missing: dict[str, int]
    conf_level: float = 0.95

    @property
    def hazard_ratio(self) -> np.ndarray:
        return np.exp(self.pooled.coef)

    @property
    def conf_int(self) -> np.ndarray:
        """Hazard-ratio intervals from Student's t on the Barnard–Rubin df, shape (k, 2)."""
        return np.exp(self.pooled.conf_int(self.conf_level))

    def to_dict(self) -> dict:
        conf_int, p_value = self.conf_int, self.pooled.p_value
        terms = {
            term: {"hazard_ratio": float(np.exp(self.pooled.coef[i])), "lower": float(conf_int[i, 0]),
                   "upper": float(conf_int[i, 1]), "p": float(p_value[i]), "coef": float(self.pooled.coef[i]),
                   "se": float(self.pooled.se[i]), "fmi": float(self.pooled.fmi[i]), "riv": float(self.pooled.riv[i]),
                   "df": float(self.pooled.df[i])}
            for i, term in enumerate(self.terms)
        }
        return {"method": "multiple_imputation", "m": self.m, "seed": self.seed, "n": self.n,
                "missing": dict(self.missing), "terms": terms,
                "marker_test": {"D1": self.d1.to_dict(), "D3": self.d3.to_dict()}}


def _covariance(time: np.ndarray, event: np.ndarray, design: Design, fit: CoxResult, ties: Ties) -> np.ndarray:
    # The model-based covariance (inverse information at the estimate, R's vcov(coxph)), for D1.
    return fit.covariance


def _loglik_at(time: np.ndarray, event: np.ndarray, design: Design, coef: np.ndarray, ties: Ties) -> float:
    return log_likelihood_at(time, event, design.matrix.to_numpy(dtype=float), coef, ties=ties)


def multiple_imputation_cox(data: pd.DataFrame, *, time: str, event: str, marker: Variable,
                            covariates: list[Variable], m: int = 20, seed: int = 1, ties: Ties = "efron",
                            iterations: int = 10, conf_level: float = 0.95,
                            progress: bool | Callable[[int, int], None] | None = None) -> ImputationResult:
    """Cox model of the marker adjusted for covariates, with missing values multiply imputed.

    Parameters
    ----------
    data : DataFrame
        All patients with known time and event; the marker and covariates may be missing.
    time, event : str
        Columns of follow-up (> 0) and event indicator (0/1).
    marker : Variable
        The candidate prognostic variable (tested with D1 and D3).
    covariates : list of Variable
        The established factors to adjust for.
    m, iterations, seed
        Imputations, chained-equation cycles per imputation, and the seed of all draws.
    ties : {"efron", "breslow"}
    conf_level : float
    progress : bool or callable, optional
        ``callback(done, m)`` after each imputed data set; or True/None for a progress bar on
        stderr when it is a terminal (never otherwise), False for none.

    Returns
    -------
    ImputationResult
        Rubin-pooled coefficients with Barnard–Rubin df, using the complete-data df
        ``nevent - k`` that ``mice::pool`` uses for ``coxph``; D1 and D3 for the marker's terms.

    Raises
    ------
    ModelError
        An imputation or a Cox model cannot be fitted, or the terms differ between imputations
        (a level absent from one completed data set).

    References
    ----------
    R ``mice::mice``, ``mice::pool``, ``mice::D1``, and the formula of ``mice::D3``; White IR,
    Royston P (2009) Stat Med 28:1982-1998.
    """
    variables = [marker, *covariates]
    imputations = impute_chained(data, variables, time=time, event=event, m=m, iterations=iterations, seed=seed,
                                 progress=progress)
    time_values = data[time].to_numpy(dtype=float)
    event_values = data[event].to_numpy(dtype=float)
    coefs, vcovs, full_designs, base_designs, loglik_full, loglik_base, base_coefs = [], [], [], [], [], [], []
    terms: tuple[str, ...] | None = None
    for completed in imputations:
        design = design_matrix(completed, variables)
        if terms is None:
            terms = design.terms
        elif design.terms != terms:
            raise ModelError(f"the terms differ between imputations ({', '.join(terms)} vs "
                             f"{', '.join(design.terms)}); merge sparse levels")
        base_design = design.without(marker.name)
        full = fit_cox(time_values, event_values, design, ties=ties)
        base = fit_cox(time_values, event_values, base_design, ties=ties)
        coefs.append(full.coef)
        vcovs.append(_covariance(time_values, event_values, design, full, ties))
        base_coefs.append(base.coef)
        loglik_full.append(full.log_likelihood)
        loglik_base.append(base.log_likelihood)
        full_designs.append(design)
        base_designs.append(base_design)
    assert terms is not None
    n_events = int(event_values.sum())
    dfcom = float(max(n_events - len(terms), 1))  # mice:::get.dfcom for coxph
    pooled = rubin_pool(np.array(coefs), np.array(vcovs), dfcom=dfcom)
    marker_terms = tuple(t for t in terms if t not in base_designs[0].terms)
    index = [terms.index(t) for t in marker_terms]
    d1 = pooled_wald_test(np.array(coefs)[:, index], np.array(vcovs)[:, index][:, :, index], dfcom=dfcom)
    base_pooled = np.mean(base_coefs, axis=0)
    at_pooled_full = [_loglik_at(time_values, event_values, d, pooled.coef, ties) for d in full_designs]
    at_pooled_base = [_loglik_at(time_values, event_values, d, base_pooled, ties) if d.terms else ll
                      for d, ll in zip(base_designs, loglik_base)]
    d3 = pooled_likelihood_ratio_test(np.array(loglik_full), np.array(loglik_base), np.array(at_pooled_full),
                                      np.array(at_pooled_base), k=len(marker_terms))
    missing = {var.name: int(data[var.name].isna().sum()) for var in variables}
    logger.info("pooled %d imputations; missing values: %s", m, missing)
    return ImputationResult(terms, marker.name, marker_terms, pooled, d1, d3, m, seed, len(data), missing, conf_level)
