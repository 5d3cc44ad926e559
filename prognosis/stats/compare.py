"""Is the marker an independent prognostic factor? Unadjusted, adjusted and base Cox models."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from prognosis.cohort.assemble import Cohort
from prognosis.errors import ConvergenceWarning
from prognosis.stats.cox import CoxResult, Ties, fit_cox
from prognosis.stats.design import Design, design_matrix

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
    design: Design | None = None
    """The adjusted model's design (for diagnostics that need the matrix)."""
    strata: np.ndarray | None = None
    """Stratum code per patient, when the models are stratified."""

    @property
    def events_per_variable(self) -> float:
        """Events per estimated term of the adjusted model."""
        return self.adjusted.n_events / max(len(self.adjusted.terms), 1)

    def to_frame(self) -> pd.DataFrame:
        """The unadjusted, adjusted and base models' terms in one frame, indexed by (model, term)."""
        frames = {name: getattr(self, name).to_frame() for name in ("unadjusted", "adjusted", "base")}
        return pd.concat(frames, names=["model", "term"])


def group_codes(data: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray | None:
    """One integer code per combination of ``columns`` (strata or clusters); None for no columns."""
    if not columns:
        return None
    keys = data[list(columns)].astype(str).agg("\x1f".join, axis=1)
    return pd.factorize(keys, sort=True)[0]


def compare_models(
    cohort: Cohort,
    marker: str,
    covariates: tuple[str, ...],
    *,
    ties: Ties = "efron",
    strata: tuple[str, ...] = (),
    robust: bool = False,
    cluster: str | None = None,
    interactions: tuple[tuple[str, str], ...] = (),
) -> ModelComparison:
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
    strata : tuple of str
        Columns whose combinations are Cox strata (separate baseline hazards), as R
        ``coxph(... + strata(a, b))``.
    robust : bool
        Robust sandwich standard errors (each patient its own cluster unless ``cluster``).
    cluster : str, optional
        Column of cluster ids for the grouped sandwich variance; implies ``robust``.
    interactions : tuple of (str, str)
        Product terms added to the adjusted model, e.g. ``(("casting", "her2"),)``.

    Returns
    -------
    ModelComparison
        With the likelihood-ratio test of the marker's terms, its interactions included
        (df = their number), and Harrell's C of the base and full models. The likelihood-ratio
        test uses the model-based likelihood even when the standard errors are robust.

    Warns
    -----
    ConvergenceWarning
        Fewer than 10 events per term in the adjusted model.
    """
    variables = [cohort.variables[marker], *(cohort.variables[c] for c in covariates)]
    design = design_matrix(cohort.data, variables, interactions=interactions)
    time, event = cohort.time, cohort.event
    options = {"ties": ties, "strata": group_codes(cohort.data, strata), "robust": robust or cluster is not None,
               "cluster": group_codes(cohort.data, (cluster,) if cluster else ())}
    unadjusted = fit_cox(time, event, design.only(marker), **options)
    adjusted = fit_cox(time, event, design, **options)
    base_design = design.without(marker)
    base = fit_cox(time, event, base_design, **options)
    df = len(design.terms) - len(base_design.terms)
    statistic = max(2.0 * (adjusted.log_likelihood - base.log_likelihood), 0.0)
    added = AddedValue(statistic, df, float(stats.chi2.sf(statistic, df)), base.concordance, adjusted.concordance)
    comparison = ModelComparison(marker, unadjusted, adjusted, base, added, design, options["strata"])
    if comparison.events_per_variable < MIN_EVENTS_PER_VARIABLE:
        warnings.warn(f"only {comparison.events_per_variable:.1f} events per term in the adjusted model "
                      f"(fewer than {MIN_EVENTS_PER_VARIABLE:g}); its estimates may be unreliable",
                      ConvergenceWarning, stacklevel=2)
    return comparison
