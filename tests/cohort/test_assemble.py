"""Tests of prognosis/cohort/assemble.py (and flow.py): join, endpoint, flow of exclusions.

Uses the three-table study of tests/conftest.py: 40 patients P01..P40, patient Pnn on
spreadsheet row nn + 1 of every table, follow-up in days, 10 events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prognosis.cohort import Cohort, FlowStep, read_table
from prognosis.cohort.assemble import assemble_cohort, row_of
from prognosis.cohort.flow import check_flow_balances
from prognosis.errors import DataValidationError, SpecError, Violation
from prognosis.spec import load_spec

DAYS_PER_YEAR = 365.25


def assemble(study, **spec_changes) -> Cohort:
    study.spec.update(spec_changes)
    spec = load_spec(study.save_spec())
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    return assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables, extra=(spec.km.by,))


def assemble_error(study, error=DataValidationError, **spec_changes):
    with pytest.raises(error) as info:
        assemble(study, **spec_changes)
    return info.value


def followup_days(study) -> pd.Series:
    clinical = study.read("clinical")
    return clinical.set_index("patient_id")["followup_days"].astype(float)


def steps(cohort: Cohort) -> list[tuple[str, int, int, int]]:
    return [(s.step, s.n_before, s.excluded, s.n_after) for s in cohort.flow]


# --- a clean cohort --------------------------------------------------------------------------


def test_clean_cohort(study):
    cohort = assemble(study)
    assert (cohort.n, cohort.n_read, cohort.events) == (40, 40, 10)
    assert cohort.key == "patient_id" and cohort.unit == "years"
    assert cohort.data["patient_id"].tolist() == [f"P{i:02d}" for i in range(1, 41)]
    assert steps(cohort) == [
        ("patients read", 40, 0, 40),
        ("present in clinical", 40, 0, 40),
        ("present in pathology", 40, 0, 40),
        ("present in imaging", 40, 0, 40),
        ("follow-up time known", 40, 0, 40),
        ("event status known", 40, 0, 40),
        ("casting known", 40, 0, 40),
        ("age known", 40, 0, 40),
        ("grade known", 40, 0, 40),
    ]
    assert cohort.flow[0].reason == ("union of patient_id over clinical (40 rows), pathology (40 rows), "
                                     "imaging (40 rows)")
    assert cohort.flow[3].reason == "no row in imaging.csv"
    assert cohort.flow[8].reason == "Histological grade missing (complete-case analysis)"


def test_variables_carry_type_table_and_reference(study):
    cohort = assemble(study)
    casting, age, grade = (cohort.variables[n] for n in ("casting", "age", "grade"))
    assert (casting.table, casting.reference, casting.label) == ("imaging", "no", "Casting-type calcifications")
    assert (age.table, age.reference, age.is_categorical) == ("clinical", None, False)
    assert (grade.table, grade.reference, grade.is_categorical) == ("pathology", "1", True)  # first level
    assert list(cohort.variables) == ["casting", "age", "grade"]
    assert cohort.columns["er"].codes == {"0": "negative", "1": "positive"}


def test_source_rows_are_kept_per_table(study):
    study.drop_row("imaging", 3)  # P02
    cohort = assemble(study)
    p03 = cohort.data.index[cohort.data["patient_id"] == "P03"][0]
    assert row_of(cohort, "clinical")[p03] == 4
    assert row_of(cohort, "imaging")[p03] == 3  # one row up, since P02 is gone


# --- flow accounting -------------------------------------------------------------------------


def test_flow_accounts_for_every_patient_read(study):
    study.drop_row("imaging", 6)                        # P05 has no imaging row
    pathology = study.read("pathology")
    extra = pd.DataFrame([{"patient_id": "P99", "size_mm": "20", "grade": "2", "er": "1"}])
    study.write("pathology", pd.concat([pathology, extra]))  # P99 is only in pathology
    study.set_cell("clinical", 9, "followup_days", "")  # P08: follow-up unknown
    study.set_cell("clinical", 12, "bc_death", "NA")    # P11: event unknown
    study.set_cell("pathology", 15, "grade", "")        # P14: grade unknown

    cohort = assemble(study)

    assert cohort.n_read == 41
    assert steps(cohort) == [
        ("patients read", 41, 0, 41),
        ("present in clinical", 41, 1, 40),
        ("present in pathology", 40, 0, 40),
        ("present in imaging", 40, 1, 39),
        ("follow-up time known", 39, 1, 38),
        ("event status known", 38, 1, 37),
        ("casting known", 37, 0, 37),
        ("age known", 37, 0, 37),
        ("grade known", 37, 1, 36),
    ]
    assert cohort.n + sum(step.excluded for step in cohort.flow) == cohort.n_read
    assert not set(cohort.data["patient_id"]) & {"P05", "P99", "P08", "P11", "P14"}
    assert cohort.flow[4].reason == "follow-up time missing"
    assert cohort.flow[5].reason == "bc_death missing"


def test_flow_step_must_be_consistent():
    with pytest.raises(ValueError, match="inconsistent flow step 'x': 10 - 2 != 7"):
        FlowStep("x", 10, 2, 7, "reason")
    assert FlowStep("x", 10, 2, 8, "r").to_dict() == {"step": "x", "n_before": 10, "excluded": 2, "n_after": 8,
                                                      "reason": "r"}


def test_flow_balance_check():
    flow = (FlowStep("read", 10, 0, 10, ""), FlowStep("a", 10, 3, 7, ""))
    check_flow_balances(flow, 10, 7)
    with pytest.raises(AssertionError, match=r"flow does not balance: 8 \+ 3 != 10"):
        check_flow_balances(flow, 10, 8)


def test_horizon_censors_events_but_excludes_nobody(study):
    days = followup_days(study)
    had_event = (study.read("clinical")["bc_death"] == "1").to_numpy()
    without = assemble(study)
    cohort = assemble(study, endpoint={**study.spec["endpoint"], "horizon": 2})

    beyond = days > 2 * DAYS_PER_YEAR
    events_beyond = int((beyond & had_event).sum())
    assert events_beyond > 0 and beyond.sum() > events_beyond  # the fixture exercises both

    assert cohort.n == without.n == 40
    assert cohort.events == without.events - events_beyond
    assert cohort.time.max() == 2.0
    assert np.allclose(cohort.time, np.minimum(without.time, 2.0))
    last = cohort.flow[-1]
    assert (last.step, last.n_before, last.excluded, last.n_after) == ("administrative censoring at 2 years", 40, 0, 40)
    assert last.reason == (f"{int(beyond.sum())} followed beyond the horizon censored there "
                           f"({events_beyond} of their events not counted)")
    # events before the horizon are untouched
    within = ~beyond.to_numpy()
    assert np.array_equal(cohort.event[within], without.event[within])


# --- time and units --------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "days_per_unit"), [("years", 365.25), ("months", 365.25 / 12), ("days", 1.0)])
def test_followup_days_are_converted_to_the_analysis_unit(study, unit, days_per_unit):
    cohort = assemble(study, endpoint={**study.spec["endpoint"], "unit": unit})
    expected = followup_days(study).to_numpy() / days_per_unit
    assert cohort.unit == unit
    np.testing.assert_allclose(cohort.time, expected, rtol=1e-12)


def test_one_year_of_days_is_365_25(study):
    study.set_cell("clinical", 2, "followup_days", "365.25")
    study.set_cell("clinical", 3, "followup_days", "730.5")
    cohort = assemble(study)
    assert cohort.time[:2].tolist() == [1.0, 2.0]


def test_followup_in_months_is_converted(study):
    clinical = study.read("clinical")
    clinical["followup_months"] = ["12", "6", "30"] + ["24"] * 37
    study.write("clinical", clinical.drop(columns="followup_days"))
    study.edit_dictionary("clinical", lambda d: d["columns"].update(
        followup_months=d["columns"].pop("followup_days") | {"unit": "months"}))
    cohort = assemble(study, endpoint={**study.spec["endpoint"], "time": {"column": "followup_months", "unit": "months"}})
    np.testing.assert_allclose(cohort.time[:3], [1.0, 0.5, 2.5], rtol=1e-12)

    in_days = assemble(study, endpoint={"time": {"column": "followup_months", "unit": "months"},
                                        "event": "bc_death", "unit": "days"})
    np.testing.assert_allclose(in_days.time[:3], [365.25, 182.625, 913.125], rtol=1e-12)


def test_followup_from_start_and_end_dates(study):
    cohort = assemble(study, endpoint={"time": {"start": "diagnosis_date", "end": "last_contact_date"},
                                       "event": "bc_death", "unit": "years"})
    # The fixture's dates are exactly followup_days apart.
    np.testing.assert_allclose(cohort.time, followup_days(study).to_numpy() / DAYS_PER_YEAR, rtol=1e-12)


def test_missing_end_date_excludes_the_patient(study):
    study.set_cell("clinical", 7, "last_contact_date", "")
    cohort = assemble(study, endpoint={"time": {"start": "diagnosis_date", "end": "last_contact_date"},
                                       "event": "bc_death"})
    assert "P06" not in set(cohort.data["patient_id"])
    assert steps(cohort)[4] == ("follow-up time known", 40, 1, 39)


# --- bad follow-up and events: errors that name file, row and column -------------------------


def test_zero_or_negative_followup_days(study):
    study.set_cell("clinical", 12, "followup_days", "-3")
    study.set_cell("clinical", 5, "followup_days", "0")
    error = assemble_error(study)
    rule = "is zero or negative follow-up; follow-up must be > 0"
    assert [(v.path, v.row, v.column, v.rule) for v in error.violations] == [
        (str(study.table_path("clinical")), 5, "followup_days", rule),
        (str(study.table_path("clinical")), 12, "followup_days", rule),
    ]
    assert str(error).startswith("2 problems found in clinical.csv:\n  clinical.csv, row 5, column followup_days: ")


def test_zero_followup_from_dates(study):
    study.set_cell("clinical", 8, "last_contact_date", study.read("clinical").loc[6, "diagnosis_date"])
    error = assemble_error(study, endpoint={"time": {"start": "diagnosis_date", "end": "last_contact_date"},
                                            "event": "bc_death"})
    assert error.violations == [Violation(
        str(study.table_path("clinical")), 8, "last_contact_date", error.violations[0].value,
        "equals diagnosis_date: zero follow-up; follow-up must be > 0",
    )]


def test_end_date_before_start_date(study):
    study.set_cell("clinical", 21, "last_contact_date", "2009-06-30")
    study.set_cell("clinical", 4, "last_contact_date", "2009-12-31")
    error = assemble_error(study, endpoint={"time": {"start": "diagnosis_date", "end": "last_contact_date"},
                                            "event": "bc_death"})
    rule = "is before diagnosis_date (end date before start date)"
    assert [(v.row, v.column, v.rule) for v in error.violations] == [
        (4, "last_contact_date", rule),
        (21, "last_contact_date", rule),
    ]
    assert {v.path for v in error.violations} == {str(study.table_path("clinical"))}


def test_event_not_0_or_1_in_a_binary_column_fails_validation(study):
    study.set_cell("clinical", 10, "bc_death", "2")
    error = assemble_error(study)
    assert error.violations == [Violation(str(study.table_path("clinical")), 10, "bc_death", "2", "is not 0 or 1")]


def test_event_not_0_or_1_in_a_numeric_column(study):
    study.edit_dictionary("clinical", lambda d: d["columns"]["bc_death"].update(type="numeric"))
    study.set_cell("clinical", 10, "bc_death", "2")
    study.set_cell("clinical", 30, "bc_death", "0.5")
    error = assemble_error(study)
    assert [(v.path, v.row, v.column, v.rule) for v in error.violations] == [
        (str(study.table_path("clinical")), 10, "bc_death", "is not 0 or 1 (the event indicator)"),
        (str(study.table_path("clinical")), 30, "bc_death", "is not 0 or 1 (the event indicator)"),
    ]


# --- the spec names columns that do not fit --------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"marker": "castng"}, "marker: 'castng' is not a column declared in any table (did you mean 'casting'?)"),
    ({"covariates": ["age", "grad"]},
     "covariates[1]: 'grad' is not a column declared in any table (did you mean 'grade'?)"),
    ({"km": {"by": "gradee"}}, "km.by: 'gradee' is not a column declared in any table (did you mean 'grade'?)"),
    ({"endpoint": {"time": {"column": "followup_day", "unit": "days"}, "event": "bc_death"}},
     "endpoint.time.column: 'followup_day' is not a column declared in any table (did you mean 'followup_days'?)"),
    ({"endpoint": {"time": {"start": "diagnosis", "end": "last_contact_date"}, "event": "bc_death"}},
     "endpoint.time.start: 'diagnosis' is not a column declared in any table (did you mean 'diagnosis_date'?)"),
    ({"endpoint": {"time": {"column": "followup_days"}, "event": "bc_deaths"}},
     "endpoint.event: 'bc_deaths' is not a column declared in any table (did you mean 'bc_death'?)"),
    ({"covariates": ["menopausal_status"]},
     "covariates[0]: 'menopausal_status' is not a column declared in any table"),  # nothing close: no hint
])
def test_undeclared_column_is_named_with_a_hint(study, changes, message):
    error = assemble_error(study, SpecError, **changes)
    assert str(error) == message


@pytest.mark.parametrize(("changes", "message"), [
    ({"marker": "patient_id"},
     "marker: 'patient_id' is the join key, which identifies patients; it cannot be the marker"),
    ({"marker": "diagnosis_date"},
     "marker: 'diagnosis_date' is declared as date, and a date cannot be the marker without printing "
     "patients' dates; derive a number from it (e.g. age at diagnosis"),
    ({"covariates": [{"name": "age", "reference": "50"}]},
     "covariates[0]: 'age' is numeric, so it takes no reference level"),
    ({"marker": {"name": "casting", "reference": "yess"}},
     "marker: reference 'yess' is not a level of 'casting' (no, yes) (did you mean 'yes'?)"),
    ({"covariates": [{"name": "grade", "reference": "4"}]},
     "covariates[0]: reference '4' is not a level of 'grade' (1, 2, 3)"),
    ({"endpoint": {"time": {"column": "diagnosis_date"}, "event": "bc_death"}},
     "endpoint.time.column: 'diagnosis_date' is declared as date, not numeric"),
    ({"endpoint": {"time": {"start": "followup_days", "end": "last_contact_date"}, "event": "bc_death"}},
     "endpoint.time: 'followup_days' is declared as numeric, not date"),
    ({"endpoint": {"time": {"column": "followup_days"}, "event": "casting"}},
     "endpoint.event: 'casting' is declared as categorical; declare it binary (0/1)"),
])
def test_column_of_the_wrong_kind(study, changes, message):
    error = assemble_error(study, SpecError, **changes)
    assert str(error).startswith(message)


def test_join_key_absent_from_a_table(study):
    imaging = study.read("imaging").rename(columns={"patient_id": "patient"})
    study.write("imaging", imaging)
    study.edit_dictionary("imaging", lambda d: d.update(
        key="patient", columns={"patient": d["columns"].pop("patient_id"), **d["columns"]}))
    error = assemble_error(study, SpecError)
    assert str(error) == ("join key 'patient_id' is not a column of table 'imaging' (imaging.csv) "
                          "(did you mean 'patient'?)")


def test_column_in_two_tables_makes_the_join_ambiguous(study):
    imaging = study.read("imaging").assign(age=study.read("clinical")["age"])
    study.write("imaging", imaging)
    study.edit_dictionary("imaging", lambda d: d["columns"].update(age={"type": "numeric"}))
    error = assemble_error(study, SpecError)
    assert str(error) == ("columns appear in more than one table, so the join is ambiguous: "
                          "'age' in clinical, imaging. Rename them.")


def test_a_table_with_several_rows_per_patient_is_refused_with_its_rows(study):
    imaging = study.read("imaging")
    study.write("imaging", pd.concat([imaging, imaging.iloc[[2]].assign(n_calcifications="9")], ignore_index=True))
    study.edit_dictionary("imaging", lambda d: d.pop("key", None))   # no key declared: the join must still catch it
    error = assemble_error(study)
    assert [(v.row, v.column, v.value) for v in error.violations] == [(4, "patient_id", "P03"), (42, "patient_id", "P03")]
    assert "repeats the join key (also in row 42)" in error.violations[0].rule
