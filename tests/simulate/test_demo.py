"""Tests of prognosis/simulate/demo.py and of the bundled data/demo files it generates."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from prognosis.simulate.demo import DemoParameters, simulate_demo_cohort, write_demo_cohort

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / "data" / "demo"
DICTIONARY_DIR = ROOT / "data_dictionary"
TABLES = ("clinical", "pathology", "imaging")


@pytest.fixture(scope="module")
def cohort():
    return simulate_demo_cohort()


@pytest.fixture(scope="module")
def merged(cohort):
    return cohort.clinical.merge(cohort.pathology, on="patient_id").merge(cohort.imaging, on="patient_id")


def _read_as_text(path: Path) -> pd.DataFrame:
    """Every cell as the exact string in the file (no missing-value or type conversion)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_same_seed_gives_identical_cohort():
    first, second = simulate_demo_cohort(), simulate_demo_cohort()
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(first, table), getattr(second, table))
    assert first.truth == second.truth


def test_different_seed_gives_different_cohort(cohort):
    other = simulate_demo_cohort(replace(DemoParameters(), seed=DemoParameters().seed + 1))
    for table in TABLES:
        assert not getattr(cohort, table).equals(getattr(other, table)), table


def test_rng_argument_is_used_instead_of_seed():
    from_seed = simulate_demo_cohort(replace(DemoParameters(), n=300, seed=7))
    from_rng = simulate_demo_cohort(DemoParameters(n=300), rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(from_seed.clinical, from_rng.clinical)
    assert from_rng.truth["seed"] is None and from_seed.truth["seed"] == 7


def test_bundled_files_equal_what_the_defaults_regenerate(cohort, tmp_path):
    written = write_demo_cohort(cohort, tmp_path)
    assert [path.name for path in written] == ["clinical.csv", "pathology.csv", "imaging.csv", "truth.json"]
    hint = "data/demo is stale: run python -m prognosis.simulate.demo --out data/demo --seed 20261125"
    for table in TABLES:
        bundled = _read_as_text(DEMO_DIR / f"{table}.csv")
        regenerated = _read_as_text(tmp_path / f"{table}.csv")
        assert bundled.equals(regenerated), f"{table}.csv differs; {hint}"
    bundled_truth = json.loads((DEMO_DIR / "truth.json").read_text(encoding="utf-8"))
    assert bundled_truth == json.loads((tmp_path / "truth.json").read_text(encoding="utf-8")), hint
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_casting_prevalence_is_8_to_12_percent(cohort):
    prevalence = (cohort.imaging["casting"] == "yes").mean()
    assert 0.08 <= prevalence <= 0.12


def _odds_ratio(exposed: pd.Series, outcome: pd.Series) -> float:
    table = pd.crosstab(exposed, outcome)
    return float(table.loc[True, True] * table.loc[False, False] / (table.loc[True, False] * table.loc[False, True]))


@pytest.mark.parametrize(
    ("column", "value", "low", "high"),
    [("grade", 3, 3.0, 15.0), ("nodes", "positive", 1.5, 6.0), ("her2", "positive", 1.5, 6.0), ("er", 0, 1.1, 4.0)],
)
def test_marginal_odds_ratios_given_casting(merged, column, value, low, high):
    known = merged.dropna(subset=[column])
    odds_ratio = _odds_ratio(known["casting"] == "yes", known[column] == value)
    assert low <= odds_ratio <= high, f"OR of {column}={value} given casting is {odds_ratio:.2f}"


def test_casting_goes_with_extensive_multifocal_larger_disease(merged):
    casting = merged["casting"] == "yes"
    extensive = merged["extent"] == "extensive"
    not_unifocal = merged["focality"] != "unifocal"
    assert extensive[casting].mean() > extensive[~casting].mean() + 0.2
    assert not_unifocal[casting].mean() > not_unifocal[~casting].mean() + 0.2
    assert merged.loc[casting, "size_mm"].median() > merged.loc[~casting, "size_mm"].median()


def test_followup_and_dates_are_consistent(cohort):
    clinical = cohort.clinical
    diagnosis = pd.to_datetime(clinical["diagnosis_date"], format="%Y-%m-%d")
    last_contact = pd.to_datetime(clinical["last_contact_date"], format="%Y-%m-%d")
    assert (clinical["followup_days"] > 0).all()
    assert (last_contact >= diagnosis).all()
    assert ((last_contact - diagnosis).dt.days == clinical["followup_days"]).all()
    assert diagnosis.dt.year.between(2000, 2010).all()
    assert (last_contact <= pd.Timestamp(DemoParameters().study_end)).all()
    assert clinical["age"].between(25, 90).all()
    assert clinical["patient_id"].is_unique and clinical["patient_id"].iloc[[0, -1]].tolist() == ["D0001", "D2000"]


def test_death_coding_and_counts(cohort):
    clinical, counts = cohort.clinical, cohort.truth["counts"]
    assert (clinical["bc_death"] == (clinical["death_cause"] == 1).astype(int)).all()
    assert (clinical["death"] == (clinical["death_cause"] > 0).astype(int)).all()
    assert counts["bc_death"] == clinical["bc_death"].sum()
    assert counts["other_death"] == (clinical["death_cause"] == 2).sum()
    assert 250 <= counts["bc_death"] <= 400
    assert counts["other_death"] > 50  # the competing risk is really there
    # censoring on a date other than the study end means loss to follow-up happened too
    censored_early = (clinical["death"] == 0) & (clinical["last_contact_date"] != DemoParameters().study_end)
    assert censored_early.sum() == counts["censored_lost_to_followup"] > 0


def test_imaging_and_pathology_derived_columns_agree(cohort):
    imaging, pathology = cohort.imaging, cohort.pathology
    assert ((imaging["casting"] == "yes") == (imaging["calcification_class"] == "casting")).all()
    assert ((imaging["n_calcifications"] == 0) == (imaging["calcification_class"] == "none")).all()
    assert ((imaging["n_clusters"] == 0) == (imaging["calcification_class"] == "none")).all()
    assert ((imaging["extent"] == "extensive") == (imaging["extent_mm"] >= 40)).all()
    known = pathology.dropna(subset=["size_mm"])
    expected = pd.cut(known["size_mm"], [-np.inf, 20, 50, np.inf], labels=["<=20", "20-50", ">50"]).astype(str)
    assert (known["size_cat"] == expected).all()
    assert (imaging.loc[known.index, "extent_mm"] >= known["size_mm"]).all()


def test_missing_fractions(cohort):
    pathology = cohort.pathology
    for column in ("size_mm", "size_cat", "grade", "er", "her2"):
        assert 0.01 <= pathology[column].isna().mean() <= 0.05, column
    assert (pathology["size_mm"].isna() == pathology["size_cat"].isna()).all()
    assert not pathology[["patient_id", "nodes", "pr"]].isna().any().any()
    assert not cohort.clinical.isna().any().any() and not cohort.imaging.isna().any().any()


@pytest.mark.parametrize("table", TABLES)
def test_bundled_csv_follows_its_dictionary(table):
    dictionary = yaml.safe_load((DICTIONARY_DIR / f"{table}.yaml").read_text(encoding="utf-8"))
    assert dictionary["table"] == table
    frame = _read_as_text(DEMO_DIR / f"{table}.csv")
    columns = dictionary["columns"]
    # the demo writes every column but the optional ones (the extractor's probabilities)
    assert list(frame.columns) == [n for n, spec in columns.items() if not spec.get("optional")], \
        "columns differ from the dictionary"
    assert frame[dictionary["key"]].is_unique
    missing_tokens = set(dictionary.get("missing", []))
    for name, spec in columns.items():
        assert "label" in spec, f"{name} has no label"
        if name not in frame:
            continue
        values = frame[name]
        present = values[~values.isin(missing_tokens)]
        if spec.get("required"):
            assert len(present) == len(values), f"{name} is required but has missing values"
        if spec["type"] == "categorical":
            codes = {str(raw): str(level) for raw, level in spec.get("codes", {}).items()}
            levels = {str(level) for level in spec["levels"]}
            mapped = present.map(lambda v: codes.get(v, v)) if codes else present
            assert set(mapped) <= levels, f"{name}: {set(mapped) - levels} not in {levels}"
            if codes:
                assert set(present) <= set(codes), f"{name}: raw values outside its codes"
        elif spec["type"] == "numeric":
            numbers = pd.to_numeric(present)
            assert numbers.min() >= spec.get("min", -np.inf) and numbers.max() <= spec.get("max", np.inf), name
        elif spec["type"] == "binary":
            assert set(present) <= {"0", "1"}, name
        elif spec["type"] == "date":
            pd.to_datetime(present, format=spec["format"])  # raises if any date does not parse


def test_pathology_missing_values_use_both_tokens():
    text = _read_as_text(DEMO_DIR / "pathology.csv")
    assert (text["er"] == "NA").sum() > 0 and (text["grade"] == "").sum() > 0


def test_truth_records_the_true_hazard_ratios(cohort):
    truth = json.loads(json.dumps(cohort.truth))  # must survive JSON unchanged
    assert truth == cohort.truth
    assert truth["hazard_ratio_casting"] == pytest.approx(2.0)
    assert set(truth["hazard_ratios"]) == {
        "casting[yes]", "age", "size_cat[20-50]", "size_cat[>50]", "grade[2]", "grade[3]",
        "nodes[positive]", "er[positive]", "her2[positive]"}
    assert truth["parameters"]["seed"] == truth["seed"] == 20261125


@pytest.mark.parametrize("change", [{"n": 0}, {"casting_prevalence": 1.0}, {"missing_grade": 0.6},
                                    {"accrual_end": "2016-01-01"}])
def test_invalid_parameters_are_refused(change):
    with pytest.raises(ValueError):
        replace(DemoParameters(), **change)
