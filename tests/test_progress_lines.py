"""`prognosis run` announces each stage on stderr (issue 11 item 7); stdout and the default off a terminal stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from prognosis.cli import app


@pytest.fixture
def imputing_study(study):
    # multiple imputation (m = 2) and a bootstrap of 2, so both optional sections announce themselves
    study.spec.update({"missing": {"method": "multiple_imputation", "m": 2, "seed": 1},
                       "validation": {"bootstrap": 2, "seed": 1, "times": [1, 2]}})
    study.save_spec()
    study.set_cell("pathology", 6, "grade", "")  # something to impute
    return study


def _run(study, out: Path, *flags: str):
    return CliRunner().invoke(app, ["run", str(study.spec_path), "--out", str(out), *flags])


def _stage_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.endswith(" ...")]


def test_stage_lines_in_order_on_stderr(imputing_study, tmp_path):
    out = tmp_path / "report"
    result = _run(imputing_study, out, "--progress")
    assert result.exit_code == 0, result.output
    assert _stage_lines(result.stderr) == [
        f"reading {imputing_study.spec_path} ...",
        "reading 3 tables ...",
        "assembling the cohort ...",
        "Kaplan–Meier and Cox models ...",
        "proportional-hazards test ...",
        "validation (2 bootstrap replicates) ...",
        "multiple imputation (m = 2) ...",
        "table 1 ...",
        "writing the report ...",
    ]
    # the first line comes before anything else on stderr; stdout is unchanged
    assert result.stderr.splitlines()[0] == f"reading {imputing_study.spec_path} ..."
    assert result.stdout.splitlines()[-2:] == [f"wrote {out / 'report.html'}", f"wrote {out / 'results.json'}"]


def test_no_progress_silences_the_stage_lines(imputing_study, tmp_path):
    result = _run(imputing_study, tmp_path / "report", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _stage_lines(result.stderr) == []


def test_off_a_terminal_the_default_prints_no_stage_lines(imputing_study, tmp_path):
    # CliRunner's stderr is not a terminal: scripts and pipes see stderr as before
    result = _run(imputing_study, tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert _stage_lines(result.stderr) == []


def test_an_error_still_comes_after_the_first_line_only(study, tmp_path):
    study.set_cell("clinical", 5, "age", "sixty")
    result = _run(study, tmp_path / "report", "--progress")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:2] == [f"reading {study.spec_path} ...", "reading 3 tables ..."]
    assert lines[2].startswith("error: ")
