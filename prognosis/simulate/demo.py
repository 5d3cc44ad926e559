"""Simulate the bundled demo cohort: clinical, pathology and imaging tables with a known truth.

Casting-type calcifications mark high-grade, HER2-positive, node-positive, extensive disease
(science.md, sections 2-3). Breast-cancer death follows a proportional cause-specific hazards
model in *exactly* age, size_cat, grade, nodes, er, her2 and casting, so the Cox model adjusted
for those six covariates is correctly specified and estimates the true hazard ratio for casting
(2.0). Other-cause death (depending on age only), accrual, loss to follow-up and missingness
(completely at random) are independent of it given the covariates, so complete cases are unbiased.
Regenerate the bundled files with ``python -m prognosis.simulate.demo --out data/demo --seed 20261125``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._csv import write_csv
from prognosis.simulate.demo_parameters import DemoParameters

logger = logging.getLogger(__name__)

DAYS_PER_YEAR = 365.25
SIZE_CAT_LEVELS = ("<=20", "20-50", ">50")
CALCIFICATION_CLASSES = ("none", "coarse_benign", "powdery", "crushed_stone", "casting")
FOCALITY_LEVELS = ("unifocal", "multifocal", "diffuse")


@dataclass(frozen=True)
class DemoCohort:
    """A simulated cohort: three tables keyed by ``patient_id`` and the truth behind them.

    Attributes
    ----------
    clinical, pathology, imaging : pandas.DataFrame
        The tables as they are written to CSV (missing values as ``pd.NA``/``NaN``).
    truth : dict
        JSON-serialisable: the parameters, the true hazard ratios and the realised counts.
    """

    clinical: pd.DataFrame
    pathology: pd.DataFrame
    imaging: pd.DataFrame
    truth: dict


def _given_casting(rng: np.random.Generator, casting: np.ndarray, prob: float, log_or: float) -> np.ndarray:
    """Bernoulli draws whose log odds are ``logit(prob) + log_or * casting``."""
    log_odds = math.log(prob / (1.0 - prob)) + log_or * casting
    return rng.random(casting.size) < 1.0 / (1.0 + np.exp(-log_odds))


def _truncated_normal_ages(rng: np.random.Generator, p: DemoParameters) -> np.ndarray:
    age = rng.normal(p.age_mean_years, p.age_sd_years, p.n)
    outside = (age < p.age_min_years) | (age >= p.age_max_years + 1)
    while outside.any():  # redraw rather than clip, so the bounds do not pile up
        age[outside] = rng.normal(p.age_mean_years, p.age_sd_years, outside.sum())
        outside = (age < p.age_min_years) | (age >= p.age_max_years + 1)
    return np.floor(age).astype(int)  # completed years


def _mask(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """Exactly ``round(fraction * n)`` rows, chosen completely at random."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=int(round(fraction * n)), replace=False)] = True
    return mask


