"""Tests of prognosis/dictionary/draft.py and prognosis/spec/starter.py, through their commands.

The contract: a drafted dictionary loads with the project's loader and validates the very table
it came from with no violation (demo tables, GBSG2); types, levels, ranges, missing tokens and
the key are those a person would write, with comments where a decision is left; no row's id or
date appears in it. ``prognosis init`` drafts every table and a starter spec that runs once its
marker is chosen.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.cohort import read_table
from prognosis.cohort.readers import read_raw
from prognosis.dictionary import load_dictionary
from prognosis.dictionary.draft import draft_table, render_dictionary
from prognosis.spec import load_spec
from prognosis.spec.starter import MARKER_PLACEHOLDER

ROOT = Path(__file__).resolve().parents[2]
GBSG2 = ROOT / "tests" / "fixtures" / "gbsg2" / "gbsg2.csv"
DEMO = [ROOT / "data" / "demo" / f"{name}.csv" for name in ("clinical", "pathology", "imaging")]


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def draft_of(frame: pd.DataFrame, name: str = "t") -> dict:
    return yaml.safe_load(render_dictionary(draft_table(frame, table=name)))


@pytest.mark.parametrize("table", [GBSG2, *DEMO], ids=lambda p: p.stem)
def test_a_draft_validates_its_own_table(table, tmp_path):
    out = tmp_path / f"{table.stem}.yaml"
    result = invoke("dictionary", "draft", table, "--out", out)
    assert result.exit_code == 0, result.output
    dictionary = load_dictionary(out)
    checked = read_table(table.stem, table, dictionary)   # raises DataValidationError on any violation
    assert checked.n_rows == len(read_raw(table))
    assert set(dictionary.columns) == set(read_raw(table).columns)


def test_gbsg2_draft_reads_as_a_person_would_write_it():
    d = draft_of(read_raw(GBSG2), "gbsg2")
    columns = d["columns"]
    assert d["key"] == "patient_id" and columns["patient_id"] == {"type": "string", "required": True,
                                                                  "label": "Identifier"}
    assert columns["cens"]["type"] == "binary"
    # Roman numerals in numeric order (the first is the reference), not by frequency (II first)
    assert columns["tgrade"]["levels"] == ["I", "II", "III"]
    assert columns["horTh"]["levels"] == ["no", "yes"]   # "no" quoted: YAML would read it as False
    # gbsg2.csv: age 21..80, tsize 3..120, pnodes 1..51 (read off the file with awk; see the test below)
    assert (columns["age"]["min"], columns["age"]["max"]) == (21, 80)
    assert columns["tsize"]["min"] <= 3 and columns["tsize"]["max"] >= 120
    assert (columns["pnodes"]["min"], columns["pnodes"]["max"]) == (1, 51)


def test_ranges_are_rounded_outward_and_cover_the_data():
    frame = pd.DataFrame({"x": ["21.3", "50", "79.6"], "y": ["0.012", "0.5", "0.987"], "z": ["-3.5", "0", "1234"]})
    columns = draft_of(frame)["columns"]
    # x: spread 58.3 -> step 1: [21, 80]; y: spread 0.975 -> step 0.01: [0.01, 0.99];
    # z: spread 1237.5 -> step 100, but at least |1234|/100 = 10 -> step 100: [-100, 1300]
    assert (columns["x"]["min"], columns["x"]["max"]) == (21, 80)
    assert (columns["y"]["min"], columns["y"]["max"]) == (0.01, 0.99)
    assert (columns["z"]["min"], columns["z"]["max"]) == (-100, 1300)


def test_types_levels_and_missing_tokens():
    n = 12
    frame = pd.DataFrame({
        "id": [f"A{i:03d}" for i in range(n)],
        "grade": ["1", "2", "3", "2"] * 3,                                    # integer codes -> categorical
        "er": ["0", "1", "1", "NA"] * 3,                                      # binary, NA missing
        "stage": ["early", "late", "early", "unknown"] * 3,                   # by frequency; unknown missing
        "seen": ["2020-01-31", "2021-02-28", "", "2019-12-01"] * 3,          # date
        "note": [f"free text {i}" for i in range(n)],                         # string
        "score": ["1.5", "2.5", "999", "3"] * 3,                              # numeric, 999 suspected
    })
    text = render_dictionary(draft_table(frame, table="t"))
    d = yaml.safe_load(text)
    c = d["columns"]
    assert d["key"] == "id" and "note" in text.split("key:")[1].splitlines()[0]   # other unique column named
    assert d["missing"] == ["", "NA", "unknown"]
    assert c["grade"]["type"] == "categorical" and c["grade"]["levels"] == ["1", "2", "3"]
    assert c["er"]["type"] == "binary"
    assert c["stage"]["levels"] == ["early", "late"]
    assert c["seen"] == {"type": "date", "format": "%Y-%m-%d", "label": "seen"}
    assert c["note"]["type"] == "string"
    assert c["score"]["type"] == "numeric"
    assert '"999" to `missing:`' in text                                       # suspicion, as a comment
    assert "999" not in d["missing"]
    assert "levels by frequency" in text and "levels sorted as numbers" in text


def test_no_row_value_in_the_draft(tmp_path):
    """Ids and dates of rows never appear; levels and rounded ranges do (they are the dictionary)."""
    clinical = read_raw(DEMO[0])
    text = render_dictionary(draft_table(clinical, table="clinical"))
    for column in ("patient_id", "diagnosis_date", "last_contact_date"):
        assert not any(value in text for value in clinical[column].unique()), column


def test_out_never_replaces_a_file_silently(tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("# the user's own dictionary\n", encoding="utf-8")
    result = invoke("dictionary", "draft", GBSG2, "--out", out)
    assert result.exit_code == 1
    assert "already exists; pass --force" in result.stderr
    assert out.read_text(encoding="utf-8") == "# the user's own dictionary\n"
    assert invoke("dictionary", "draft", GBSG2, "--out", out, "--force").exit_code == 0
    assert load_dictionary(out).table == "gbsg2"


def test_draft_prints_without_out():
    result = invoke("dictionary", "draft", GBSG2)
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["table"] == "gbsg2"


def test_draft_of_a_missing_file_is_a_named_error(tmp_path):
    result = invoke("dictionary", "draft", tmp_path / "nowhere.csv")
    assert result.exit_code == 1
    assert "nowhere.csv: file not found" in result.stderr


def test_init_drafts_a_spec_that_runs_once_the_marker_is_chosen(tmp_path):
    out = tmp_path / "study"
    result = invoke("init", GBSG2, "--out", out, "--name", "gbsg2")
    assert result.exit_code == 0, result.output
    spec_path = out / "analyses" / "gbsg2.yaml"
    text = spec_path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["join"] == "patient_id"
    assert raw["endpoint"]["time"] == {"column": "time", "unit": "days"}
    assert raw["endpoint"]["event"] == "cens"
    assert raw["marker"] == MARKER_PLACEHOLDER and "candidates: horTh, age" in text
    # the only edit: choose the marker
    spec_path.write_text(text.replace(f"marker: {MARKER_PLACEHOLDER}", "marker: horTh"), encoding="utf-8")
    spec = load_spec(spec_path)
    assert spec.tables[0].dictionary == (out / "data_dictionary" / "gbsg2.yaml").resolve()
    reports = tmp_path / "reports"
    result = invoke("run", spec_path, "--out", reports, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "686 patients, 299 events analysed" in result.stdout   # GBSG2: 299 recurrences or deaths


def test_init_with_two_tables_guesses_the_common_key(tmp_path):
    frame = read_raw(GBSG2)
    clinical, tumour = tmp_path / "clinical.csv", tmp_path / "tumour.csv"
    frame[["patient_id", "age", "time", "cens"]].to_csv(clinical, index=False)
    frame[["patient_id", "tsize", "tgrade"]].to_csv(tumour, index=False)
    result = invoke("init", clinical, tumour, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load((tmp_path / "s" / "analyses" / "study.yaml").read_text(encoding="utf-8"))
    assert raw["join"] == "patient_id"
    assert [t["name"] for t in raw["tables"]] == ["clinical", "tumour"]
    assert (tmp_path / "s" / "data_dictionary" / "tumour.yaml").is_file()


def test_init_refuses_to_replace_existing_files(tmp_path):
    out = tmp_path / "s"
    assert invoke("init", GBSG2, "--out", out).exit_code == 0
    result = invoke("init", GBSG2, "--out", out)
    assert result.exit_code == 1 and "pass --force" in result.stderr


def test_typed_files_round_trip(tmp_path):
    """Parquet and Excel cells (floats, booleans, real dates) are judged as the validator reads them."""
    n = 12
    frame = pd.DataFrame({"pid": range(1, n + 1), "dx": pd.to_datetime(["2020-01-01"] * n),
                          "age": [50.5, float("nan")] + [60.0] * (n - 2), "grade": [1.0, 2.0, 3.0] * 4,
                          "flag": [True, False] * 6, "weird name": ["a", "b"] * 6})
    for suffix in (".parquet", ".xlsx"):
        path = tmp_path / f"t{suffix}"
        frame.to_parquet(path) if suffix == ".parquet" else frame.to_excel(path, index=False)
        out = tmp_path / f"t{suffix}.yaml"
        assert invoke("dictionary", "draft", path, "--out", out).exit_code == 0
        dictionary = load_dictionary(out)
        assert dictionary.key == "pid" and dictionary.columns["pid"].type == "string"
        assert [dictionary.columns[c].type for c in ("dx", "age", "grade", "flag", "weird name")] == [
            "date", "numeric", "categorical", "binary", "categorical"]
        read_table("t", path, dictionary)
