"""Probabilistic bias analysis of a misclassified binary marker in a Cox model.

The marker read from images (casting yes/no) has imperfect sensitivity (Se) and specificity (Sp).
Non-differential misclassification of a binary exposure biases its hazard ratio, usually toward
1. Record-level probabilistic bias analysis (Fox, Lash & Greenland 2005) asks how far: draw Se
and Sp from distributions that express what is known about them, turn each draw into every
patient's probability of truly being marker-positive given the observed call (the positive and
negative predictive values), impute the true marker by Bernoulli draws, refit the adjusted Cox
model, and summarise the hazard ratios over draws.

No R package for this analysis of a Cox model is installed (``episensr`` covers 2×2 tables and
is not available), so the tests check the predictive values by hand on a 2×2 table, the identity
at Se = Sp = 1, and recovery of a known hazard ratio in simulated cohorts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from prognosis.errors import ModelError
from prognosis.stats.cox_engine import CoxFitError, Ties, newton_cox

logger = logging.getLogger(__name__)

DistributionKind = Literal["fixed", "beta", "trapezoid"]


@dataclass(frozen=True)
class Distribution:
    """A distribution of a sensitivity or specificity, as the user gave it.

    ``kind`` "fixed": ``parameters`` = (value,); "beta": (alpha, beta), e.g. Beta(TP + 1, FN + 1)
    from validation counts; "trapezoid": (minimum, lower mode, upper mode, maximum), as in
    Lash, Fox & Fink (2009) chapter 8. ``counts`` keeps the validation counts a beta came from.
    """

    kind: DistributionKind
    parameters: tuple[float, ...]
    counts: dict[str, int] | None = None

    @classmethod
    def from_counts(cls, positive: int, negative: int, names: tuple[str, str]) -> Distribution:
        """Beta(positive + 1, negative + 1): the posterior of a proportion under a uniform prior.

        For sensitivity ``positive`` = true positives and ``negative`` = false negatives; for
        specificity, true negatives and false positives.
        """
        return cls("beta", (positive + 1.0, negative + 1.0), {names[0]: int(positive), names[1]: int(negative)})

    @property
    def centre(self) -> float:
        """A typical value, for the report's sentence: the value, the beta's mean, the trapezoid's mean."""
        p = self.parameters
        if self.kind == "fixed":
            return p[0]
        if self.kind == "beta":
            return p[0] / (p[0] + p[1])
        return float(_trapezoid(p).mean())

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` values drawn with ``rng``."""
        if self.kind == "fixed":
            return np.full(size, self.parameters[0])
        if self.kind == "beta":
            return rng.beta(self.parameters[0], self.parameters[1], size)
        return _trapezoid(self.parameters).rvs(size=size, random_state=rng)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"distribution": self.kind, "parameters": list(self.parameters)}
        if self.counts is not None:
            out["counts"] = dict(self.counts)
        return out


def _trapezoid(p: tuple[float, ...]) -> Any:
    low, mode_low, mode_high, high = p
    width = high - low
    return stats.trapezoid((mode_low - low) / width, (mode_high - low) / width, loc=low, scale=width)


def predictive_values(sensitivity: float | np.ndarray, specificity: float | np.ndarray, n_positive: int,
                      n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative predictive values of the observed call, from Se, Sp and the observed counts.

    With ``a`` observed positives of ``n``, the expected true positives are
    ``A = (a - (1 - Sp) n) / (Se + Sp - 1)``; of the ``a`` observed positives ``Se A`` are truly
    positive (PPV = Se A / a), and of the ``n - a`` observed negatives ``Sp (n - A)`` truly
    negative (NPV = Sp (n - A) / (n - a)). A pair (Se, Sp) for which ``A`` is not between 0 and
    n implies impossible (negative) corrected counts, and with Se + Sp <= 1 the calls carry no
    information: both values are NaN there.

    Parameters
    ----------
    sensitivity, specificity : float or ndarray
        P(observed + | truly +) and P(observed - | truly -), broadcast together.
    n_positive, n : int
        Observed positives and all patients.

    Returns
    -------
    ppv, npv : ndarray

    References
    ----------
    Lash TL, Fox MP, Fink AK (2009) Applying Quantitative Bias Analysis to Epidemiologic Data,
    chapter 6 (equations 6.1–6.4); Fox MP, Lash TL, Greenland S (2005) Int J Epidemiol 34:1370.
    """
    se, sp = np.broadcast_arrays(np.asarray(sensitivity, dtype=float), np.asarray(specificity, dtype=float))
    a, b = float(n_positive), float(n - n_positive)
    with np.errstate(divide="ignore", invalid="ignore"):
        true_positive = (a - (1.0 - sp) * n) / (se + sp - 1.0)
        # With no observed positive (negative) the PPV (NPV) is never used; 1 keeps the draw.
        ppv = se * true_positive / a if a > 0 else np.ones_like(se)
        npv = sp * (n - true_positive) / b if b > 0 else np.ones_like(se)
    # The four corrected cells (Se A, (1 - Se) A, (1 - Sp)(n - A), Sp (n - A)) are non-negative
    # exactly when 0 <= A <= n; the small slack absorbs rounding at Se = Sp = 1.
    slack = 1e-9 * max(n, 1)
    possible = (se + sp > 1.0) & (true_positive >= -slack) & (true_positive <= n + slack)
    ppv, npv = np.clip(ppv, 0.0, 1.0), np.clip(npv, 0.0, 1.0)
    return np.where(possible, ppv, np.nan), np.where(possible, npv, np.nan)


@dataclass(frozen=True)
class MisclassificationResult:
    """The marker's hazard ratio corrected for misclassification, over the draws that were possible.

    ``hazard_ratios`` holds one corrected HR per used draw (systematic error only);
    ``interval_systematic`` is their 2.5th and 97.5th percentiles; ``median_total`` and
    ``interval_total`` add the conventional random error, HR × exp(N(0, SE)) with each draw's own
    model-based SE of the log HR.
    """

    term: str
    sensitivity: Distribution
    specificity: Distribution
    draws: int
    seed: int
    draws_used: int
    draws_discarded: int
    """Draws whose (Se, Sp) imply impossible (negative) corrected counts for the observed prevalence."""
    draws_not_fitted: int
    """Draws whose imputed marker gave a Cox model that could not be fitted (e.g. an HR running off to infinity)."""
    conventional_hazard_ratio: float
    conventional_interval: tuple[float, float]
    median_systematic: float
    interval_systematic: tuple[float, float]
    median_total: float
    interval_total: tuple[float, float]
    hazard_ratios: np.ndarray
    observed_positive: int
    n: int
    time_groups: int = 4
    """Groups of follow-up time within event status in which the predictive values were computed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "method": "probabilistic bias analysis (record level, non-differential)",
            "time_groups": self.time_groups,
            "sensitivity": self.sensitivity.to_dict(),
            "specificity": self.specificity.to_dict(),
            "draws": self.draws, "seed": self.seed, "draws_used": self.draws_used,
            "draws_discarded": self.draws_discarded, "draws_not_fitted": self.draws_not_fitted,
            "n": self.n, "observed_positive": self.observed_positive,
            "conventional": {"hazard_ratio": self.conventional_hazard_ratio,
                             "lower": self.conventional_interval[0], "upper": self.conventional_interval[1]},
            "systematic": {"median": self.median_systematic, "lower": self.interval_systematic[0],
                           "upper": self.interval_systematic[1]},
            "total": {"median": self.median_total, "lower": self.interval_total[0],
                      "upper": self.interval_total[1]},
        }


def outcome_groups(time: np.ndarray, event: np.ndarray, time_groups: int) -> list[np.ndarray]:
    """Masks of the patients with and without the event, each cut into ``time_groups`` groups of follow-up.

    The true marker's prevalence among the patients with an outcome depends on when it happened,
    not only on whether it did (a marker-positive patient dies sooner and is censored sooner);
    predictive values that ignored time would under-correct a hazard ratio.
    """
    masks = []
    for status in (event == 1, event != 1):
        times = time[status]
        if times.size == 0:
            continue
        cuts = np.quantile(times, np.linspace(0, 1, time_groups + 1)[1:-1])
        # A group is the patients with this status whose time falls between two quantiles.
        codes = np.searchsorted(cuts, time, side="right")
        masks.extend(status & (codes == c) for c in range(time_groups) if (status & (codes == c)).any())
    return masks


def misclassification_bias_analysis(time: np.ndarray, event: np.ndarray, x: np.ndarray, marker_column: int, *,
                                    sensitivity: Distribution, specificity: Distribution, draws: int = 1000,
                                    seed: int = 1, time_groups: int = 4, ties: Ties = "efron", strata: np.ndarray | None = None,
                                    term: str = "marker",
                                    conventional: tuple[float, float, float] | None = None
                                    ) -> MisclassificationResult:
    """Record-level probabilistic bias analysis of a misclassified binary column of a Cox design.

    Parameters
    ----------
    time, event : ndarray
        Checked follow-up and 0/1 events (see :func:`prognosis.stats.checks.check_survival`).
    x : ndarray, shape (n, p)
        The adjusted model's design; column ``marker_column`` is the observed 0/1 marker.
    marker_column : int
    sensitivity, specificity : Distribution
        What is known of the marker's Se and Sp (non-differential: the same for every patient).
    draws : int
        Pairs (Se, Sp) drawn.
    seed : int
        Seeds the one ``numpy.random.Generator`` behind every draw.
    time_groups : int
        The predictive values are computed within the patients with and without the event, each cut
        into this many groups of follow-up time (quantiles); see :func:`outcome_groups`. 1 gives Fox
        et al.'s groups (event status only), which under-correct a hazard ratio.
    ties, strata
        As the conventional model.
    term : str
        The marker's term name, for messages and the result.
    conventional : (hazard ratio, lower, upper), optional
        The conventional estimate to report beside the corrected ones (e.g. with a robust CI);
        by default it is fitted here.

    Returns
    -------
    MisclassificationResult

    Raises
    ------
    ModelError
        The observed marker is not 0/1 with both values present, or no draw was possible and fitted.

    References
    ----------
    Fox MP, Lash TL, Greenland S (2005) A method to automate probabilistic sensitivity analyses of
    misclassified binary variables. Int J Epidemiol 34:1370–1376. Lash TL, Fox MP, Fink AK (2009)
    Applying Quantitative Bias Analysis to Epidemiologic Data, chapters 6 and 8.
    """
    x = np.array(x, dtype=float)
    observed = x[:, marker_column].copy()
    if not np.isin(observed, (0.0, 1.0)).all():
        raise ModelError(f"the misclassification analysis needs a 0/1 marker term; {term} is not")
    n, n_positive = observed.size, int(observed.sum())
    if n_positive in (0, n):
        raise ModelError(f"the misclassification analysis needs patients with and without {term}")
    rng = np.random.default_rng(seed)
    se_draws, sp_draws = sensitivity.draw(rng, draws), specificity.draw(rng, draws)
    # Fox et al. (2005): with the same Se and Sp for patients with and without the event (non-
    # differential), the predictive values still differ between them because the marker's prevalence
    # does; computed over everyone, the imputation would itself misclassify non-differentially and
    # pull the hazard ratio further toward 1. For a hazard ratio the groups are also cut by follow-up
    # time (outcome_groups).
    groups = outcome_groups(time, event, time_groups)
    predictive = [predictive_values(se_draws, sp_draws, int(observed[g].sum()), int(g.sum())) for g in groups]
    impossible = np.zeros(draws, dtype=bool)
    for ppv, npv in predictive:
        impossible |= np.isnan(ppv)
    conventional_fit = _fit(time, event, x, ties, strata, marker_column)
    if conventional_fit is None:
        raise ModelError(f"the conventional Cox model with {term} could not be fitted")
    if conventional is None:
        log_hr, se = conventional_fit[:2]
        z = stats.norm.ppf(0.975)
        conventional = (float(np.exp(log_hr)), float(np.exp(log_hr - z * se)), float(np.exp(log_hr + z * se)))
    start = conventional_fit[2]
    is_positive = observed == 1.0
    log_hrs, ses = [], []
    discarded = not_fitted = 0
    p_true = np.empty(n)
    for k in range(draws):
        if impossible[k]:
            discarded += 1
            continue
        # P(truly +): PPV for an observed positive, 1 - NPV for an observed negative, in its outcome group.
        for g, (ppv, npv) in zip(groups, predictive):
            p_true[g] = np.where(is_positive[g], ppv[k], 1.0 - npv[k])
        x[:, marker_column] = (rng.random(n) < p_true).astype(float)
        # The same data as the conventional model (Se = Sp = 1, say) is the same fit; refitting from a
        # warm start would agree only to the convergence tolerance.
        same = np.array_equal(x[:, marker_column], observed)
        fit = conventional_fit if same else _fit(time, event, x, ties, strata, marker_column, start)
        if fit is None:
            not_fitted += 1
            continue
        log_hrs.append(fit[0])
        ses.append(fit[1])
        # The next draw's fit starts from this one's: the corrected fits resemble one another more
        # than they resemble the conventional fit, so fewer Newton steps are needed.
        start = fit[2]
    if not log_hrs:
        raise ModelError(f"none of the {draws} sensitivity/specificity draws gave a corrected hazard ratio for "
                         f"{term} ({discarded} implied impossible corrected counts, {not_fitted} could not be "
                         "fitted); check the sensitivity and specificity given")
    log_hr_draws, se_draws_fit = np.array(log_hrs), np.array(ses)
    # Random error on top of the systematic: each corrected log HR plus a normal deviate with its SE.
    total = log_hr_draws + rng.standard_normal(log_hr_draws.size) * se_draws_fit
    hazard_ratios = np.exp(log_hr_draws)
    low, mid, high = np.exp(np.percentile(log_hr_draws, [2.5, 50, 97.5]))
    total_low, total_mid, total_high = np.exp(np.percentile(total, [2.5, 50, 97.5]))
    if discarded:
        logger.info("misclassification: %d of %d draws implied impossible corrected counts", discarded, draws)
    return MisclassificationResult(
        term=term, sensitivity=sensitivity, specificity=specificity, draws=draws, seed=seed,
        draws_used=int(log_hr_draws.size), draws_discarded=discarded, draws_not_fitted=not_fitted,
        conventional_hazard_ratio=conventional[0], conventional_interval=(conventional[1], conventional[2]),
        median_systematic=float(mid), interval_systematic=(float(low), float(high)),
        median_total=float(total_mid), interval_total=(float(total_low), float(total_high)),
        hazard_ratios=hazard_ratios, observed_positive=n_positive, n=n, time_groups=time_groups,
    )


def _fit(time: np.ndarray, event: np.ndarray, x: np.ndarray, ties: Ties, strata: np.ndarray | None,
         j: int, start: np.ndarray | None = None) -> tuple[float, float, np.ndarray] | None:
    """Column ``j``'s log HR and model-based SE, and all coefficients; None when the model cannot be fitted."""
    try:
        # A warm start from the conventional fit: the imputed designs differ from it in one column only.
        fit = newton_cox(time, event, x, ties=ties, strata=strata, max_iter=100, start=start)
        variance = np.linalg.inv(fit.information)[j, j]
    except (CoxFitError, np.linalg.LinAlgError):
        return None
    if not (np.isfinite(fit.coef[j]) and variance > 0):
        return None
    return float(fit.coef[j]), float(np.sqrt(variance)), fit.coef
