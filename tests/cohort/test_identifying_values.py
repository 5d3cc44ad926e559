"""No identifying value reaches a report: dates and the join key are refused where they would be
shown or summarised (issue 9, defect 12), and a full run's outputs hold no id or date of a patient.

Uses the three-table study of tests/conftest.py (ids P01..P40, diagnosis and last-contact dates).
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.errors import SpecError
from prognosis.analysis.pipeline import run
from prognosis.spec import load_spec

DERIVE = "derive a number from it (e.g. age at diagnosis, or years since diagnosis)"


@pytest.mark.parametrize(("changes", "message"), [
    ({"table1": ["diagnosis_date"]},
     "table1: 'diagnosis_date' is declared as date, and a date cannot be summarised in Table 1 without printing "
     f"patients' dates; {DERIVE}"),
    ({"associations": ["diagnosis_date"]},
     "associations: 'diagnosis_date' is declared as date, and a date cannot be a factor of the associations"),
    ({"subgroups": ["last_contact_date"]},
     "subgroups: 'last_contact_date' is declared as date, and a date cannot be a subgroup"),
    ({"km": {"by": "casting", "strata": ["last_contact_date"]}},
     "km.strata: 'last_contact_date' is declared as date, and a date cannot be a stratum"),
    ({"strata": ["diagnosis_date"]},
     "strata: 'diagnosis_date' is declared as date, and a date cannot be a stratum"),
    ({"covariates": ["age", "diagnosis_date"]},
     "covariates[1]: 'diagnosis_date' is declared as date, and a date cannot be a covariate"),
    ({"km": {"by": "diagnosis_date"}},
     "km.by: 'diagnosis_date' is declared as date, and a date cannot be a Kaplan–Meier grouping"),
    ({"table1": ["patient_id"]},
     "table1: 'patient_id' is the join key, which identifies patients; it cannot be summarised in Table 1"),
    ({"associations": ["patient_id"]},
     "associations: 'patient_id' is the join key, which identifies patients; it cannot be a factor"),
    ({"subgroups": ["patient_id"]},
     "subgroups: 'patient_id' is the join key, which identifies patients; it cannot be a subgroup"),
    ({"covariates": ["patient_id"]},
     "covariates[0]: 'patient_id' is the join key, which identifies patients; it cannot be a covariate"),
])
def test_dates_and_the_key_are_refused_where_the_report_would_show_them(study, changes, message):
    study.spec.update(changes)
    with pytest.raises(SpecError) as info:
        run(load_spec(study.save_spec()))
    assert str(info.value).startswith(f"study.yaml: {message}")


def test_a_string_column_in_table1_is_refused(study):
    study.edit_dictionary("imaging", lambda d: d["columns"].update(n_calcifications={"type": "string"}))
    study.spec.update(table1=["n_calcifications"])
    with pytest.raises(SpecError, match=r"table1: 'n_calcifications' is declared as string \(free text or an "
                                        r"identifier\), which cannot be summarised in Table 1"):
        run(load_spec(study.save_spec()))


def test_no_id_or_date_of_a_patient_in_any_output(study, tmp_path):
    study.spec.update(table1=["age", "grade", "er", "size_mm", "n_calcifications"], associations=["grade", "er"],
                      subgroups=["er"], km={"by": "casting", "times": [1, 2], "strata": ["grade"]})
    study.save_spec()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(study.spec_path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    clinical = study.read("clinical")
    identifying = [*clinical["patient_id"], *clinical["diagnosis_date"], *clinical["last_contact_date"]]
    for name in ("report.html", "results.json"):
        # Embedded figures are base64, where any three letters may occur by chance: leave them out.
        text = re.sub(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+", "", (out / name).read_text(encoding="utf-8"))
        leaked = [value for value in identifying if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text)]
        assert leaked == [], f"{name} quotes {leaked[:3]}"
