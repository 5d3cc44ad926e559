"""The true parameters of the demo cohort (see :mod:`prognosis.simulate.demo`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class DemoParameters:
    """Every true parameter of the demo cohort.

    ``*_prob_no_casting`` are probabilities among tumours without casting and ``*_log_or_casting``
    log odds ratios for casting: each covariate is logistic in casting alone, and the covariates
    are independent given casting (PR depends on ER), so the marginal ORs equal the parameters.
    The reference patient of the true log hazard ratios ``log_hr_*`` is aged ``age_mean_years``,
    size <=20 mm, grade 1, node, ER and HER2 negative, without casting, with the Weibull baseline
    ``H0(t) = (t / bc_baseline_scale_years) ** bc_baseline_shape`` (t in years).

    Parameters
    ----------
    n, seed : int
        Number of patients; seed of the ``numpy.random.Generator`` when none is passed.
    age_mean_years, age_sd_years, age_min_years, age_max_years
        Normal age at diagnosis, truncated (by redrawing) to [min, max], recorded in whole years.
    casting_prevalence : float
        Probability of casting-type calcifications.
    grade3_*, node_positive_*, her2_positive_*, er_negative_*, pr_positive_* : float
        Grade 3, node and HER2 positivity, ER negativity given casting; grades 1 and 2 share the
        rest as ``grade1_share_of_grade1_2`` says; PR positivity given ER.
    size_median_mm_no_casting, size_log_sd, size_log_ratio_casting, size_min_mm, size_max_mm
        Log-normal invasive size; casting multiplies the median by ``exp(size_log_ratio_casting)``.
    extent_log_excess_mean, extent_log_excess_casting, extent_log_excess_sd
        ``log(extent_mm / size_mm) = max(0, N(mean + casting * excess_casting, sd))``.
    extensive_threshold_mm : float
        Extent at or above which disease is *extensive* (Tot's 40 mm).
    focality_intercepts, focality_log_or_extensive, focality_log_or_casting
        Multinomial logits of (multifocal, diffuse) against unifocal.
    laterality_left_prob, calcification_probs_no_casting : float, tuple of float
        P(left breast); P(none, coarse_benign, powdery, crushed_stone) when there is no casting.
    calcification_mean_count, cluster_extra_mean
        Mean number of calcifications and mean number of clusters beyond the first, by class
        (in the order of ``CALCIFICATION_CLASSES``; both are 0 for class none).
    log_hr_* : float
        True log hazard ratios of breast-cancer death; age is per year about ``age_mean_years``.
    bc_baseline_shape, bc_baseline_scale_years
        Weibull baseline cumulative hazard of breast-cancer death of the reference patient.
    other_death_rate_at_mean_age, other_death_log_rate_per_year
        Gompertz hazard of death from other causes, ``a * exp(b * (age - age_mean + t))``,
        per year; it depends on age only.
    accrual_start, accrual_end, study_end, loss_to_followup_rate_per_year
        Diagnosis dates uniform over the accrual period, follow-up ending at ``study_end``;
        exponential loss to follow-up.
    missing_size, missing_grade, missing_er, missing_her2 : float
        Fractions (missing completely at random) of size_mm (and so size_cat), grade, er, her2.
    """

    n: int = 2000
    seed: int = 20261125
    age_mean_years: float = 60.0
    age_sd_years: float = 12.0
    age_min_years: int = 25
    age_max_years: int = 90
    casting_prevalence: float = 0.10
    grade3_prob_no_casting: float = 0.28
    grade3_log_or_casting: float = math.log(7.0)
    grade1_share_of_grade1_2: float = 0.38
    node_positive_prob_no_casting: float = 0.30
    node_positive_log_or_casting: float = math.log(3.0)
    her2_positive_prob_no_casting: float = 0.12
    her2_positive_log_or_casting: float = math.log(3.0)
    er_negative_prob_no_casting: float = 0.17
    er_negative_log_or_casting: float = math.log(2.0)
    pr_positive_prob_er_positive: float = 0.80
    pr_positive_prob_er_negative: float = 0.10
    size_median_mm_no_casting: float = 17.0
    size_log_sd: float = 0.55
    size_log_ratio_casting: float = 0.35
    size_min_mm: float = 1.0
    size_max_mm: float = 150.0
    extent_log_excess_mean: float = 0.3
    extent_log_excess_casting: float = 0.8
    extent_log_excess_sd: float = 0.5
    extensive_threshold_mm: float = 40.0
    focality_intercepts: tuple[float, float] = (-1.6, -3.2)
    focality_log_or_extensive: tuple[float, float] = (1.0, 1.5)
    focality_log_or_casting: tuple[float, float] = (1.0, 1.8)
    laterality_left_prob: float = 0.52
    calcification_probs_no_casting: tuple[float, float, float, float] = (0.45, 0.20, 0.12, 0.23)
    calcification_mean_count: tuple[float, ...] = (0.0, 6.0, 15.0, 20.0, 35.0)
    cluster_extra_mean: tuple[float, ...] = (0.0, 0.3, 0.3, 0.4, 0.8)
    log_hr_casting: float = math.log(2.0)
    log_hr_age_per_year: float = math.log(1.01)
    log_hr_size_20_50: float = math.log(1.6)
    log_hr_size_over_50: float = math.log(2.4)
    log_hr_grade_2: float = math.log(1.7)
    log_hr_grade_3: float = math.log(2.6)
    log_hr_node_positive: float = math.log(2.3)
    log_hr_er_positive: float = math.log(0.7)
    log_hr_her2_positive: float = math.log(1.4)
    bc_baseline_shape: float = 1.1
    bc_baseline_scale_years: float = 120.0
    other_death_rate_at_mean_age: float = 0.006
    other_death_log_rate_per_year: float = 0.09
    accrual_start: str = "2000-01-01"
    accrual_end: str = "2010-12-31"
    study_end: str = "2014-12-31"
    loss_to_followup_rate_per_year: float = 0.01
    missing_size: float = 0.025
    missing_grade: float = 0.03
    missing_er: float = 0.02
    missing_her2: float = 0.035

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        for name in ("casting_prevalence", "grade3_prob_no_casting", "node_positive_prob_no_casting",
                     "her2_positive_prob_no_casting", "er_negative_prob_no_casting"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie strictly between 0 and 1")
        missing = (self.missing_size, self.missing_grade, self.missing_er, self.missing_her2)
        if not all(0.0 <= fraction < 0.5 for fraction in missing):
            raise ValueError("missing fractions must lie in [0, 0.5)")
        start, stop, end = (pd.Timestamp(d) for d in (self.accrual_start, self.accrual_end, self.study_end))
        if not start <= stop < end:
            raise ValueError("need accrual_start <= accrual_end < study_end")

    def true_log_hazard_ratios(self) -> dict[str, float]:
        """The true log hazard ratios of breast-cancer death, keyed by Cox term name."""
        return {
            "casting[yes]": self.log_hr_casting,
            "age": self.log_hr_age_per_year,
            "size_cat[20-50]": self.log_hr_size_20_50,
            "size_cat[>50]": self.log_hr_size_over_50,
            "grade[2]": self.log_hr_grade_2,
            "grade[3]": self.log_hr_grade_3,
            "nodes[positive]": self.log_hr_node_positive,
            "er[positive]": self.log_hr_er_positive,
            "her2[positive]": self.log_hr_her2_positive,
        }
