"""Bootstrap internal validation of a Cox model: optimism-corrected Dxy (C), R2 and slope.

Each replicate refits the model on a bootstrap sample ("training") and applies its coefficients
to the original patients ("test"); optimism is the mean training-minus-test difference, and the
corrected index is the apparent one minus the optimism, as R ``rms::validate(method = "boot")``.
The design matrix is built once and refitted by the vectorised engine of
:mod:`prognosis.stats.cox_engine`, so
B = 200 on a few hundred patients takes seconds (benchmarks/bootstrap_validation.py).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prognosis._json import finite_or_none
from prognosis.errors import ConvergenceWarning, ModelError
from prognosis.stats.checks import check_survival
from prognosis.stats.cox import Ties, fit_cox
from prognosis.stats.cox_engine import CoxFitError, newton_cox
from prognosis.stats.design import Design
from prognosis.stats.discrimination import harrell_c
from prognosis.stats.progress import progress_reporter

logger = logging.getLogger(__name__)

INDEXES = ("Dxy", "R2", "Slope")


@dataclass(frozen=True)
class IndexValidation:
    """One index as a row of ``rms::validate``: apparent, training and test means, optimism, corrected.

    ``optimism_se`` is the Monte-Carlo standard error of ``optimism`` (SD of the per-replicate
    training-minus-test differences over sqrt(n)); ``n`` counts the replicates that fitted.
    """

    apparent: float
    training: float
    test: float
    optimism: float
    corrected: float
    optimism_se: float
    n: int

    def to_dict(self) -> dict:
        return {"apparent": finite_or_none(self.apparent), "training": finite_or_none(self.training),
                "test": finite_or_none(self.test), "optimism": finite_or_none(self.optimism),
                "corrected": finite_or_none(self.corrected), "optimism_se": finite_or_none(self.optimism_se),
                "n": self.n}


@dataclass(frozen=True)
class ValidationResult:
    """Bootstrap validation of a Cox model; ``indexes`` maps "Dxy", "R2", "Slope" to their rows.

    ``seed`` is the integer seed, or None when a Generator was passed.
    """

    B: int
    seed: int | None
    ties: Ties
    indexes: dict[str, IndexValidation]
    n: int
    n_events: int

    @property
    def c_apparent(self) -> float:
        return self.indexes["Dxy"].apparent / 2 + 0.5

    @property
    def c_optimism(self) -> float:
        return self.indexes["Dxy"].optimism / 2

    @property
    def c_corrected(self) -> float:
        """Optimism-corrected Harrell's C = Dxy_corrected / 2 + 0.5."""
        return self.indexes["Dxy"].corrected / 2 + 0.5

    def to_dict(self) -> dict:
        slope = self.indexes["Slope"]
        return {"B": self.B, "seed": self.seed, "n_successful": self.indexes["Dxy"].n,
                "c_apparent": finite_or_none(self.c_apparent), "c_optimism": finite_or_none(self.c_optimism),
                "c_corrected": finite_or_none(self.c_corrected),
                "slope_apparent": finite_or_none(slope.apparent), "slope_optimism": finite_or_none(slope.optimism),
                "slope_corrected": finite_or_none(slope.corrected),
                "dxy": self.indexes["Dxy"].to_dict(), "r2": self.indexes["R2"].to_dict(), "slope": slope.to_dict()}


def _fit(time: np.ndarray, event: np.ndarray, x: np.ndarray, ties: Ties) -> tuple[np.ndarray, float, float]:
    """Coefficients, log-likelihood and null log-likelihood, by the shared vectorised engine."""
    fit = newton_cox(time, event, x, ties=ties)
    return fit.coef, fit.log_likelihood, fit.log_likelihood_null


def _r2(loglik: float, loglik_null: float, n: int) -> float:
    # Nagelkerke's R2, as rms' validate.cph: (1 - exp(-LR/n)) / (1 - exp(-(-2 LL0)/n))
    lr = 2.0 * (loglik - loglik_null)
    return (1.0 - np.exp(-lr / n)) / (1.0 - np.exp(2.0 * loglik_null / n))


def _indexes(time: np.ndarray, event: np.ndarray, lp: np.ndarray, ties: Ties, *, refit: bool,
             loglik: float = np.nan, loglik_null: float = np.nan) -> np.ndarray:
    """Dxy, R2 and slope of ``lp`` on these patients; ``refit=False`` when lp is their own fit (slope 1)."""
    dxy = 2.0 * (harrell_c(time, event, lp) - 0.5)
    if refit:
        (slope,), loglik, loglik_null = _fit(time, event, lp[:, None], ties)
    else:
        slope = 1.0
    return np.array([dxy, _r2(loglik, loglik_null, time.size), slope])