def simulate_demo_cohort(params: DemoParameters = DemoParameters(), *,
                         rng: np.random.Generator | None = None) -> DemoCohort:
    """Simulate the demo cohort.

    Parameters
    ----------
    params : DemoParameters, optional
        The true parameters; the defaults give the bundled ``data/demo`` files.
    rng : numpy.random.Generator, optional
        Source of randomness; by default ``numpy.random.default_rng(params.seed)``.

    Returns
    -------
    DemoCohort
        Clinical, pathology and imaging tables (columns as in ``data_dictionary/*.yaml``) and
        the truth. The same parameters and seed always give identical tables.

    See Also
    --------
    write_demo_cohort : write the tables and the truth to a directory.

    Notes
    -----
    Breast-cancer death times follow a Weibull proportional-hazards model in age (per year),
    size_cat, grade, nodes, er, her2 and casting, computed from the recorded (rounded, and
    before masking, complete) values, so the adjusted cause-specific Cox model is correctly
    specified. Extent, focality, PR and laterality do not enter the hazard.

    References
    ----------
    Tabár L, et al. Cancer 2004;101:1745-59 (casting associated with poor grade, OR 7.04, and
    node positivity, OR 3.29). Elias SG, et al. CEBP 2014;23:1464-83 (calcifications and HER2,
    pOR 3.14). Tot T, et al. Hum Pathol 2011;42:1761-9 (extent, 40 mm; focality).

    Examples
    --------
    >>> cohort = simulate_demo_cohort(DemoParameters(n=200, seed=1))
    >>> list(cohort.clinical.columns[:3])
    ['patient_id', 'age', 'diagnosis_date']
    """
    p = params
    seeded_from_params = rng is None
    rng = np.random.default_rng(p.seed) if rng is None else rng
    n = p.n

    # --- covariates given casting
    age = _truncated_normal_ages(rng, p)
    casting = (rng.random(n) < p.casting_prevalence).astype(int)
    grade3 = _given_casting(rng, casting, p.grade3_prob_no_casting, p.grade3_log_or_casting)
    grade = np.where(grade3, 3, np.where(rng.random(n) < p.grade1_share_of_grade1_2, 1, 2))
    node_pos = _given_casting(rng, casting, p.node_positive_prob_no_casting, p.node_positive_log_or_casting)
    her2_pos = _given_casting(rng, casting, p.her2_positive_prob_no_casting, p.her2_positive_log_or_casting)
    er_pos = ~_given_casting(rng, casting, p.er_negative_prob_no_casting, p.er_negative_log_or_casting)
    pr_pos = rng.random(n) < np.where(er_pos, p.pr_positive_prob_er_positive, p.pr_positive_prob_er_negative)
    log_size = np.log(p.size_median_mm_no_casting) + p.size_log_ratio_casting * casting
    size_mm = np.round(np.clip(np.exp(rng.normal(log_size, p.size_log_sd)), p.size_min_mm, p.size_max_mm), 1)
    # bins follow the levels: <=20, (20, 50], >50, applied to the recorded (rounded) size
    size_idx = np.digitize(size_mm, [20.0, 50.0], right=True)

    # --- imaging: extent, focality, calcifications
    excess_mean = p.extent_log_excess_mean + p.extent_log_excess_casting * casting
    excess = rng.normal(excess_mean, p.extent_log_excess_sd)
    extent_mm = np.round(size_mm * np.exp(np.maximum(excess, 0.0)), 1)
    extensive = extent_mm >= p.extensive_threshold_mm
    logits = np.column_stack([np.zeros(n)] + [  # unifocal is the reference category
        p.focality_intercepts[k] + p.focality_log_or_extensive[k] * extensive
        + p.focality_log_or_casting[k] * casting for k in range(2)])
    focality_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    focality_idx = np.minimum((rng.random((n, 1)) > np.cumsum(focality_prob, axis=1)).sum(axis=1), 2)
    class_probs = np.asarray(p.calcification_probs_no_casting) / sum(p.calcification_probs_no_casting)
    other_class = rng.choice(4, size=n, p=class_probs)
    class_idx = np.where(casting == 1, 4, other_class)
    mean_count = np.asarray(p.calcification_mean_count)[class_idx]
    dispersion = 2.0  # negative binomial size: counts are overdispersed
    extra = rng.negative_binomial(dispersion, dispersion / (dispersion + np.maximum(mean_count - 1.0, 1e-9)))
    n_calcifications = np.where(class_idx == 0, 0, 1 + extra)
    n_clusters = np.where(class_idx == 0, 0, 1 + rng.poisson(np.asarray(p.cluster_extra_mean)[class_idx]))
    left = rng.random(n) < p.laterality_left_prob

    # --- survival: BC death (Weibull PH), other-cause death (Gompertz in age), censoring
    linear_predictor = (p.log_hr_casting * casting
                        + p.log_hr_age_per_year * (age - p.age_mean_years)
                        + np.array([0.0, p.log_hr_size_20_50, p.log_hr_size_over_50])[size_idx]
                        + np.array([0.0, 0.0, p.log_hr_grade_2, p.log_hr_grade_3])[grade]
                        + p.log_hr_node_positive * node_pos + p.log_hr_er_positive * er_pos
                        + p.log_hr_her2_positive * her2_pos)
    # invert H(t) = H0(t) exp(lp) = E, E ~ Exp(1)
    bc_cumhaz = rng.exponential(size=n) * np.exp(-linear_predictor)
    bc_years = p.bc_baseline_scale_years * bc_cumhaz ** (1.0 / p.bc_baseline_shape)
    # Gompertz: H(t) = rate_at_diagnosis * (exp(slope * t) - 1) / slope = E
    slope = p.other_death_log_rate_per_year
    rate_at_diagnosis = p.other_death_rate_at_mean_age * np.exp(slope * (age - p.age_mean_years))
    other_years = np.log1p(rng.exponential(size=n) * slope / rate_at_diagnosis) / slope
    lost_years = rng.exponential(1.0 / p.loss_to_followup_rate_per_year, size=n)
    start, stop = pd.Timestamp(p.accrual_start), pd.Timestamp(p.accrual_end)
    diagnosis = start + pd.to_timedelta(rng.integers(0, (stop - start).days + 1, size=n), unit="D")
    admin_days = (pd.Timestamp(p.study_end) - diagnosis).days.to_numpy()
    times = np.column_stack([admin_days, lost_years * DAYS_PER_YEAR, bc_years * DAYS_PER_YEAR,
                             other_years * DAYS_PER_YEAR])
    first = times.argmin(axis=1)  # 0 administrative, 1 lost, 2 BC death, 3 other death
    death_cause = np.select([first == 2, first == 3], [1, 2], 0)
    # admin_days are whole days, so rounding an earlier time up never passes the study end
    followup_days = np.maximum(np.ceil(times.min(axis=1)), 1).astype(int)

    # --- missing completely at random
    miss_size, miss_grade = _mask(rng, n, p.missing_size), _mask(rng, n, p.missing_grade)
    miss_er, miss_her2 = _mask(rng, n, p.missing_er), _mask(rng, n, p.missing_her2)

    width = max(4, len(str(n)))
    patient_id = [f"D{i:0{width}d}" for i in range(1, n + 1)]
    neg_pos = np.array(["negative", "positive"], dtype=object)
    clinical = pd.DataFrame({
        "patient_id": patient_id,
        "age": age,
        "diagnosis_date": diagnosis.strftime("%Y-%m-%d"),
        "last_contact_date": (diagnosis + pd.to_timedelta(followup_days, unit="D")).strftime("%Y-%m-%d"),
        "followup_days": followup_days,
        "death": (death_cause > 0).astype(int),
        "death_cause": death_cause,
        "bc_death": (death_cause == 1).astype(int),
    })
    pathology = pd.DataFrame({
        "patient_id": patient_id,
        "size_mm": np.where(miss_size, np.nan, size_mm),
        "size_cat": pd.Series(np.array(SIZE_CAT_LEVELS, dtype=object)[size_idx]).mask(miss_size),
        "grade": pd.array(grade, dtype="Int64"),
        "nodes": neg_pos[node_pos.astype(int)],
        "er": pd.array(er_pos.astype(int), dtype="Int64"),
        "pr": neg_pos[pr_pos.astype(int)],
        "her2": pd.Series(neg_pos[her2_pos.astype(int)]).mask(miss_her2),
    })
    pathology.loc[miss_grade, "grade"] = pd.NA
    pathology.loc[miss_er, "er"] = pd.NA
    imaging = pd.DataFrame({
        "patient_id": patient_id,
        "laterality": np.where(left, "L", "R"),
        "calcification_class": np.array(CALCIFICATION_CLASSES, dtype=object)[class_idx],
        "casting": np.where(casting == 1, "yes", "no"),
        "n_calcifications": n_calcifications.astype(int),
        "n_clusters": n_clusters.astype(int),
        "extent_mm": extent_mm,
        "extent": np.where(extensive, "extensive", "limited"),
        "focality": np.array(FOCALITY_LEVELS, dtype=object)[focality_idx],
    })

    log_hr = p.true_log_hazard_ratios()
    truth = {
        "description": "Simulated demo cohort; no real patients. Breast-cancer death follows a "
                       "proportional cause-specific hazards model in exactly the terms below.",
        "endpoint": "bc_death (death_cause == 1); other-cause deaths are a competing risk",
        "hazard_ratio_casting": round(math.exp(p.log_hr_casting), 10),
        "log_hazard_ratios": log_hr,
        "hazard_ratios": {term: round(math.exp(v), 10) for term, v in log_hr.items()},
        "reference_levels": {"size_cat": "<=20", "grade": 1, "nodes": "negative", "er": "negative",
                             "her2": "negative", "casting": "no", "age": "per year"},
        "seed": p.seed if seeded_from_params else None,
        "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(p).items()},
        "counts": {
            "n": n,
            "casting": int(casting.sum()),
            "bc_death": int((death_cause == 1).sum()),
            "other_death": int((death_cause == 2).sum()),
            "censored_administrative": int((first == 0).sum()),
            "censored_lost_to_followup": int((first == 1).sum()),
            "missing": {"size_mm": int(miss_size.sum()), "grade": int(miss_grade.sum()),
                        "er": int(miss_er.sum()), "her2": int(miss_her2.sum())},
            "complete_cases": int((~(miss_size | miss_grade | miss_er | miss_her2)).sum()),
            "median_followup_days": float(np.median(followup_days)),
        },
    }
    return DemoCohort(clinical=clinical, pathology=pathology, imaging=imaging, truth=truth)


