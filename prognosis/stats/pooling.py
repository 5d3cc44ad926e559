"""Combining estimates over multiply imputed data sets: Rubin's rules, D1 and D3.

Plain formulas on arrays, with no model fitting: each function takes what the m complete-data
analyses produced and returns a frozen result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats

from prognosis._json import finite_or_none
from prognosis.errors import ModelError

logger = logging.getLogger(__name__)

# mice::barnard.rubin floors lambda here so that df stays finite when B = 0
_MIN_LAMBDA = 1e-4


def _check_m(m: int) -> None:
    if m < 2:
        raise ModelError(f"pooling needs at least two imputations, not {m} (missing.m >= 2)")


def _reciprocal(value: float) -> float:
    """1 / value with R's arithmetic: 1 / 0 is Inf (r = 0 when no value was missing), not an error."""
    return float("inf") if value == 0 else 1.0 / value


def _f_sf(statistic: float, df1: int, df2: float) -> float:
    """P(F(df1, df2) > statistic); with df2 = Inf the F is a chi-square / df1, as R's ``pf``."""
    if np.isinf(df2):
        return float(stats.chi2.sf(statistic * df1, df1))
    return float(stats.f.sf(statistic, df1, df2))


@dataclass(frozen=True)
class PooledEstimates:
    """Rubin's-rules pooled estimates; every array has one entry per parameter.

    ``within`` is the mean complete-data variance (Ubar), ``between`` the between-imputation
    variance (B), ``total`` = Ubar + (1 + 1/m) B; ``riv`` the relative increase in variance,
    ``lambda_`` the proportion of the total variance due to missingness, ``fmi`` the fraction of
    missing information, ``df`` the Barnard–Rubin degrees of freedom given ``dfcom``.
    """

    coef: np.ndarray
    within: np.ndarray
    between: np.ndarray
    total: np.ndarray
    riv: np.ndarray
    lambda_: np.ndarray
    fmi: np.ndarray
    df: np.ndarray
    m: int
    dfcom: float

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.total)

    @property
    def statistic(self) -> np.ndarray:
        return self.coef / self.se

    @property
    def p_value(self) -> np.ndarray:
        """Two-sided, from Student's t on ``df`` (``summary(pool(...))``)."""
        return 2.0 * stats.t.sf(np.abs(self.statistic), self.df)

    def conf_int(self, conf_level: float = 0.95) -> np.ndarray:
        """Intervals coef -/+ t(df) quantile x se, shape (k, 2)."""
        half = stats.t.ppf(0.5 + conf_level / 2.0, self.df) * self.se
        return np.column_stack([self.coef - half, self.coef + half])

    def to_dict(self) -> dict:
        return {"m": self.m, "dfcom": None if np.isinf(self.dfcom) else float(self.dfcom),
                **{name: [finite_or_none(v) for v in getattr(self, attr)] for name, attr in
                   [("coef", "coef"), ("within", "within"), ("between", "between"), ("total", "total"),
                    ("riv", "riv"), ("lambda", "lambda_"), ("fmi", "fmi"), ("df", "df")]}}


@dataclass(frozen=True)
class PooledTest:
    """A multiparameter test over imputations: F = ``statistic`` on (``df1``, ``df2``)."""

    method: str
    statistic: float
    df1: int
    df2: float
    p: float
    riv: float

    def to_dict(self) -> dict:
        return {"statistic": finite_or_none(self.statistic), "df1": self.df1, "df2": finite_or_none(self.df2),
                "p": finite_or_none(self.p)}


def barnard_rubin_df(m: int, between: np.ndarray, total: np.ndarray, dfcom: float = np.inf) -> np.ndarray:
    """Barnard–Rubin (1999) small-sample degrees of freedom, as ``mice:::barnard.rubin``."""
    lam = np.maximum((1.0 + 1.0 / m) * between / total, _MIN_LAMBDA)
    df_old = (m - 1) / lam**2
    if np.isinf(dfcom):
        return df_old
    df_obs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
    return df_old * df_obs / (df_old + df_obs)


def rubin_pool(coefs: np.ndarray, vcovs: np.ndarray, *, dfcom: float = np.inf) -> PooledEstimates:
    """Pool m complete-data estimates by Rubin's rules.

    Parameters
    ----------
    coefs : ndarray, shape (m, k)
        Each imputation's estimates.
    vcovs : ndarray, shape (m, k, k)
        Each imputation's covariance matrix (only the diagonal is used, as ``mice::pool``).
    dfcom : float
        Complete-data degrees of freedom; ``inf`` gives the large-sample df. ``mice::pool`` uses
        ``nevent - k`` for a ``coxph`` fit (``mice:::get.dfcom``, mice 3.15).

    Returns
    -------
    PooledEstimates

    References
    ----------
    R ``mice::pool`` (rule "rubin1987"); Rubin DB (1987) Multiple Imputation for Nonresponse in
    Surveys; Barnard J, Rubin DB (1999) Biometrika 86:948-955.
    """
    coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
    vcovs = np.asarray(vcovs, dtype=float)
    m = coefs.shape[0]
    _check_m(m)
    if vcovs.shape != (m, coefs.shape[1], coefs.shape[1]):
        raise ModelError(f"vcovs has shape {vcovs.shape}; expected {(m, coefs.shape[1], coefs.shape[1])}")
    within = np.diagonal(vcovs, axis1=1, axis2=2).mean(axis=0)
    between = coefs.var(axis=0, ddof=1)
    total = within + (1.0 + 1.0 / m) * between
    df = barnard_rubin_df(m, between, total, dfcom)
    riv = (1.0 + 1.0 / m) * between / within
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    return PooledEstimates(coefs.mean(axis=0), within, between, total, riv,
                           (1.0 + 1.0 / m) * between / total, fmi, df, m, float(dfcom))


