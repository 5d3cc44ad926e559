"""Survival statistics: Kaplan–Meier, log-rank, Cox models and their comparison.

Everything here takes arrays or a :class:`~prognosis.cohort.Cohort` and returns frozen result
objects; nothing here knows about reports.
"""

from prognosis.stats.compare import ModelComparison, compare_models
from prognosis.stats.cox import CoxResult, fit_cox
from prognosis.stats.design import Design, design_matrix
from prognosis.stats.km import KMCurve, KMResult, kaplan_meier, kaplan_meier_by
from prognosis.stats.logrank import LogRankResult, logrank_test

__all__ = [
    "CoxResult", "Design", "KMCurve", "KMResult", "LogRankResult", "ModelComparison",
    "compare_models", "design_matrix", "fit_cox", "kaplan_meier", "kaplan_meier_by", "logrank_test",
]
