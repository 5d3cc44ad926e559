"""The marker's association with clinical and molecular factors.

For each factor: the cross-table of marker level by factor level, Pearson's chi-squared test
(no continuity correction), Fisher's exact test, and odds ratios of the marker's non-reference
level from logistic regressions of the *marker* on the factor, unadjusted and adjusted for the
variables in ``adjust_for`` (numeric linear, categorical as indicators), which the caller names.
The marker is the outcome, so "the odds of casting are 7.04 times higher in grade 3 than grade 1"
reads straight off ``odds_ratios["grade[3]"]``.

Fisher's exact test: scipy computes it exactly only for 2 x 2 tables (for larger tables it falls
back to Monte Carlo). A binary marker gives 2 x k tables, whose exact p-value is computed here by
enumerating every table with the observed margins (R ``fisher.test`` does the same sum with the
network algorithm); this is checked against R in tests/stats/test_associations.py. Tables with
no dimension of 2, or too many tables to enumerate, get ``fisher_p = None`` with a warning.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import gammaln
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from prognosis.cohort.variable import Variable
from prognosis.dictionary import ColumnSpec
from prognosis.errors import ConvergenceWarning, ModelError, PrognosisWarning
from prognosis.stats.design import design_matrix, level_labels

logger = logging.getLogger(__name__)

# R fisher.test sums the tables whose probability is <= the observed one times (1 + 1e-7).
_FISHER_RELATIVE_TOLERANCE = 1e-7
_FISHER_MAX_TABLES = 5_000_000


@dataclass(frozen=True)
class OddsRatio:
    """One logistic-regression term: odds ratio with its 95% Wald interval and Wald p-value."""

    odds_ratio: float
    lower: float
    upper: float
    p: float
    coef: float
    se: float

    def to_dict(self) -> dict:
        return {"odds_ratio": self.odds_ratio, "lower": self.lower, "upper": self.upper, "p": self.p,
                "coef": self.coef, "se": self.se}


@dataclass(frozen=True)
class ChiSquared:
    statistic: float
    df: int
    p: float
    min_expected: float

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": self.p, "min_expected": self.min_expected}


@dataclass(frozen=True)
class FactorAssociation:
    """The marker against one factor.

    ``table`` maps marker level -> factor level -> count (``None`` for a numeric factor, which
    also has no ``chi2`` or ``fisher_p``). ``n`` counts patients with both values; ``missing``
    those without one of them. An odds ratio is ``None`` when it cannot be estimated (an empty
    cell, non-convergence); a warning says why. ``adjusted_odds_ratios`` is ``None`` when no
    adjustment was asked for or the factor is the only adjustment variable itself;
    ``adjusted_for`` names the variables of this factor's adjusted model.
    """

    factor: str
    label: str
    table: dict[str, dict[str, int]] | None
    n: int
    missing: int
    chi2: ChiSquared | None
    fisher_p: float | None
    odds_ratios: dict[str, OddsRatio | None]
    adjusted_odds_ratios: dict[str, OddsRatio | None] | None
    adjusted_for: tuple[str, ...]
    n_adjusted: int | None

    def to_dict(self) -> dict:
        def ors(d):
            return None if d is None else {t: (None if o is None else o.to_dict()) for t, o in d.items()}
        return {"label": self.label, "table": self.table, "n": self.n, "missing": self.missing,
                "chi2": None if self.chi2 is None else self.chi2.to_dict(), "fisher_p": self.fisher_p,
                "odds_ratios": ors(self.odds_ratios), "adjusted_odds_ratios": ors(self.adjusted_odds_ratios),
                "adjusted_for": list(self.adjusted_for), "n_adjusted": self.n_adjusted}


@dataclass(frozen=True)
class AssociationsResult:
    """Associations of ``marker`` (``marker_level`` vs ``reference``) with each factor, in order."""

    marker: str
    marker_level: str
    reference: str
    factors: dict[str, FactorAssociation]
    adjust_for: tuple[str, ...] = ()
    """The variables the adjusted odds ratios are adjusted for (each factor's model leaves itself out)."""
    adjustment: str = ""
    """How ``adjust_for`` was chosen, in words (e.g. the spec key, or the default rule and its outcome)."""

    def to_dict(self) -> dict:
        return {"marker": self.marker, "marker_level": self.marker_level, "reference": self.reference,
                "adjust_for": list(self.adjust_for), "adjustment": self.adjustment,
                "factors": {name: fa.to_dict() for name, fa in self.factors.items()}}

    def to_frame(self) -> pd.DataFrame:
        """One row per odds-ratio term, with the factor's tests repeated on each of its rows."""
        rows = []
        for name, fa in self.factors.items():
            for term, odds in fa.odds_ratios.items():
                adjusted = (fa.adjusted_odds_ratios or {}).get(term)
                rows.append({
                    "factor": name, "term": term, "n": fa.n, "missing": fa.missing,
                    "chi2_p": None if fa.chi2 is None else fa.chi2.p, "fisher_p": fa.fisher_p,
                    **{k: getattr(odds, k, None) for k in ("odds_ratio", "lower", "upper", "p")},
                    **{f"adjusted_{k}": getattr(adjusted, k, None) for k in ("odds_ratio", "lower", "upper", "p")},
                })
        return pd.DataFrame(rows)


def _labels(values: pd.Series, var: Variable) -> pd.Series:
    """Levels as text, missing as None; categorical cells compare by their text (``3`` == ``"3"``)."""
    if var.spec.type == "binary":
        return level_labels(values, var)
    return values.map(lambda v: None if pd.isna(v) else str(v)).astype(object)


def fisher_exact_p(table: np.ndarray) -> float | None:
    """Two-sided Fisher exact p-value of a 2 x k (or k x 2) table; ``None`` for other shapes.

    Sums the probabilities (multivariate hypergeometric, margins fixed) of every table no more
    probable than the observed one, as R ``fisher.test`` does. 2 x 2 tables go to scipy.

    References
    ----------
    R ``stats::fisher.test(table)``.
    """
    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 1.0
    if table.shape[0] != 2:
        table = table.T
    if table.shape[0] != 2:
        return None
    if table.shape == (2, 2):
        return float(stats.fisher_exact(table).pvalue)
    columns = table.sum(axis=0)
    first_row = int(table[0].sum())
    if math.prod(int(min(c, first_row)) + 1 for c in columns[:-1]) > _FISHER_MAX_TABLES:
        return None
    log_choose = [gammaln(c + 1) - gammaln(np.arange(c + 1) + 1) - gammaln(c - np.arange(c + 1) + 1) for c in columns]
    # Enumerate row-1 counts column by column, pruning partial sums beyond the row total.
    partial_sum, partial_log = np.zeros(1, dtype=np.int64), np.zeros(1)
    for j in range(len(columns) - 1):
        x = np.arange(min(columns[j], first_row) + 1)
        partial_sum = (partial_sum[:, None] + x[None, :]).ravel()
        partial_log = (partial_log[:, None] + log_choose[j][x][None, :]).ravel()
        keep = partial_sum <= first_row
        partial_sum, partial_log = partial_sum[keep], partial_log[keep]
    last = first_row - partial_sum
    feasible = last <= columns[-1]
    log_p = partial_log[feasible] + log_choose[-1][last[feasible]]
    observed = sum(log_choose[j][table[0, j]] for j in range(len(columns)))
    log_total = gammaln(columns.sum() + 1) - gammaln(first_row + 1) - gammaln(columns.sum() - first_row + 1)
    extreme = log_p <= observed + np.log1p(_FISHER_RELATIVE_TOLERANCE)
    return float(min(1.0, np.exp(log_p[extreme] - log_total).sum()))


def _chi_squared(table: np.ndarray) -> ChiSquared | None:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    statistic, p, df, expected = stats.chi2_contingency(table, correction=False)
    return ChiSquared(float(statistic), int(df), float(p), float(expected.min()))


def _logistic(outcome: np.ndarray, frame: pd.DataFrame, variables: list[Variable], report: Variable,
              what: str) -> dict[str, OddsRatio | None]:
    """Logit of ``outcome`` on ``variables``; odds ratios of ``report``'s terms only."""
    design = design_matrix(frame, variables, model=f"the odds ratios of {report.name}")
    terms = list(design.terms_of[report.name])
    unusable = set()
    if report.is_categorical:
        levels = _labels(frame[report.name], report)
        for term in terms:
            level = term[len(report.name) + 1:-1]
            for lv in (level, report.reference):
                cell = outcome[(levels == lv).to_numpy()]
                if cell.size and (cell.min() == cell.max()):
                    unusable.add(term)
        if unusable:
            warnings.warn(f"{report.name}: the marker does not vary within some levels ({', '.join(sorted(unusable))}, "
                          f"or the reference {report.reference!r}), so their {what} odds ratios cannot be estimated",
                          ConvergenceWarning, stacklevel=3)
    exog = sm.add_constant(design.matrix.to_numpy(dtype=float), has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.Logit(outcome, exog).fit(disp=0, maxiter=100)
    trouble = [w for w in caught if issubclass(w.category, (SMConvergenceWarning, PerfectSeparationWarning))]
    if trouble or not fit.mle_retvals.get("converged", True):
        warnings.warn(f"{report.name}: the {what} logistic regression of the marker did not converge "
                      "(separation?); its odds ratios are not reported", ConvergenceWarning, stacklevel=3)
        return {t: None for t in terms}
    z = stats.norm.ppf(0.975)
    out: dict[str, OddsRatio | None] = {}
    for i, term in enumerate(design.terms, start=1):
        if term not in terms:
            continue
        if term in unusable:
            out[term] = None
            continue
        b, se = float(fit.params[i]), float(fit.bse[i])
        out[term] = OddsRatio(math.exp(b), math.exp(b - z * se), math.exp(b + z * se),
                              float(2 * stats.norm.sf(abs(b / se))), b, se)
    return out


def _marker_levels(marker: Variable, marker_level: str | None) -> tuple[str, str]:
    if not marker.is_categorical:
        raise ModelError(f"marker {marker.name} ({marker.label}) is numeric; associations need a binary or categorical marker")
    levels = marker.spec.category_levels
    reference = marker.reference if marker.reference is not None else levels[0]
    if marker_level is None:
        others = [lv for lv in levels if lv != reference]
        if not others:
            raise ModelError(f"marker {marker.name} has a single declared level, so it cannot be compared")
        marker_level = others[-1]
    marker_level = str(marker_level)
    if marker_level not in levels or marker_level == reference:
        raise ModelError(f"marker {marker.name}: marker_level {marker_level!r} must be a level other than the "
                         f"reference {reference!r} ({', '.join(levels)})")
    return marker_level, reference


def associations(data: pd.DataFrame, marker: Variable, factors: list[Variable], *, age: str | None = "age",
                 marker_level: str | None = None, adjust_for: list[Variable] | None = None,
                 adjustment: str = "") -> AssociationsResult:
    """Cross-tables, chi-squared and Fisher tests, and odds ratios of the marker for each factor.

    Parameters
    ----------
    data
        One row per patient (e.g. ``Cohort.data``); missing values are excluded pairwise, per
        factor, and counted.
    marker
        Binary or categorical variable; the outcome of the logistic models.
    factors
        Numeric (odds ratio per unit), binary or categorical (one odds ratio per non-reference
        level against ``factor.reference``).
    age
        Column adjusted for in ``adjusted_odds_ratios`` (numeric, linear); ``None`` for none.
        Ignored when ``adjust_for`` is given.
    marker_level
        The marker level modelled against the marker's reference; default the last other level.
        With more than two marker levels the models use only patients at these two levels,
        while the cross-table and tests use all levels.
    adjust_for
        Variables of the adjusted models (numeric: linear; binary or categorical: indicators
        against their reference), e.g. ``[age_dx, grade]``; ``[]`` for no adjusted odds ratios.
        A factor that is itself in ``adjust_for`` is adjusted for the others only.
    adjustment
        Words recorded with the result saying how ``adjust_for`` was chosen.

    Returns
    -------
    AssociationsResult

    Raises
    ------
    ModelError
        A numeric marker, an unknown ``marker_level``, or a factor or age column absent from ``data``.

    References
    ----------
    R ``table``, ``chisq.test(tab, correct = FALSE)``, ``fisher.test(tab)``,
    ``glm(marker ~ factor [+ adjust_for], family = binomial)`` with Wald intervals
    ``exp(b +- qnorm(0.975) * se)`` (``confint.default``, not profile likelihood).
    """
    marker_level, reference = _marker_levels(marker, marker_level)
    if adjust_for is None:
        adjust_for = [] if age is None else [_numeric_variable(age)]
    adjust_names = [v.name for v in adjust_for]
    missing_columns = [v for v in [marker.name, *(f.name for f in factors), *adjust_names] if v not in data]
    if missing_columns:
        raise ModelError(f"associations: column(s) {', '.join(missing_columns)} not in the data")
    if marker.name in adjust_names:
        raise ModelError(f"associations: the marker {marker.name} is the outcome of these models; it cannot also be "
                         "adjusted for")
    marker_values = _labels(data[marker.name], marker)
    results: dict[str, FactorAssociation] = {}
    for factor in factors:
        both = marker_values.notna() & data[factor.name].notna()
        table = chi2 = fisher_p = None
        if factor.is_categorical:
            factor_values = _labels(data[factor.name], factor)
            counts = pd.crosstab(marker_values[both], factor_values[both]).reindex(
                index=list(marker.spec.category_levels), columns=list(factor.spec.category_levels), fill_value=0)
            table = {str(r): {str(c): int(counts.loc[r, c]) for c in counts.columns} for r in counts.index}
            chi2 = _chi_squared(counts.to_numpy())
            fisher_p = fisher_exact_p(counts.to_numpy())
            if fisher_p is None:
                warnings.warn(f"{factor.name}: Fisher's exact test is computed only for tables with two rows or two "
                              "columns and a manageable number of tables; not reported", PrognosisWarning, stacklevel=2)
        modelled = both & marker_values.isin([marker_level, reference])
        outcome = (marker_values[modelled] == marker_level).to_numpy(dtype=float)
        odds = _logistic(outcome, data[modelled], [factor], factor, "unadjusted")
        adjusted, adjusted_for, n_adjusted = None, (), None
        others = [v for v in adjust_for if v.name != factor.name]
        if others:
            with_all = modelled & data[[v.name for v in others]].notna().all(axis=1)
            y = (marker_values[with_all] == marker_level).to_numpy(dtype=float)
            what = "age-adjusted" if [v.name for v in others] == ["age"] else "adjusted"
            adjusted = _logistic(y, data[with_all], [factor, *others], factor, what)
            adjusted_for, n_adjusted = tuple(v.name for v in others), int(with_all.sum())
        results[factor.name] = FactorAssociation(
            factor.name, factor.label, table, int(both.sum()), int((~both).sum()), chi2, fisher_p,
            odds, adjusted, adjusted_for, n_adjusted)
        logger.debug("associations: %s vs %s on %d patients", marker.name, factor.name, int(both.sum()))
    return AssociationsResult(marker.name, marker_level, reference, results, tuple(adjust_names), adjustment)


def _numeric_variable(name: str) -> Variable:
    return Variable(name, ColumnSpec(name, "numeric"), table="")
