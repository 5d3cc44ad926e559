"""Tests of prognosis/cli.py: `prognosis run` and `prognosis validate` on good and bad input.

The contract for bad input: exit code 1, a message on stderr naming file, row and column where
there is one, and no output folder (an earlier complete one is left as it was). A failure while
writing the report itself is tested in tests/report/test_html.py.

Also here, because the CLI is where they surface: the errors raised by ``prognosis.analysis.pipeline``
rather than by one module (violations of several tables at once; no events; a marker with one
level), tested both as the library exception and as the CLI's message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from typer.testing import CliRunner

from prognosis import __version__
from prognosis.cli import app
from prognosis.errors import DataValidationError, ModelError
from prognosis.analysis.pipeline import read_tables, run
from prognosis.spec import load_spec


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "reports" / "study"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def run_cli(study, out: Path):
    return invoke("run", study.spec_path, "--out", out)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_failed_cleanly(result, out: Path, *expected: str) -> None:
    """Exit 1, every expected fragment on stderr, nothing on stdout, no output folder."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ")
    for fragment in expected:
        assert fragment in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    leftovers = [p.name for p in out.parent.glob(f"*{out.name}*")] if out.parent.exists() else []
    assert leftovers == []


# --- a good run ------------------------------------------------------------------------------


def test_run_writes_the_report(study, out):
    result = run_cli(study, out)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "40 patients, 10 events analysed",
        f"wrote {out / 'report.html'}",
        f"wrote {out / 'results.json'}",
    ]
    assert {"report.html", "results.json"} <= set(snapshot(out))
    # 10 events over 4 terms (casting, age, grade 2 and 3): a warning on stderr, not an error
    assert "warning: only 2.5 events per term" in result.stderr


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"prognosis {__version__}\n"


def test_command_line_mistakes_exit_2(study):
    assert invoke("run").exit_code == 2                                  # no spec
    assert invoke("run", study.spec_path, "--outt", "x").exit_code == 2  # unknown option
    assert invoke("frobnicate").exit_code == 2


# --- every kind of bad input -----------------------------------------------------------------


def _to_typed_file(study, table: str, extension: str, content: bytes) -> None:
    """Point the spec's table at a file of another type holding ``content``."""
    path = study.table_path(table).with_suffix(extension)
    path.write_bytes(content)
    index = [t["name"] for t in study.spec["tables"]].index(table)
    study.spec["tables"][index]["path"] = f"../data/{path.name}"
    study.save_spec()


def _dates_endpoint(study) -> None:
    study.spec["endpoint"] = {"time": {"start": "diagnosis_date", "end": "last_contact_date"}, "event": "bc_death"}
    study.save_spec()


def _same_for_all(study, table: str, column: str, value: str) -> None:
    frame = study.read(table)
    frame[column] = value
    study.write(table, frame)


def _spec(**changes) -> Callable:
    def change(study) -> None:
        study.spec.update(changes)
        study.save_spec()
    return change


