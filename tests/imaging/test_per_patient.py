"""Per-breast to per-patient rules: tumour side, worst breast, and the side table's errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from prognosis.errors import DataValidationError
from prognosis.imaging.cli import app
from prognosis.imaging.per_patient import read_tumour_side, select_breasts

runner = CliRunner()


def _details() -> pd.DataFrame:
    # P1: casting on the left, coarse benign on the right; P2: right only; P3: both none
    return pd.DataFrame({
        "patient_id": ["P1", "P1", "P2", "P3", "P3"],
        "laterality": ["L", "R", "R", "L", "R"],
        "calcification_class": ["casting", "coarse_benign", "powdery", "none", "none"],
        "extent_mm": [45.0, None, 12.0, None, None],
    })


def test_tumour_rule_keeps_the_tumour_side_even_when_the_other_is_worse():
    sides = pd.Series({"P1": "R", "P2": "R", "P3": "L", "P4": "L"})
    chosen = select_breasts(_details(), "tumour", tumour_side=sides)
    assert chosen.breasts[["patient_id", "laterality"]].values.tolist() == [["P1", "R"], ["P2", "R"], ["P3", "L"]]
    assert chosen.breasts.loc[chosen.breasts["patient_id"] == "P1", "calcification_class"].item() == "coarse_benign"
    assert chosen.n_breasts_left_out == 2
    assert chosen.patients_without_image == ["P4"]


def test_worst_rule_keeps_the_most_suspicious_breast():
    chosen = select_breasts(_details(), "worst")
    assert chosen.breasts["patient_id"].tolist() == ["P1", "P2", "P3"]
    assert chosen.breasts["calcification_class"].tolist() == ["casting", "powdery", "none"]
    assert chosen.n_breasts_left_out == 2 and chosen.to_dict()["rule"] == "worst"


def test_worst_rule_breaks_a_class_tie_by_extent_then_laterality():
    # the module docstring: class rank, then the larger extent, then the left breast
    details = pd.DataFrame({
        "patient_id": ["A", "A", "B", "B", "C", "C", "D", "D"],
        "laterality": ["L", "R", "L", "R", "R", "L", "R", "L"],
        "calcification_class": ["casting", "casting", "powdery", "powdery", "crushed_stone", "crushed_stone",
                                "coarse_benign", "coarse_benign"],
        # A: the right breast's extent is larger; B: the left's; C: equal; D: none has an extent
        "extent_mm": [10.0, 40.0, 50.0, 5.0, 20.0, 20.0, None, None],
    })
    chosen = select_breasts(details, "worst").breasts.set_index("patient_id")["laterality"].to_dict()
    assert chosen == {"A": "R", "B": "L", "C": "L", "D": "L"}
    # a breast with an extent beats one of the same class without (no extent is the smallest)
    partial = pd.DataFrame({"patient_id": ["E", "E"], "laterality": ["L", "R"],
                            "calcification_class": ["powdery", "powdery"], "extent_mm": [None, 3.0]})
    assert select_breasts(partial, "worst").breasts["laterality"].tolist() == ["R"]
    # the order of the rows does not matter
    reordered = select_breasts(details.iloc[::-1], "worst").breasts.set_index("patient_id")["laterality"].to_dict()
    assert reordered == chosen


def test_tumour_rule_needs_sides():
    with pytest.raises(ValueError, match="tumour side"):
        select_breasts(_details(), "tumour")
    with pytest.raises(ValueError, match="one of"):
        select_breasts(_details(), "best")


def test_side_table_errors_name_file_row_and_column(tmp_path):
    path = tmp_path / "sides.csv"
    path.write_text("patient_id,laterality\nP1,L\nP2,left\nP1,R\n,R\nP5,\n")
    with pytest.raises(DataValidationError) as caught:
        read_tumour_side(path)
    messages = [v.message() for v in caught.value.violations]
    assert "sides.csv, row 3, column laterality: 'left' is not one of {L, R}" in messages
    assert "sides.csv, row 2, column patient_id: 'P1' is listed twice (also in row 4); one tumour side per patient" in messages
    assert "sides.csv, row 5, column patient_id: is missing" in messages
    assert any(m.startswith("sides.csv, row 6, column laterality") for m in messages)


def test_side_table_without_the_column(tmp_path):
    path = tmp_path / "sides.csv"
    path.write_text("patient_id,side\nP1,l\n")
    with pytest.raises(DataValidationError, match="laterality"):
        read_tumour_side(path)
    assert read_tumour_side(path, column="side").to_dict() == {"P1": "L"}   # case and spaces forgiven


def test_extract_with_tumour_side(extracted, phantom_dir, tmp_path):
    truth = pd.read_csv(phantom_dir / "truth_breasts.csv")
    sides = truth[["patient_id", "laterality"]].copy()
    sides.loc[0, "laterality"] = "R" if sides.loc[0, "laterality"] == "L" else "L"   # no image of that side
    sides.to_csv(tmp_path / "sides.csv", index=False)
    work = extracted.outputs["breasts"].with_name("imaging.parquet.work")
    result = runner.invoke(app, ["extract", str(phantom_dir), "--out", str(tmp_path / "imaging.csv"), "--work-dir", str(work),
                                 "--tumour-side", str(tmp_path / "sides.csv"), "--no-progress"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "imaging.csv")
    assert len(table) == len(truth) - 1 and sides.loc[0, "patient_id"] not in set(table["patient_id"])
    assert "1 patient(s) of" in result.output and sides.loc[0, "patient_id"] in result.output
    provenance = json.loads((tmp_path / "imaging.provenance.json").read_text())
    assert provenance["per_patient"] == {"rule": "tumour", "n_rows": len(truth) - 1, "n_breasts_left_out": 1,
                                         "n_patients_without_image": 1}
    detail = pd.read_csv(tmp_path / "imaging.breasts_detail.csv")
    assert len(detail) == len(truth) and detail["kept"].sum() == len(truth) - 1


def test_extract_tumour_rule_without_side_table_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "x.csv"), "--per-patient", "tumour"])
    assert result.exit_code == 2 and "--tumour-side" in result.output


def test_bad_side_table_is_an_input_error(phantom_dir, tmp_path):
    (tmp_path / "sides.csv").write_text("patient_id,laterality\nPH0001,X\n")
    result = runner.invoke(app, ["extract", str(phantom_dir), "--out", str(tmp_path / "x.csv"),
                                 "--tumour-side", str(tmp_path / "sides.csv")])
    assert result.exit_code == 1 and "row 2, column laterality" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_per_breast_output_passes_the_per_breast_dictionary(extracted):
    from pathlib import Path

    from prognosis.cohort import read_table

    dictionary = Path(__file__).resolve().parents[2] / "data_dictionary" / "imaging_breast.yaml"
    table = read_table("imaging_breast", extracted.outputs["breasts"], dictionary).data
    assert len(table) == len(extracted.breast_details) and extracted.selection.rule == "all"


def test_tumour_side_with_the_worst_rule_is_a_usage_error(tmp_path):
    (tmp_path / "sides.csv").write_text("patient_id,laterality\nP1,L\n")
    result = runner.invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "x.csv"), "--per-patient", "worst",
                                 "--tumour-side", str(tmp_path / "sides.csv")])
    text = " ".join(result.output.replace("│", " ").split())     # rich wraps the message in a box
    assert result.exit_code == 2 and "cannot go with --per-patient worst" in text
