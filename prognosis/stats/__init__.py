"""Survival statistics: Kaplan–Meier, group tests, Cox models and their diagnostics, validation,
competing risks, multiple imputation, associations and Table 1.

Everything here takes arrays, a design or a :class:`~prognosis.cohort.Cohort` and returns frozen
result objects; nothing here knows about reports.
"""

from prognosis.stats.associations import AssociationsResult, associations
from prognosis.stats.bootstrap import ValidationResult, bootstrap_validate
from prognosis.stats.compare import ModelComparison, compare_models
from prognosis.stats.competing import CompetingRisksResult, cause_specific_cox, competing_risks
from prognosis.stats.cox import CoxResult, fit_cox
from prognosis.stats.design import Design, design_matrix
from prognosis.stats.discrimination import DiscriminationResult, discrimination, harrell_c
from prognosis.stats.fine_gray import FineGrayResult, fit_fine_gray
from prognosis.stats.followup import FollowUpResult, median_followup
from prognosis.stats.imputation import ImputationResult, multiple_imputation_cox
from prognosis.stats.km import KMCurve, KMResult, kaplan_meier, kaplan_meier_by
from prognosis.stats.logrank import (
    LogRankResult,
    logrank_test,
    logrank_trend_test,
    pairwise_logrank_test,
    stratified_logrank_test,
    weighted_logrank_test,
)
from prognosis.stats.ph import PHTestResult, ph_test
from prognosis.stats.pooling import rubin_pool
from prognosis.stats.subgroups import SubgroupResult, subgroup_analysis
from prognosis.stats.table1 import TableOne, table_one
from prognosis.stats.validation import (
    ValidationSummary,
    baseline_hazard,
    calibration_at,
    predict_survival,
    validate_cox,
)

__all__ = [
    "AssociationsResult", "CompetingRisksResult", "CoxResult", "Design", "DiscriminationResult",
    "FineGrayResult", "FollowUpResult", "ImputationResult", "KMCurve", "KMResult", "LogRankResult",
    "ModelComparison", "PHTestResult", "SubgroupResult", "TableOne", "ValidationResult", "ValidationSummary",
    "associations", "baseline_hazard", "bootstrap_validate", "calibration_at", "cause_specific_cox",
    "compare_models", "competing_risks", "design_matrix", "discrimination", "fit_cox", "fit_fine_gray",
    "harrell_c", "kaplan_meier", "kaplan_meier_by", "logrank_test", "logrank_trend_test", "median_followup",
    "multiple_imputation_cox", "pairwise_logrank_test", "ph_test", "predict_survival", "rubin_pool",
    "stratified_logrank_test", "subgroup_analysis", "table_one", "validate_cox", "weighted_logrank_test",
]