BAD_INPUTS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "missing file": (
        lambda s: s.table_path("pathology").unlink(),
        ("pathology.csv: file not found (looked for ", "data/pathology.csv)"),
    ),
    "missing dictionary": (
        lambda s: s.dictionary_path("imaging").unlink(),
        ("data dictionary ", "dictionaries/imaging.yaml does not exist"),
    ),
    "malformed dictionary": (
        lambda s: s.edit_dictionary("imaging", lambda d: d["columns"]["casting"].update(levels=[False, True])),
        ("imaging.yaml: column 'casting' has a level read as a boolean; quote it",),
    ),
    "corrupt parquet": (
        lambda s: _to_typed_file(s, "imaging", ".parquet", b"PAR1\x00\xff garbage \x13\x37"),
        ("imaging.parquet: cannot be read as Parquet (",),
    ),
    "binary blob as xlsx": (
        lambda s: _to_typed_file(s, "pathology", ".xlsx", bytes(range(256)) * 4),
        ("pathology.xlsx: cannot be read as Excel (",),
    ),
    "unsupported extension": (
        lambda s: _to_typed_file(s, "pathology", ".json", b"{}"),
        ("pathology.json: has an unsupported extension '.json'",),
    ),
    "text in a numeric column": (
        lambda s: s.set_cell("clinical", 5, "age", "sixty"),
        ("clinical.csv, row 5, column age: 'sixty' is not a number",),
    ),
    "value out of range": (
        lambda s: s.set_cell("pathology", 8, "size_mm", "350"),
        ("pathology.csv, row 8, column size_mm: '350' is above the maximum 300",),
    ),
    "unknown level": (
        lambda s: s.set_cell("pathology", 3, "grade", "4"),
        ("pathology.csv, row 3, column grade: '4' is not one of {1, 2, 3}",),
    ),
    "duplicate key": (
        lambda s: s.set_cell("imaging", 10, "patient_id", "P01"),
        ("imaging.csv, row 2, column patient_id: 'P01' is a duplicate key (also in row 10)",
         "imaging.csv, row 10, column patient_id: 'P01' is a duplicate key (also in row 2)"),
    ),
    "required value missing": (
        lambda s: s.set_cell("imaging", 12, "casting", ""),
        ("imaging.csv, row 12, column casting: is missing, but the column is required",),
    ),
    "event not 0/1": (
        lambda s: s.set_cell("clinical", 7, "bc_death", "2"),
        ("clinical.csv, row 7, column bc_death: '2' is not 0 or 1",),
    ),
    "zero follow-up (days)": (
        lambda s: s.set_cell("clinical", 6, "followup_days", "0"),
        ("clinical.csv, row 6, column followup_days: ", "is zero or negative follow-up; follow-up must be > 0"),
    ),
    "negative follow-up (days)": (
        lambda s: s.set_cell("clinical", 11, "followup_days", "-30"),
        ("clinical.csv, row 11, column followup_days: ", "is zero or negative follow-up; follow-up must be > 0"),
    ),
    "zero follow-up (dates)": (
        lambda s: (_dates_endpoint(s), s.set_cell("clinical", 9, "last_contact_date", s.read("clinical").loc[7, "diagnosis_date"])),
        ("clinical.csv, row 9, column last_contact_date: ", "equals diagnosis_date: zero follow-up; follow-up must be > 0"),
    ),
    "end date before start date": (
        lambda s: (_dates_endpoint(s), s.set_cell("clinical", 4, "last_contact_date", "2009-12-31")),
        ("clinical.csv, row 4, column last_contact_date: ", "is before diagnosis_date (end date before start date)"),
    ),
    "marker with one level": (
        lambda s: _same_for_all(s, "imaging", "casting", "no"),
        ("casting", "only one level ('no')"),
    ),
    "no events": (
        lambda s: _same_for_all(s, "clinical", "bc_death", "0"),
        ("has no events",),
    ),
    "undeclared column in the spec": (
        _spec(marker={"name": "castng", "reference": "no"}),
        ("marker: 'castng' is not a column declared in any table (did you mean 'casting'?)",),
    ),
    "undeclared covariate in the spec": (
        _spec(covariates=["age", "grad"]),
        ("covariates[1]: 'grad' is not a column declared in any table (did you mean 'grade'?)",),
    ),
    "unknown spec key": (
        _spec(covariate=["age"]),
        ("study.yaml: unknown key 'covariate' (did you mean 'covariates'?)",),
    ),
    "reference not a level": (
        _spec(marker={"name": "casting", "reference": "yess"}),
        ("marker: reference 'yess' is not a level of 'casting' (no, yes) (did you mean 'yes'?)",),
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_cleanly_with_its_place(study, out, case):
    corrupt, expected = BAD_INPUTS[case]
    corrupt(study)
    assert_failed_cleanly(run_cli(study, out), out, *expected)


def test_missing_spec(tmp_path, out):
    result = invoke("run", tmp_path / "analyses" / "nowhere.yaml", "--out", out)
    assert_failed_cleanly(result, out, "analysis spec ", "nowhere.yaml does not exist")


def test_failed_run_leaves_an_earlier_report_intact(study, out):
    assert run_cli(study, out).exit_code == 0
    before = snapshot(out)
    study.set_cell("clinical", 5, "age", "sixty")

    result = run_cli(study, out)

    assert result.exit_code == 1
    assert "clinical.csv, row 5, column age: 'sixty' is not a number" in result.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["study"]  # no staging folder left


# --- every violation at once -----------------------------------------------------------------


def test_every_bad_cell_of_a_file_is_listed_in_row_order(study, out):
    study.set_cell("clinical", 30, "age", "150")
    study.set_cell("clinical", 4, "death", "yes")
    study.set_cell("clinical", 17, "age", "abc")
    result = run_cli(study, out)
    assert_failed_cleanly(result, out)
    assert result.stderr.splitlines() == [
        "error: 3 problems found in clinical.csv:",
        "  clinical.csv, row 4, column death: 'yes' is not 0 or 1",
        "  clinical.csv, row 17, column age: 'abc' is not a number",
        "  clinical.csv, row 30, column age: '150' is above the maximum 110",
    ]


def test_violations_in_two_tables_are_reported_together(study, out):
    study.set_cell("imaging", 20, "casting", "maybe")
    study.set_cell("clinical", 9, "age", "abc")
    study.set_cell("imaging", 3, "n_calcifications", "-1")

    with pytest.raises(DataValidationError) as info:
        read_tables(load_spec(study.spec_path).tables)
    assert [(Path(v.path).name, v.row, v.column, v.rule) for v in info.value.violations] == [
        ("clinical.csv", 9, "age", "is not a number"),
        ("imaging.csv", 3, "n_calcifications", "is below the minimum 0"),
        ("imaging.csv", 20, "casting", "is not one of {no, yes}"),
    ]

    result = run_cli(study, out)
    assert_failed_cleanly(
        result, out,
        "clinical.csv, row 9, column age: 'abc' is not a number",
        "imaging.csv, row 3, column n_calcifications: '-1' is below the minimum 0",
        "imaging.csv, row 20, column casting: 'maybe' is not one of {no, yes}",
    )


# --- errors from the statistics, as the library raises them ----------------------------------


def test_no_events_is_a_model_error(study):
    _same_for_all(study, "clinical", "bc_death", "0")
    with pytest.raises(ModelError, match="has no events"):
        run(load_spec(study.spec_path))


def test_marker_with_one_level_is_a_model_error(study):
    _same_for_all(study, "imaging", "casting", "yes")
    with pytest.raises(ModelError, match=r"casting .*only one level \('yes'\)"):
        run(load_spec(study.spec_path))


# --- prognosis validate ----------------------------------------------------------------------


def test_validate_a_good_table(study):
    result = invoke("validate", study.table_path("pathology"), "--dictionary", study.dictionary_path("pathology"))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{study.table_path('pathology')}: 40 rows, 4 columns, no problem found\n"
    assert result.stderr == ""


def test_validate_lists_every_violation(study):
    study.set_cell("pathology", 41, "er", "pos")
    study.set_cell("pathology", 2, "size_mm", "big")
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: 2 problems found in pathology.csv:",
        "  pathology.csv, row 2, column size_mm: 'big' is not a number",
        "  pathology.csv, row 41, column er: 'pos' is not one of {negative, positive}",
    ]


