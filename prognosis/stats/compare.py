"""Is the marker an independent prognostic factor? Unadjusted, adjusted and base Cox models."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from scipy import stats

from prognosis.cohort.assemble import Cohort
from prognosis.errors import ConvergenceWarning
from prognosis.stats.cox import CoxResult, Ties, fit_cox
from prognosis.stats.design import design_matrix

logger = logging.getLogger(__name__)

#: Below this many events per model term, estimates are unreliable (Peduzzi et al. 1996).
MIN_EVENTS_PER_VARIABLE = 10.0


@dataclass(frozen=True)
class AddedValue:
    """The likelihood-ratio test of adding the marker to the covariates-only model, and C of both."""

    lrt_statistic: float
    df: int
    p: float
    c_base: float
    c_full: float

    def to_dict(self) -> dict:
        return {"lrt_statistic": self.lrt_statistic, "df": self.df, "p": self.p,
                "c_base": self.c_base, "c_full": self.c_full}


@dataclass(frozen=True)
class ModelComparison:
    """The three Cox models behind the 'independent marker' question."""

    marker: str
    unadjusted: CoxResult
    adjusted: CoxResult
    base: CoxResult
    added_value: AddedValue

    @property
    def events_per_variable(self) -> float:
        """Events per estimated term of the adjusted model."""
        return self.adjusted.n_events / max(len(self.adjusted.terms), 1)


def compare_models(cohort: Cohort, marker: str, covariates: tuple[str, ...], *, ties: Ties = "efron") -> ModelComparison:
    """Fit marker alone, marker + covariates and covariates alone on the same patients.

    Parameters
    ----------
    cohort : Cohort
        A complete-case cohort (see :func:`prognosis.cohort.assemble_cohort`).
    marker : str
        The candidate prognostic variable.
    covariates : tuple of str
        The established factors to adjust for.
    ties : {"efron", "breslow"}

    Returns
    -------
    ModelComparison
        With the likelihood-ratio test of the marker's terms (df = their number) and Harrell's
        C of the base and full models.

    Warns
    -----
    ConvergenceWarning
        Fewer than 10 events per term in the adjusted model.
    """
    variables = [cohort.variables[marker], *(cohort.variables[c] for c in covariates)]
    design = design_matrix(cohort.data, variables)
    time, event = cohort.time, cohort.event
    unadjusted = fit_cox(time, event, design.only(marker), ties=ties)
    adjusted = fit_cox(time, event, design, ties=ties)
    base = fit_cox(time, event, design.without(marker), ties=ties)
    df = len(design.terms_of[marker])
    statistic = max(2.0 * (adjusted.log_likelihood - base.log_likelihood), 0.0)
    added = AddedValue(statistic, df, float(stats.chi2.sf(statistic, df)), base.concordance, adjusted.concordance)
    comparison = ModelComparison(marker, unadjusted, adjusted, base, added)
    if comparison.events_per_variable < MIN_EVENTS_PER_VARIABLE:
        warnings.warn(f"only {comparison.events_per_variable:.1f} events per term in the adjusted model "
                      f"(fewer than {MIN_EVENTS_PER_VARIABLE:g}); its estimates may be unreliable",
                      ConvergenceWarning, stacklevel=2)
    return comparison
