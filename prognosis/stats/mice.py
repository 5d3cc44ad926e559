"""Multiple imputation of missing covariates by chained equations, for a survival model.

Each incomplete variable is imputed in turn from all the others plus the event indicator and the
Nelson–Aalen cumulative hazard at the patient's time (White & Royston 2009), never the raw time.
The methods are R ``mice``'s defaults, each with a draw of its parameters so the imputations are
proper: predictive mean matching for numeric variables, logistic regression for two-level ones and
multinomial (polytomous) regression for more levels. The regressions are fitted with statsmodels;
only the chained-equations loop is written here.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.api as sm
from lifelines import NelsonAalenFitter
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from prognosis.cohort.variable import Variable
from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival
from prognosis.stats.design import level_labels
from prognosis.stats.progress import progress_reporter

logger = logging.getLogger(__name__)

#: Donors per missing value in predictive mean matching (``mice.impute.pmm(donors = 5)``).
PMM_DONORS = 5


def nelson_aalen_at_times(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The Nelson–Aalen cumulative hazard at each patient's own follow-up time.

    References
    ----------
    R ``mice::nelsonaalen``; White IR, Royston P (2009) Stat Med 28:1982-1998.
    """
    fitter = NelsonAalenFitter(nelson_aalen_smoothing=False).fit(time, event)
    return np.asarray(fitter.cumulative_hazard_at_times(time), dtype=float)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """A square root L with L @ L.T == matrix (Cholesky; eigen-decomposition if not quite PD)."""
    matrix = (matrix + matrix.T) / 2.0
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(matrix)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def _augment(codes: np.ndarray, x: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted pseudo-observations that keep a logistic fit finite under perfect prediction.

    For each predictor, two rows per level at its mean -/+ half a standard deviation (clipped to its
    range), the others at their means, each of weight (p + 1) / (2 p k), as ``mice:::augment``.

    References
    ----------
    White IR, Daniel R, Royston P (2010) Comput Stat Data Anal 54:2267-2275.
    """
    p = x.shape[1]
    mean, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    rows = np.repeat(mean[None, :], 2 * p * n_levels, axis=0)
    for j in range(p):
        block = slice(2 * n_levels * j, 2 * n_levels * (j + 1))
        rows[block, j] += np.tile([0.5, -0.5], n_levels) * sd[j]
    rows = np.clip(rows, x.min(axis=0), x.max(axis=0))
    extra_codes = np.tile(np.repeat(np.arange(n_levels), 2), p)
    weights = np.r_[np.ones(len(codes)), np.full(len(rows), (p + 1) / len(rows))]
    return np.r_[codes, extra_codes], np.vstack([x, rows]), weights


def _draw_pmm(y_obs: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Predictive mean matching, type 1 (``mice.impute.pmm(matchtype = 1)``)."""
    fit = sm.OLS(y_obs, x_obs).fit()
    df_resid = max(len(y_obs) - x_obs.shape[1], 1)
    sigma_star = np.sqrt(fit.ssr / rng.chisquare(df_resid))
    beta_star = fit.params + _sqrt_psd(fit.normalized_cov_params) @ rng.standard_normal(x_obs.shape[1]) * sigma_star
    fitted_obs = x_obs @ fit.params
    fitted_mis = x_mis @ beta_star
    distance = np.abs(fitted_mis[:, None] - fitted_obs[None, :])
    # a tiny jitter breaks ties between donors at random, as mice's matchindex does
    distance += rng.uniform(0, 1e-10 * (np.ptp(fitted_obs) + 1.0), size=distance.shape)
    donors = min(PMM_DONORS, len(y_obs))
    nearest = np.argpartition(distance, donors - 1, axis=1)[:, :donors]
    chosen = nearest[np.arange(len(x_mis)), rng.integers(0, donors, size=len(x_mis))]
    return y_obs[chosen]


def _draw_logistic(codes_obs: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Logistic regression with a draw from the approximate posterior (``mice.impute.logreg``)."""
    codes, x, weights = _augment(codes_obs, x_obs[:, 1:], 2)
    x = sm.add_constant(x, has_constant="add")
    fit = sm.GLM(codes, x, family=sm.families.Binomial(), var_weights=weights).fit()
    beta_star = fit.params + _sqrt_psd(np.asarray(fit.cov_params())) @ rng.standard_normal(x.shape[1])
    probability = 1.0 / (1.0 + np.exp(-(x_mis @ beta_star)))
    return (rng.uniform(size=len(x_mis)) <= probability).astype(int)


def _draw_multinomial(codes_obs: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray, n_levels: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Multinomial logistic regression with a draw from the approximate posterior.

    ``mice.impute.polyreg`` draws categories from the fitted probabilities without drawing the
    parameters; here the coefficients are drawn from N(estimate, covariance) first, which makes
    the imputation proper as the logistic and PMM methods are.
    """
    fit = sm.MNLogit(codes_obs, x_obs).fit(method="newton", maxiter=100, disp=False)
    params = np.asarray(fit.params)  # (p, k - 1); cov_params is ordered equation by equation
    draw = params.ravel(order="F") + _sqrt_psd(np.asarray(fit.cov_params())) @ rng.standard_normal(params.size)
    eta = np.column_stack([np.zeros(len(x_mis)), x_mis @ draw.reshape(params.shape, order="F")])
    eta -= eta.max(axis=1, keepdims=True)
    probability = np.exp(eta)
    probability /= probability.sum(axis=1, keepdims=True)
    cumulative = probability.cumsum(axis=1)
    drawn = (rng.uniform(size=(len(x_mis), 1)) > cumulative).sum(axis=1)
    return np.minimum(drawn, n_levels - 1)


class _Column:
    """One variable's working values: floats, or integer codes into ``levels``."""

    def __init__(self, var: Variable, values: pd.Series) -> None:
        self.var = var
        self.missing = values.isna().to_numpy()
        if var.is_categorical:
            labels = level_labels(values, var)
            self.levels = tuple(level for level in var.spec.category_levels if (labels == level).any())
            unknown = set(labels.dropna()) - set(self.levels)
            if unknown:
                # Counted, not quoted: a stray value is a patient's (this text can reach results.json).
                raise ModelError(f"{var.name}: {len(unknown)} value(s) are not among its declared levels "
                                 f"({', '.join(map(str, var.spec.category_levels))}); recode them")
            lookup = {level: i for i, level in enumerate(self.levels)}
            self.values = np.array([-1 if pd.isna(v) else lookup[v] for v in labels], dtype=float)
        else:
            self.levels = ()
            self.values = values.to_numpy(dtype=float)
        if self.missing.all():
            raise ModelError(f"{var.name} ({var.label}) is missing for every patient, so it cannot be imputed")

    def encode(self) -> np.ndarray:
        """Predictor columns: the value, or indicators of the non-first observed levels."""
        if not self.var.is_categorical:
            return self.values[:, None]
        return (self.values[:, None] == np.arange(1, len(self.levels))[None, :]).astype(float)

    def decode(self, original: pd.Series) -> pd.Series:
        """The completed column in the original's type (categories kept, 0/1 for binary)."""
        if not self.var.is_categorical:
            completed = pd.Series(self.values, index=original.index, name=original.name)
            return completed.astype(original.dtype, errors="ignore")
        labels = [self.levels[int(code)] for code in self.values]
        if self.var.spec.type == "binary":
            completed = pd.Series([int(v) for v in labels], index=original.index, name=original.name)
            return completed.astype(original.dtype) if original.dtype.kind == "f" else completed
        completed = pd.Series(labels, index=original.index, name=original.name)
        if isinstance(original.dtype, pd.CategoricalDtype):
            return completed.astype(original.dtype)
        observed = original.dropna()
        if len(observed) and not isinstance(observed.iloc[0], str):
            # levels are kept as text; give back the data's own type (e.g. integer grades)
            mapping = {str(v): v for v in observed.unique()}
            return completed.map(lambda v: mapping.get(v, v))
        return completed


def impute_chained(data: pd.DataFrame, variables: list[Variable], *, time: str | np.ndarray,
                   event: str | np.ndarray, m: int = 20, iterations: int = 10,
                   seed: int | np.random.Generator,
                   progress: bool | Callable[[int, int], None] | None = None) -> list[pd.DataFrame]:
    """Multiple imputation by chained equations of the missing values of ``variables``.

    Parameters
    ----------
    data : DataFrame
        One row per patient; the variables' columns may hold missing values.
    variables : list of Variable
        The model variables: each incomplete one is imputed from all the others, the event and
        the Nelson–Aalen cumulative hazard. Complete ones serve as predictors only.
    time, event : str or ndarray
        Column names in ``data`` (or arrays) of the follow-up and the event indicator; both complete.
    m : int
        Number of imputed data sets.
    iterations : int
        Cycles through the incomplete variables per data set (``mice(maxit = ...)``).
    seed : int or numpy.random.Generator
        Seeds the draws; the same seed gives the same imputations.
    progress : bool or callable, optional
        ``callback(done, m)`` after each imputed data set; or True/None for a progress bar on
        stderr when it is a terminal (never otherwise), False for none.

    Returns
    -------
    list of DataFrame
        ``m`` copies of ``data`` with the variables' missing values filled in; other columns untouched.

    Raises
    ------
    ModelError
        A variable is missing for every patient, holds undeclared levels, or its imputation model
        cannot be fitted (the message names it).

    See Also
    --------
    prognosis.stats.imputation.multiple_imputation_cox : imputation, Cox fits and pooling.

    References
    ----------
    R ``mice::mice`` with methods ``pmm``, ``logreg`` and ``polyreg``; van Buuren S,
    Groothuis-Oudshoorn K (2011) J Stat Softw 45(3); White IR, Royston P (2009) Stat Med 28:1982-1998.
    """
    if m < 1 or iterations < 1:
        raise ValueError("m and iterations must be at least 1")
    time_values = data[time].to_numpy() if isinstance(time, str) else np.asarray(time)
    event_values = data[event].to_numpy() if isinstance(event, str) else np.asarray(event)
    time_values, event_values = check_survival(time_values, event_values)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    base = np.column_stack([np.ones(len(data)), event_values, nelson_aalen_at_times(time_values, event_values)])
    template = [_Column(var, data[var.name]) for var in variables]
    incomplete = [i for i, column in enumerate(template) if column.missing.any()]
    logger.info("imputing %d incomplete variables, m = %d, %d iterations", len(incomplete), m, iterations)
    imputations = []
    report, close = progress_reporter(progress, m, "multiple imputation")
    try:
        for done in range(1, m + 1):
            imputations.append(_impute_set(data, template, incomplete, base, iterations, rng))
            report(done, m)
    finally:
        close()
    return imputations


def _impute_set(data: pd.DataFrame, template: list[_Column], incomplete: list[int], base: np.ndarray,
                iterations: int, rng: np.random.Generator) -> pd.DataFrame:
    # one completed data set: a fresh random start, then `iterations` chained-equation cycles
    columns = [copy.copy(source) for source in template]
    for column in columns:
        column.values = column.values.copy()
        # start from a random draw of the observed values, as mice does
        observed = column.values[~column.missing]
        column.values[column.missing] = rng.choice(observed, size=int(column.missing.sum()))
    for _ in range(iterations):
        for i in incomplete:
            _impute_one(columns, i, base, rng)
    completed = data.copy()
    for column in columns:
        if column.missing.any():
            completed[column.var.name] = column.decode(data[column.var.name])
    return completed


def _impute_one(columns: list[_Column], target: int, base: np.ndarray, rng: np.random.Generator) -> None:
    column = columns[target]
    x = np.column_stack([base, *(c.encode() for j, c in enumerate(columns) if j != target)])
    observed, missing = ~column.missing, column.missing
    y = column.values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (SMConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))
        try:
            if len(column.levels) == 1:
                drawn = np.zeros(int(missing.sum()))
            elif not column.var.is_categorical:
                drawn = _draw_pmm(y[observed], x[observed], x[missing], rng)
            elif len(column.levels) == 2:
                drawn = _draw_logistic(y[observed], x[observed], x[missing], rng)
            else:
                drawn = _draw_multinomial(y[observed].astype(int), x[observed], x[missing], len(column.levels), rng)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise ModelError(f"the imputation model for {column.var.name} ({column.var.label}) cannot be "
                             f"fitted ({exc}); look for collinear or sparse predictors") from None
    column.values[missing] = drawn