def test_validate_a_typed_file(study, tmp_path):
    path = tmp_path / "pathology.parquet"
    frame = study.read("pathology").astype({"size_mm": float, "grade": float})
    frame.to_parquet(path, index=False)
    result = invoke("validate", path, "--dictionary", study.dictionary_path("pathology"))
    assert result.exit_code == 0, result.output


def test_validate_an_unreadable_file(study, tmp_path):
    path = tmp_path / "pathology.xlsx"
    path.write_bytes(b"\x00\x01 not a workbook")
    result = invoke("validate", path, "--dictionary", study.dictionary_path("pathology"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 1 problem found in pathology.xlsx:\n  pathology.xlsx: cannot be read as Excel (")


def test_validate_a_missing_file(study, tmp_path):
    path = tmp_path / "nowhere.csv"
    result = invoke("validate", path, "--dictionary", study.dictionary_path("pathology"))
    assert result.exit_code == 1
    assert result.stderr == f"error: 1 problem found in nowhere.csv:\n  nowhere.csv: file not found (looked for {path})\n"


def test_validate_with_a_bad_dictionary(study):
    study.edit_dictionary("pathology", lambda d: d.update(allow_extras=True))
    result = invoke("validate", study.table_path("pathology"), "--dictionary", study.dictionary_path("pathology"))
    assert result.exit_code == 1
    assert result.stderr == "error: pathology.yaml: unknown field 'allow_extras' (did you mean 'allow_extra'?)\n"


def test_validate_needs_a_dictionary(study):
    assert invoke("validate", study.table_path("pathology")).exit_code == 2


def test_header_names_every_file_with_a_problem(study, out):
    study.set_cell("imaging", 20, "casting", "maybe")
    study.set_cell("clinical", 9, "age", "abc")
    result = run_cli(study, out)
    assert result.stderr.splitlines()[0] == "error: 2 problems found in clinical.csv, imaging.csv:"


def test_follow_up_and_event_errors_are_listed_together_as_written(study, out):
    study.set_cell("clinical", 7, "followup_days", "0")
    study.edit_dictionary("clinical", lambda d: d["columns"].update(bc_death={"type": "numeric"}))
    study.set_cell("clinical", 5, "bc_death", "2")
    result = run_cli(study, out)
    assert_failed_cleanly(result, out)
    assert result.stderr.splitlines()[1:] == [
        "  clinical.csv, row 5, column bc_death: '2' is not 0 or 1 (the event indicator)",
        "  clinical.csv, row 7, column followup_days: '0' is zero or negative follow-up; follow-up must be > 0",
    ]


def test_a_spec_key_naming_an_undeclared_column_names_the_spec(study, out):
    study.spec["covariates"] = ["age", "grde"]
    study.save_spec()
    result = run_cli(study, out)
    assert_failed_cleanly(result, out)
    assert "study.yaml: covariates[1]: 'grde' is not a column declared in any table (did you mean 'grade'?)" in result.stderr


# --- prognosis validate --report: every violation, a summary per column (issue 11) ----------------


def _many_violations(study) -> None:
    """400 violations in pathology.csv: 200 rows, each with size_mm not a number and grade not a level."""
    frame = study.read("pathology")
    frame = pd.concat([frame] * 5, ignore_index=True)                     # 200 rows
    frame["patient_id"] = [f"Q{i:03d}" for i in range(len(frame))]
    frame["size_mm"] = "big"                                              # 200 x "is not a number"
    frame["grade"] = "4"                                                  # 200 x "is not one of {1, 2, 3}"
    study.write("pathology", frame)


def test_validate_report_writes_all_400_violations(study, tmp_path):
    _many_violations(study)
    report = tmp_path / "violations.csv"
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"),
                    "--report", report)
    assert result.exit_code == 1
    written = pd.read_csv(report, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["file", "row", "column", "rule", "value"]
    assert len(written) == 400
    assert written.groupby("column").size().to_dict() == {"grade": 200, "size_mm": 200}
    assert set(written["row"].astype(int)) == set(range(2, 202))          # header is row 1
    assert set(written.loc[written["column"] == "size_mm", "value"]) == {"big"}
    lines = result.stderr.splitlines()
    assert lines[0] == "error: 400 problems found in pathology.csv. Per column and rule:"
    summary = [line.split(None, 2) for line in lines[1:3]]
    assert sorted((c, int(n), r) for c, n, r in summary) == [
        ("grade", 200, "is not one of {1, 2, 3}"), ("size_mm", 200, "is not a number")]
    assert lines[3] == "The first 20:"
    assert len([line for line in lines if line.startswith("  pathology.csv, row ")]) == 20
    assert f"  ... and 380 more (all 400 are in {report})" in lines
    assert f"wrote {report} (400 violations)" in lines


def test_validate_shows_the_first_n_and_says_how_to_see_all(study):
    _many_violations(study)
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"), "--show", "5")
    assert result.exit_code == 1
    assert len([line for line in result.stderr.splitlines() if line.startswith("  pathology.csv, row ")]) == 5
    assert "  ... and 395 more (--report violations.csv writes every one)" in result.stderr.splitlines()


def test_validate_report_as_excel(study, tmp_path):
    _many_violations(study)
    report = tmp_path / "violations.xlsx"
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"), "-r", report)
    assert result.exit_code == 1
    assert len(pd.read_excel(report, sheet_name="violations")) == 400


def test_validate_report_never_replaces_a_file_silently(study, tmp_path):
    study.set_cell("pathology", 2, "size_mm", "big")
    report = tmp_path / "violations.csv"
    report.write_text("mine\n", encoding="utf-8")
    args = ("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"), "--report", report)
    result = invoke(*args)
    assert result.exit_code == 1 and "already exists; pass --force to replace, or choose another --report" in result.stderr
    assert report.read_text(encoding="utf-8") == "mine\n"
    assert invoke(*args, "--force").exit_code == 1
    assert len(pd.read_csv(report)) == 1


def test_validate_report_of_a_good_table_is_empty(study, tmp_path):
    report = tmp_path / "violations.csv"
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"), "-r", report)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(report).empty


def test_validate_report_needs_csv_or_xlsx(study, tmp_path):
    result = invoke("validate", study.table_path("pathology"), "-d", study.dictionary_path("pathology"),
                    "--report", tmp_path / "v.txt")
    assert result.exit_code == 2 and ".csv or .xlsx" in result.output


def test_the_exception_carries_every_violation_and_a_bounded_message(study):
    _many_violations(study)
    with pytest.raises(DataValidationError) as caught:
        read_tables(load_spec(study.spec_path).tables)
    assert len(caught.value.violations) == 400
    assert len(str(caught.value).splitlines()) == 52     # header + 50 + "... and 350 more"
    assert "350 more" in str(caught.value).splitlines()[-1]


# --- declared vs used (issue 11) ------------------------------------------------------------------


def test_an_undeclared_column_as_covariate_names_its_table_and_dictionary(study, out):
    study.set_cell("pathology", 2, "ki67", "12")
    study.edit_dictionary("pathology", lambda d: d.update(allow_extra=True))
    study.spec["covariates"] = ["age", "ki67"]
    study.save_spec()
    result = run_cli(study, out)
    assert result.exit_code == 1
    assert result.stderr == ("error: study.yaml: covariates[1]: column 'ki67' is in table 'pathology' but not declared in its "
                             "dictionary pathology.yaml: add it under columns: with its type\n")


def test_a_column_in_no_table_gets_a_did_you_mean(study, out):
    study.spec["covariates"] = ["age", "grad"]
    study.save_spec()
    result = run_cli(study, out)
    assert result.exit_code == 1
    assert "covariates[1]: 'grad' is not a column declared in any table (did you mean 'grade'?)" in result.stderr


# --- help (issue 11) ------------------------------------------------------------------------------

COMMANDS = [("run",), ("validate",), ("init",), ("extract",), ("phantom",), ("dictionary", "draft")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_help_has_an_example_and_h_works(command):
    long, short = invoke(*command, "--help"), invoke(*command, "-h")
    assert long.exit_code == 0 and short.exit_code == 0, short.output
    assert long.stdout == short.stdout
    assert "Example: prognosis " + " ".join(command) in " ".join(long.stdout.split())
    assert "<bool>" not in long.stdout                 # flags take no value
    assert "{" not in long.stdout.splitlines()[1]      # usage shows SPEC / TABLE, not {spec}


def test_usage_names_the_argument():
    usage = next(line for line in invoke("run", "-h").stdout.splitlines() if "Usage:" in line)
    assert usage.split()[-2:] == ["[OPTIONS]", "SPEC"]
    usage = next(line for line in invoke("validate", "-h").stdout.splitlines() if "Usage:" in line)
    assert usage.split()[-1] == "TABLE"


def test_top_level_help_has_an_example_and_no_bool():
    result = invoke("-h")
    assert result.exit_code == 0
    assert "Example: prognosis run" in result.stdout and "<bool>" not in result.stdout


@pytest.mark.parametrize("args", [("run", "spec.yaml", "--verbose", "true"),
                                  ("run", "spec.yaml", "--no-progress", "false"),
                                  ("extract", "dicoms", "-o", "x.csv", "--progress", "yes")])
def test_a_flag_given_a_value_says_it_takes_none(args):
    result = invoke(*args)
    assert result.exit_code == 2
    flag, word = args[-2], args[-1]
    text = " ".join(result.output.replace("│", " ").split())
    assert f"a flag takes no value; write {flag} alone to turn it on, or leave it out (not {flag} {word})" in text