def bootstrap_validate(time: np.ndarray, event: np.ndarray, design: Design | np.ndarray, *, B: int = 200,
                       seed: int | np.random.Generator | None = 1, ties: Ties = "efron",
                       progress: bool | Callable[[int, int], None] | None = None) -> ValidationResult:
    """Optimism-corrected Dxy (= 2 (C - 0.5)), Nagelkerke R2 and calibration slope by the bootstrap.

    Parameters
    ----------
    time, event : ndarray
        Follow-up (> 0) and event indicator.
    design : Design or ndarray
        The model's design matrix, built once.
    B : int
        Number of bootstrap replicates; 0 gives the apparent indexes only (optimism and the
        corrected indexes NaN), the spec's default ``validation.bootstrap: 0``.
    seed : int or numpy.random.Generator
        Seeds the resampling.
    ties : {"efron", "breslow"}
    progress : bool or callable, optional
        ``callback(done, total)`` after each replicate; or True/None for a progress bar on
        stderr when it is a terminal (never otherwise), False for none.

    Returns
    -------
    ValidationResult
        ``c_corrected`` is ``Dxy_corrected / 2 + 0.5``. Replicates whose fit fails are left out
        (as rms does) and counted in each index's ``n``.

    Raises
    ------
    ModelError
        The model cannot be fitted on the original data (see :func:`prognosis.stats.fit_cox`),
        or no replicate could be fitted.

    Warns
    -----
    ConvergenceWarning
        More than 5% of the replicates failed to fit.

    References
    ----------
    R ``rms::validate(cph(..., x = TRUE, y = TRUE, surv = TRUE), B = 200, method = "boot")``;
    Harrell FE, Lee KL, Mark DB (1996) Stat Med 15:361-387; Efron B, Tibshirani R (1993)
    An Introduction to the Bootstrap, ch. 17.
    """
    time, event = check_survival(time, event)
    if isinstance(design, Design):
        full = fit_cox(time, event, design, ties=ties)  # validates the model and names failing terms
        x = design.matrix.to_numpy(dtype=float)
    else:
        x = np.asarray(design, dtype=float)
        try:
            coef, loglik, loglik_null = _fit(time, event, x, ties)
        except CoxFitError as exc:
            raise ModelError(f"the Cox model cannot be fitted on the original data ({exc})") from None
        full = None
    if full is not None:
        coef, loglik, loglik_null = full.coef, full.log_likelihood, full.log_likelihood_null
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 0:
        raise ModelError(f"B must be a whole number >= 0 (0: no bootstrap), not {B!r}")
    n = time.size
    apparent = _indexes(time, event, x @ coef, ties, refit=False, loglik=loglik, loglik_null=loglik_null)
    if B == 0:
        # The spec's documented default (validation.bootstrap: 0): apparent indexes only. Optimism
        # and the corrected values are unknown without resamples, so NaN (null in results.json),
        # never 0 or the apparent value, which would pass for a validated model.
        indexes = {name: IndexValidation(float(apparent[i]), np.nan, np.nan, np.nan, np.nan, np.nan, 0)
                   for i, name in enumerate(INDEXES)}
        return ValidationResult(B=0, seed=seed if isinstance(seed, int) else None, ties=ties, indexes=indexes,
                                n=int(n), n_events=int(event.sum()))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    training, test = [], []
    report, close = progress_reporter(progress, B, "bootstrap validation")
    try:
        for b in range(B):
            rows = rng.integers(0, n, n)
            t_b, e_b, x_b = time[rows], event[rows], x[rows]
            try:
                if e_b.sum() == 0:
                    raise CoxFitError("no events", "singular")
                coef_b, ll_b, ll0_b = _fit(t_b, e_b, x_b, ties)
                train = _indexes(t_b, e_b, x_b @ coef_b, ties, refit=False, loglik=ll_b, loglik_null=ll0_b)
                tested = _indexes(time, event, x @ coef_b, ties, refit=True)
            except CoxFitError as exc:
                logger.debug("bootstrap replicate %d failed: %s", b, exc)
            else:
                training.append(train)
                test.append(tested)
            report(b + 1, B)
    finally:
        close()
    if not training:
        raise ModelError("no bootstrap replicate could be fitted; the model is too unstable to validate")
    if len(training) < 0.95 * B:
        warnings.warn(f"{B - len(training)} of {B} bootstrap fits failed and were left out",
                      ConvergenceWarning, stacklevel=2)
    training_arr, test_arr = np.array(training), np.array(test)
    diff = training_arr - test_arr
    optimism = diff.mean(axis=0)
    k = len(training)
    se = diff.std(axis=0, ddof=1) / np.sqrt(k) if k > 1 else np.full(len(INDEXES), np.nan)
    indexes = {
        name: IndexValidation(float(apparent[i]), float(training_arr[:, i].mean()), float(test_arr[:, i].mean()),
                              float(optimism[i]), float(apparent[i] - optimism[i]), float(se[i]), k)
        for i, name in enumerate(INDEXES)
    }
    return ValidationResult(B=B, seed=seed if isinstance(seed, int) else None, ties=ties, indexes=indexes,
                            n=int(n), n_events=int(event.sum()))