def _denominator_df(k: int, m: int, riv: float) -> float:
    """Li, Raghunathan & Rubin (1991) df for the F reference distribution.

    Infinite when ``riv`` is 0 (identical imputations), as in mitml and mice, whose formulas
    divide by it.
    """
    t = k * (m - 1)
    if t > 4:
        return 4.0 + (t - 4.0) * (1.0 + (1.0 - 2.0 / t) * _reciprocal(riv)) ** 2
    return t * (1.0 + 1.0 / k) * (1.0 + _reciprocal(riv)) ** 2 / 2.0


def pooled_wald_test(coefs: np.ndarray, vcovs: np.ndarray, *, dfcom: float | None = None) -> PooledTest:
    """D1: the pooled multivariate Wald test that all k parameters are zero.

    Parameters
    ----------
    coefs : ndarray, shape (m, k)
        Each imputation's estimates of the tested parameters.
    vcovs : ndarray, shape (m, k, k)
        Their covariance matrices.
    dfcom : float or None
        Complete-data df; when finite the denominator df is Reiter's (2007) small-sample one, as
        ``mitml::testModels(df.com = ...)`` (which ``mice::D1`` calls), else (and when
        k (m - 1) <= 4, where Reiter's formula is undefined) Li et al. (1991).

    References
    ----------
    R ``mice::D1`` / ``mitml::testModels(method = "D1")``; Li KH, Raghunathan TE, Rubin DB (1991)
    JASA 86:1065-1073; Reiter JP (2007) Biometrika 94:502-508.
    """
    coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
    vcovs = np.asarray(vcovs, dtype=float)
    m, k = coefs.shape
    _check_m(m)
    qbar = coefs.mean(axis=0)
    within = vcovs.mean(axis=0)
    between = np.atleast_2d(np.cov(coefs, rowvar=False, ddof=1))
    riv = float((1.0 + 1.0 / m) * np.trace(between @ np.linalg.inv(within)) / k)
    statistic = float(qbar @ np.linalg.solve((1.0 + riv) * within, qbar) / k)
    t = k * (m - 1)
    if dfcom is None or np.isinf(dfcom) or t <= 4:
        # Reiter's formula divides by t - 4; mitml gives NaN there, we fall back to Li et al.
        df2 = _denominator_df(k, m, riv)
    else:
        # numpy scalars: a 0 / 0 here (e.g. riv = 0 with dfcom = 3, where c1 = 0) is NaN, as in mitml.
        a = np.float64(riv) * t / (t - 2.0)
        vstar = (dfcom + 1.0) / (dfcom + 3.0) * dfcom
        c0, c1, c2 = 1.0 / (t - 4.0), vstar - 2.0 * (1.0 + a), vstar - 4.0 * (1.0 + a)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (1.0 / c2 + c0 * (a**2 * c1 / ((1.0 + a) ** 2 * c2))
                 + c0 * (8.0 * a**2 * c1 / ((1.0 + a) * c2**2) + 4.0 * a**2 / ((1.0 + a) * c2))
                 + c0 * (4.0 * a**2 / (c2 * c1) + 16.0 * a**2 * c1 / c2**3) + c0 * (8.0 * a**2 / c2**2))
            df2 = 4.0 + 1.0 / z
    return PooledTest("D1", statistic, k, float(df2), _f_sf(statistic, k, df2), riv)


def pooled_likelihood_ratio_test(loglik_full: np.ndarray, loglik_base: np.ndarray,
                                 loglik_full_at_pooled: np.ndarray, loglik_base_at_pooled: np.ndarray,
                                 *, k: int) -> PooledTest:
    """D3: the pooled likelihood-ratio test of a full model against a nested one.

    Parameters
    ----------
    loglik_full, loglik_base : ndarray, shape (m,)
        Each imputation's maximised log-likelihoods.
    loglik_full_at_pooled, loglik_base_at_pooled : ndarray, shape (m,)
        Each imputation's log-likelihoods evaluated at the pooled (Rubin) coefficients.
    k : int
        Number of parameters the full model adds.

    References
    ----------
    Meng XL, Rubin DB (1992) Biometrika 79:103-111; the formula of R ``mice::D3`` (mice 3.15,
    which itself refuses ``coxph`` fits).
    """
    m = len(loglik_full)
    _check_m(m)
    mean_at_own = float(np.mean(2.0 * (np.asarray(loglik_full) - np.asarray(loglik_base))))
    mean_at_pooled = float(np.mean(2.0 * (np.asarray(loglik_full_at_pooled) - np.asarray(loglik_base_at_pooled))))
    riv = (m + 1.0) / (k * (m - 1.0)) * (mean_at_own - mean_at_pooled)
    statistic = mean_at_pooled * _reciprocal(k * (1.0 + riv))
    df2 = _denominator_df(k, m, riv)
    return PooledTest("D3", statistic, k, float(df2), _f_sf(statistic, k, df2), float(riv))
