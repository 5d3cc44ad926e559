"""Log-rank tests, as R ``survival::survdiff``: plain, weighted (G-rho, Fleming–Harrington),
stratified, pairwise with adjusted p-values, and the test for trend across ordered levels."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from prognosis._json import finite_or_none
from prognosis.stats.logrank_core import _chi_square, _components, _p

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRankResult:
    """Chi-squared statistic on ``df`` degrees of freedom, and its p-value.

    ``df`` is the rank of the variance of O - E: groups - 1, less one for each group with no
    expected events (as R survdiff). With df 0 there is no test: statistic 0, p NaN.
    """

    statistic: float
    df: int
    p: float
    groups: tuple[str, ...]
    observed: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": finite_or_none(self.p)}


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray, *, by: str = "group") -> LogRankResult:
    """Log-rank test of equal survival across the groups in ``group``.

    Raises
    ------
    ModelError
        Fewer than two groups, a missing group, or time and event that fail
        :func:`prognosis.stats.checks.check_survival`.

    Notes
    -----
    A group with no expected events (all its patients censored before the first event) drops out
    of the test and of its df, as in survdiff; a direction with zero variance is dropped by a
    generalised inverse (:func:`prognosis.stats.group_tests.generalised_wald`).

    References
    ----------
    R ``survival::survdiff(Surv(time, status) ~ group)``.
    """
    parts = _components(time, event, group, None, levels=None, rho=0.0, gamma=0.0, by=by)
    statistic, df = _chi_square(parts, by)
    # chi2.sf, not 1 - cdf, which underflows to 0 for strong effects.
    observed = tuple(int(round(o)) for o in parts.observed.sum(axis=1))
    return LogRankResult(statistic, df, _p(statistic, df), parts.groups, observed)


# The weighted, stratified, pairwise and trend tests live in group_tests.py; imported here too so
# that ``prognosis.stats.logrank`` offers every log-rank test.
from prognosis.stats.group_tests import (  # noqa: E402
    PairwiseComparison,
    PairwiseLogRankResult,
    StratifiedLogRankResult,
    StratumCounts,
    TrendTestResult,
    WeightedLogRankResult,
    logrank_trend_test,
    pairwise_logrank_test,
    stratified_logrank_test,
    weighted_logrank_test,
)

__all__ = [
    "LogRankResult", "PairwiseComparison", "PairwiseLogRankResult", "StratifiedLogRankResult", "StratumCounts",
    "TrendTestResult", "WeightedLogRankResult", "logrank_test", "logrank_trend_test", "pairwise_logrank_test",
    "stratified_logrank_test", "weighted_logrank_test",
]