def write_demo_cohort(cohort: DemoCohort, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``clinical.csv``, ``pathology.csv``, ``imaging.csv`` and ``truth.json``.

    Each file is first written under a temporary name in ``out_dir`` and then renamed, so a
    reader never sees a half-written file. Missing values are empty cells, except in the
    pathology column ``er``, where they are written ``NA`` (to exercise a second missing token).

    Parameters
    ----------
    cohort : DemoCohort
        From :func:`simulate_demo_cohort`.
    out_dir : str or path-like
        Directory; created if needed. Existing files of the same names are replaced.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pathology = cohort.pathology.assign(er=cohort.pathology["er"].astype("string").fillna("NA"))
    contents = {
        "clinical.csv": write_csv(cohort.clinical, index=False, lineterminator="\n"),
        "pathology.csv": write_csv(pathology, index=False, lineterminator="\n", na_rep=""),
        "imaging.csv": write_csv(cohort.imaging, index=False, lineterminator="\n"),
        "truth.json": json.dumps(cohort.truth, indent=2) + "\n",
    }
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are data files meant to be shared
            staged.append((Path(tmp), out / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    written = [final for _, final in staged]
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m prognosis.simulate.demo --out data/demo --seed 20261125``."""
    parser = argparse.ArgumentParser(prog="python -m prognosis.simulate.demo",
                                     description="Write the simulated demo cohort (no real patients).")
    parser.add_argument("--out", default="data/demo", help="output directory (default: data/demo)")
    parser.add_argument("--seed", type=int, default=DemoParameters.seed, help="random seed")
    parser.add_argument("--n", type=int, default=DemoParameters.n, help="number of patients")
    args = parser.parse_args(argv)
    cohort = simulate_demo_cohort(replace(DemoParameters(), seed=args.seed, n=args.n))
    write_demo_cohort(cohort, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
