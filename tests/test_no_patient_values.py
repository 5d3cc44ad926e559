"""Sections that cannot be computed carry reasons without patient values (issue 9, COMMON rules).

A section that fails is recorded in results.json as ``{"status": "not_computed", "reason": ...}``
and its reason is shown in the report: the ModelError's own text. STYLE.md: what goes to
results.json and reports carries locations, never patient values. The small study of
tests/conftest.py is given distinctive follow-up times and ages (fractions no count or spec value
has), several sections are made to fail, and every decimal number in the reasons and notes is
checked against the patients' times (days and years) and ages.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.errors import ModelError
from prognosis.stats.competing import competing_risks
from prognosis.stats.group_tests import weighted_logrank_test

DAYS_PER_YEAR = 365.25   # the spec's endpoint.unit is years, followup_days in days (prognosis.spec)
NUMBER = re.compile(r"\d+\.\d+(?:e[-+]?\d+)?")


def _distinctive(study):
    clinical = study.read("clinical")
    days = clinical.followup_days.astype(float) + 0.5678 + np.arange(len(clinical)) / 1000.0
    ages = 45.4321 + 0.9 * np.arange(len(clinical))
    clinical["followup_days"] = [f"{d:.4f}" for d in days]
    clinical["age"] = [f"{a:.4f}" for a in ages]
    # No breast-cancer death is coded as the cause: the competing-risks section has no event of interest.
    study.edit_dictionary("clinical", lambda d: d["columns"].update(
        {"death_cause": {"type": "categorical", "levels": [0, 1, 2]}}))
    clinical["death_cause"] = np.where(clinical.bc_death == "1", "2", "0")
    study.write("clinical", clinical)
    return np.concatenate([days, days / DAYS_PER_YEAR, ages])


def _quoted_patient_values(text: str, values: np.ndarray) -> list[str]:
    """The decimal numbers in ``text`` that are a patient's value rounded to the digits shown.

    Numbers with fewer than 3 decimals are not judged: ``2.5`` events per term is within rounding
    of some patient's time, but no message quoting a value (``:g``, 6 significant digits) shows
    this cohort's values, with 4 distinctive decimals, that briefly.
    """
    found = []
    for number in NUMBER.findall(text):
        digits = len(number.split(".")[1].split("e")[0])
        if digits >= 3 and np.any(np.abs(values - float(number)) <= 0.5 * 10.0 ** -digits * max(1.0, abs(float(number)) / 10 ** 6)):
            found.append(number)
    return found


def test_not_computed_reasons_quote_no_patient_value(study, tmp_path):
    values = _distinctive(study)
    # Validation at 0.3 years, before the shortest follow-up (0.55 years), and 2 years (the
    # calibration time): its reason used to quote the shortest and longest follow-up ("from
    # 0.549... to before 4.93...").
    study.spec["validation"] = {"times": [0.3, 2], "bootstrap": 2, "seed": 1}
    study.spec["competing"] = {"column": "death_cause", "codes": {1: "breast_cancer", 2: "other"},
                               "of_interest": "breast_cancer"}
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["run", str(study.save_spec()), "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    not_computed = {s["section"]: s["reason"] for s in document["sections_not_computed"]}
    assert {"validation", "competing"} <= set(not_computed), not_computed
    assert document["validation"] == {"status": "not_computed", "reason": not_computed["validation"]}
    html = (out / "report.html").read_text()
    texts = list(not_computed.values()) + list(document["warnings"])
    for text in texts:
        assert _quoted_patient_values(text, values) == [], text
    for reason in not_computed.values():
        assert reason.replace("'", "&#39;").replace('"', "&#34;") in html or reason in html, reason
    # The check itself can fail: a text quoting the shortest follow-up in years is caught.
    assert _quoted_patient_values(f"from {values[40:80].min():g} to before", values)


def test_stray_group_values_are_counted_not_quoted():
    # A stray group value is a patient's cell: the message counts it and names the levels.
    time, event = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 1])
    group = np.array(["a", "b", "P1234-secret", "a"], dtype=object)
    with pytest.raises(ModelError, match=r"grade has 1 value\(s\) not among its levels \['a', 'b'\]") as caught:
        weighted_logrank_test(time, event, group, levels=("a", "b"), by="grade")
    assert "P1234" not in str(caught.value)
    with pytest.raises(ModelError, match=r"group has 1 value\(s\) not in group_levels \(a, b\)") as caught:
        competing_risks(time, event, cause_of_interest=1, group=group, group_levels=("a", "b"), times=(2.0,))
    assert "P1234" not in str(caught.value)
