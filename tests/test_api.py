"""prognosis.analyse: the Python route, DataFrames judged as files are, and the Jupyter summary."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import prognosis
from prognosis.cohort.readers import read_table
from prognosis.errors import DataValidationError, SpecError

ROOT = Path(__file__).resolve().parents[1]
DICT = ROOT / "data_dictionary"
DATA = ROOT / "data" / "demo"


def _spec(**extra) -> dict:
    """A light spec of the demo cohort (no imputation, no bootstrap), paths from the repo root."""
    return {
        "title": "API test",
        "tables": [{"name": n, "path": str(DATA / f"{n}.csv"), "dictionary": str(DICT / f"{n}.yaml")}
                   for n in ("clinical", "pathology", "imaging")],
        "join": "patient_id",
        "endpoint": {"time": {"column": "followup_days", "unit": "days"}, "event": "bc_death", "unit": "years"},
        "marker": {"name": "casting", "reference": "no"},
        "covariates": ["age", "grade"],
        "km": {"times": [5]},
        **extra,
    }


def _violations(exc: pytest.ExceptionInfo) -> list[tuple]:
    return [(v.row, v.column, v.value, v.rule) for v in exc.value.violations]


def test_a_dataframe_with_real_dtypes_gives_the_file_route_s_estimates():
    clinical = pd.read_csv(DATA / "clinical.csv", parse_dates=["diagnosis_date", "last_contact_date"])
    clinical["age"] = clinical["age"].astype(float)              # 36.0 in a column of whole years
    clinical["bc_death"] = clinical["bc_death"].astype("Int64")  # pandas' nullable integers
    assert clinical["diagnosis_date"].dtype.kind == "M"
    from_frame = prognosis.analyse(_spec(), tables={"clinical": clinical})
    from_file = prognosis.analyse(_spec())
    assert (from_frame.n, from_frame.events) == (from_file.n, from_file.events)
    assert from_frame.models.adjusted.terms == from_file.models.adjusted.terms
    assert_allclose(from_frame.models.adjusted.hazard_ratio, from_file.models.adjusted.hazard_ratio, rtol=1e-12)


def test_a_dataframe_s_violations_are_those_of_the_same_table_as_a_typed_file(tmp_path):
    # A float column holding 2.0 is judged as Parquet or Excel are (2.0 is "2"); a CSV pandas
    # writes from it holds the text "2.0", which a CSV reader rightly refuses as a grade.
    frame = pd.read_csv(DATA / "pathology.csv").head(6)
    frame.index = [10, 20, 30, 40, 50, 60]      # the index is not a row number
    frame.loc[30, "size_mm"] = 430.0            # position 2 -> spreadsheet row 4
    frame.loc[60, "er"] = 7                     # position 5 -> row 7
    frame.loc[20, "grade"] = np.nan             # missing, not required: no violation
    path = tmp_path / "pathology.parquet"
    frame.reset_index(drop=True).to_parquet(path)
    with pytest.raises(DataValidationError) as from_file:
        read_table("pathology", path, DICT / "pathology.yaml")
    with pytest.raises(DataValidationError) as from_frame:
        read_table("pathology", frame, DICT / "pathology.yaml")
    assert _violations(from_frame) == _violations(from_file)
    assert [(v.row, v.column) for v in from_frame.value.violations] == [(4, "size_mm"), (7, "er")]
    assert {v.path for v in from_frame.value.violations} == {"pathology (in-memory DataFrame)"}


def test_missing_values_of_every_kind_in_a_dataframe_are_missing():
    clinical = pd.read_csv(DATA / "clinical.csv", parse_dates=["diagnosis_date"]).head(4)
    clinical["age"] = pd.array([None, 40, pd.NA, 50], dtype="Int64")
    clinical.loc[1, "diagnosis_date"] = pd.NaT
    with pytest.raises(DataValidationError) as exc:
        read_table("clinical", clinical, DICT / "clinical.yaml")
    # age and diagnosis_date are required: each missing cell is one violation, at position + 2
    assert sorted((v.row, v.column) for v in exc.value.violations) == [(2, "age"), (3, "diagnosis_date"),
                                                                         (4, "age")]


def test_a_fractional_value_in_a_binary_column_is_refused_as_in_a_file(tmp_path):
    clinical = pd.read_csv(DATA / "clinical.csv").head(3).astype({"bc_death": float})
    clinical.loc[2, "bc_death"] = 0.5
    clinical.to_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataValidationError) as from_frame:
        read_table("clinical", clinical, DICT / "clinical.yaml")
    with pytest.raises(DataValidationError) as from_file:
        read_table("clinical", tmp_path / "c.parquet", DICT / "clinical.yaml")
    assert _violations(from_frame) == _violations(from_file)
    assert [(v.row, v.column, v.value) for v in from_frame.value.violations] == [(4, "bc_death", "0.5")]


def test_provenance_names_the_dataframe_and_hashes_its_csv_form():
    clinical = pd.read_csv(DATA / "clinical.csv")
    result = prognosis.analyse(_spec(), tables={"clinical": clinical})
    entry = result.provenance["inputs"]["clinical"]
    assert entry["path"] == "in-memory DataFrame"
    assert entry["sha256"] == hashlib.sha256(clinical.to_csv(index=False).encode()).hexdigest()
    # read back unchanged from the demo CSV, it is byte for byte that file
    assert entry["sha256"] == hashlib.sha256((DATA / "clinical.csv").read_bytes()).hexdigest()
    assert result.provenance["inputs"]["imaging"]["path"] == str(DATA / "imaging.csv")


def test_a_path_in_tables_replaces_the_spec_s_and_is_recorded(tmp_path):
    copy = tmp_path / "clinical_copy.csv"
    copy.write_bytes((DATA / "clinical.csv").read_bytes())
    result = prognosis.analyse(_spec(), tables={"clinical": copy})
    assert result.provenance["inputs"]["clinical"]["path"] == str(copy)


def test_a_spec_file_is_read_from_its_path_and_a_dict_may_omit_a_dataframe_s_path(tmp_path):
    spec = _spec()
    del spec["tables"][0]["path"]
    result = prognosis.analyse(spec, tables={"clinical": pd.read_csv(DATA / "clinical.csv")})
    assert result.n == prognosis.analyse(_spec()).n
    with pytest.raises(SpecError, match="path"):   # without the DataFrame the path is required
        prognosis.analyse(spec)


@pytest.mark.parametrize("spec, tables, message", [
    ("title: x\ntables: []\n", None, "yaml.safe_load"),
    (42, None, "not a int"),
    (None, {"clinic": pd.DataFrame()}, "no table 'clinic'; its tables are clinical, pathology, imaging"),
    (None, {"clinical": [1, 2]}, "expected a pandas DataFrame or the path of a file, not a list"),
])
def test_wrong_arguments_are_named_spec_errors(spec, tables, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        prognosis.analyse(_spec() if spec is None else spec, tables=tables)


def test_an_invalid_dataframe_raises_the_cli_s_error():
    clinical = pd.read_csv(DATA / "clinical.csv")
    clinical.loc[5, "age"] = 430
    with pytest.raises(DataValidationError) as exc:
        prognosis.analyse(_spec(), tables={"clinical": clinical})
    assert [(v.row, v.column, v.value) for v in exc.value.violations] == [(7, "age", "430")]


def test_results_as_frames_and_html(capsys):
    result = prognosis.analyse(_spec(title="<script>alert(1)</script>"))
    frame = result.to_frame()
    assert list(frame.columns) == ["coef", "se", "hazard_ratio", "lower", "upper", "p"]
    adjusted = result.models.adjusted
    assert_allclose(frame.loc[("adjusted", "casting[yes]"), "hazard_ratio"], adjusted.hazard_ratio[0])
    assert_allclose(np.exp(frame["coef"]), frame["hazard_ratio"])       # coef on the log scale
    assert set(frame.index.get_level_values("model")) == {"unadjusted", "adjusted", "base"}
    flow = result.flow_frame()
    assert flow["n_after"].iloc[-1] == result.n
    assert flow["excluded"].sum() + result.n == flow["n_before"].iloc[0]
    km = result.km_frame()
    assert km.equals(result.km.to_frame()) and frame.equals(result.models.to_frame())
    assert list(km["group"]) == ["no", "yes"] and list(km["time"]) == [5.0, 5.0]
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    hr, (low, up) = adjusted.hazard_ratio[0], adjusted.conf_int[0]
    assert f"{hr:.2f} ({low:.2f} to {up:.2f})" in html
    assert f"<b>{result.n}</b> patients, <b>{result.events}</b> events" in html
    assert "Likelihood-ratio test" in html and "Cohort flow" in html
    assert capsys.readouterr() == ("", "")   # nothing prints


def test_write_report_is_exported(tmp_path):
    result = prognosis.analyse(_spec())
    out = prognosis.write_report(result, tmp_path / "report")
    assert (out / "results.json").is_file() and (out / "report.html").is_file()


def test_import_prognosis_stays_light():
    code = "import sys, prognosis; print(sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert {"analyse", "write_report"} <= set(dir(prognosis))


def test_the_readme_s_python_example_runs(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python (and Jupyter)", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    # the example writes its report under reports/; run it writing into tmp_path instead
    code = code.replace('"reports/python_example"', repr(str(tmp_path / "python_example")))
    namespace: dict = {}
    exec(compile(code, "README.md python example", "exec"), namespace)
    result = namespace["result"]
    assert capsys.readouterr().out.startswith(f"{result.n} {result.events}\n")
    assert (tmp_path / "python_example" / "results.json").is_file()
    assert result.provenance["inputs"]["clinical"]["path"] == "in-memory DataFrame"


def test_a_dataframe_is_named_by_its_table_in_the_flow_and_in_join_errors():
    clinical = pd.read_csv(DATA / "clinical.csv").iloc[:-5]       # 5 patients without a clinical row
    result = prognosis.analyse(_spec(), tables={"clinical": clinical})
    step = next(s for s in result.flow if s.step == "present in clinical")
    assert (step.excluded, step.reason) == (5, "no row in clinical (in-memory DataFrame)")
    repeated = pd.concat([clinical, clinical.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataValidationError) as exc:
        prognosis.analyse(_spec(), tables={"clinical": repeated})
    assert {v.path for v in exc.value.violations} == {"clinical (in-memory DataFrame)"}
