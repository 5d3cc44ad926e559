"""Log-rank tests, as R ``survival::survdiff``: plain, weighted (G-rho, Fleming–Harrington),
stratified, pairwise with adjusted p-values, and the test for trend across ordered levels."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.duration.survfunc import survdiff

from prognosis.errors import ModelError
from prognosis.stats.checks import check_survival

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRankResult:
    """Chi-squared statistic with ``df`` = groups - 1, and its p-value."""

    statistic: float
    df: int
    p: float
    groups: tuple[str, ...]
    observed: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p": self.p}


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray, *, by: str = "group") -> LogRankResult:
    """Log-rank test of equal survival across the groups in ``group``.

    Raises
    ------
    ModelError
        Fewer than two groups.

    References
    ----------
    R ``survival::survdiff(Surv(time, status) ~ group)``.
    """
    time, event = check_survival(time, event, group=group)
    group = np.asarray(group, dtype=object)
    levels = tuple(sorted(set(group.tolist()), key=str))
    if len(levels) < 2:
        only = levels[0] if levels else "none"
        raise ModelError(f"{by} has only one level ({only!r}) among the analysed patients, so groups cannot be compared")
    statistic, _ = survdiff(time, event, group)
    # statsmodels returns 1 - cdf, which underflows to 0 for strong effects; sf keeps the digits.
    p = stats.chi2.sf(statistic, len(levels) - 1)
    observed = tuple(int(event[group == lv].sum()) for lv in levels)
    return LogRankResult(float(statistic), len(levels) - 1, float(p), tuple(map(str, levels)), observed)


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
