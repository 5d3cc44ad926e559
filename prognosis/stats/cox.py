"""Cox proportional-hazards models, fitted by statsmodels' ``PHReg``.

statsmodels is used rather than lifelines because it offers both Efron and Breslow ties,
strata and robust (clustered) variance, which the statistical core needs; its estimates agree
with R ``survival::coxph`` to about 1e-10 on GBSG2 (tests/stats/test_cox.py). Harrell's C is
computed with lifelines' ``concordance_index``, which counts pairs as R's ``concordance`` does.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
from statsmodels.tools.sm_exceptions import HessianInversionWarning

from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival
from prognosis.stats.design import Design

logger = logging.getLogger(__name__)

Ties = Literal["efron", "breslow"]
# |log HR| beyond this (HR > 4.8e8) only arises from monotone likelihood: an event-free level.
_SEPARATION_COEF = 20.0


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model. Arrays are aligned with ``terms``; ``conf_int`` has shape (n_terms, 2)."""

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

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"coef": self.coef, "se": self.se, "hazard_ratio": self.hazard_ratio,
             "lower": self.conf_int[:, 0], "upper": self.conf_int[:, 1], "p": self.p_value},
            index=pd.Index(self.terms, name="term"),
        )

    def to_dict(self) -> dict:
        terms = {
            term: {"hazard_ratio": float(hr), "lower": float(lo), "upper": float(up), "p": float(p),
                   "coef": float(b), "se": float(se)}
            for term, hr, (lo, up), p, b, se in zip(
                self.terms, self.hazard_ratio, self.conf_int, self.p_value, self.coef, self.se)
        }
        return {"terms": terms, "concordance": self.concordance, "log_likelihood": self.log_likelihood,
                "log_likelihood_null": self.log_likelihood_null, "n": self.n, "events": self.n_events,
                "ties": self.ties}


def _null_log_likelihood(time: np.ndarray, event: np.ndarray, ties: Ties) -> float:
    model = PHReg(time, np.zeros((time.size, 1)), status=event, ties=ties)
    return float(model.loglike(np.zeros(1)))


def fit_cox(time: np.ndarray, event: np.ndarray, design: Design, *, ties: Ties = "efron",
            conf_level: float = 0.95) -> CoxResult:
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

    Returns
    -------
    CoxResult

    Raises
    ------
    ModelError
        No events, non-convergence, or a term whose hazard ratio runs off to 0 or infinity
        (monotone likelihood, e.g. a level with no event); the message names the term.

    References
    ----------
    R ``survival::coxph``; Efron B (1977) JASA 72:557-565.
    """
    time, event = check_survival(time, event)
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    null_ll = _null_log_likelihood(time, event, ties)
    terms = design.terms
    if not terms:
        empty = np.zeros(0)
        return CoxResult((), empty, empty, empty, np.zeros((0, 2)), empty, int(time.size), int(event.sum()),
                         null_ll, null_ll, 0.5, ties, conf_level)
    x = design.matrix.to_numpy(dtype=float)
    model = PHReg(time, x, status=event, ties=ties)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(method="newton", maxiter=100, tol=1e-10)
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"the Cox model with terms {', '.join(terms)} cannot be fitted ({exc}); "
                             "look for collinear terms") from None
    coef = np.asarray(fit.params, dtype=float)
    se = np.asarray(fit.bse, dtype=float)
    runaway = [t for t, b, s in zip(terms, coef, se) if abs(b) > _SEPARATION_COEF or not np.isfinite(s)]
    if runaway:
        raise ModelError(
            f"the hazard ratio of {', '.join(runaway)} cannot be estimated: the likelihood keeps rising as it "
            "goes to 0 or infinity (monotone likelihood), usually because a level has no event or only events; "
            "merge sparse levels or drop the term")
    trouble = [w for w in caught if issubclass(w.category, (SMConvergenceWarning, HessianInversionWarning))]
    if trouble:
        detail = str(trouble[0].message)
        raise ModelError(f"the Cox model with terms {', '.join(terms)} did not converge ({detail}); "
                         "look for collinear terms or a level with very few events")
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    conf_int = np.exp(np.column_stack([coef - z * se, coef + z * se]))
    p_value = 2.0 * stats.norm.sf(np.abs(coef / se))
    concordance = float(concordance_index(time, -(x @ coef), event))
    return CoxResult(
        terms=tuple(terms), coef=coef, se=se, hazard_ratio=np.exp(coef), conf_int=conf_int, p_value=p_value,
        n=int(time.size), n_events=int(event.sum()), log_likelihood=float(fit.llf), log_likelihood_null=null_ll,
        concordance=concordance, ties=ties, conf_level=conf_level,
    )
