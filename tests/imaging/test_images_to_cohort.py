"""Images to cohort: phantoms of demo patients -> ``prognosis extract --tumour-side`` -> the spec's imaging table.

The chain of ``make demo-images`` on 10 patients (40 small images): the extracted table passes
``data_dictionary/imaging.yaml`` and joins the demo's clinical and pathology tables through the
analysis spec, with every patient without images counted out in the flow.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from prognosis.cohort import assemble_cohort, read_table
from prognosis.cli import app as main_app
from prognosis.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
N_PATIENTS = 10
runner = CliRunner()


@pytest.fixture(scope="module")
def extracted_demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo_images")
    # the first 10 demo patients hold no casting; take 10 that span the classes
    demo = pd.read_csv(ROOT / "data/demo/imaging.csv", dtype=str, keep_default_na=False)
    picked = pd.concat([demo[demo["calcification_class"] == c].head(2) for c in
                        ("none", "coarse_benign", "powdery", "crushed_stone", "casting")])
    picked.to_csv(folder / "patients.csv", index=False)
    result = runner.invoke(main_app, ["phantom", "--out", str(folder / "dicom"), "--like", str(folder / "patients.csv"),
                                      "--n", str(N_PATIENTS), "--both-breasts", "--seed", "2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main_app, ["extract", str(folder / "dicom"), "--out", str(folder / "imaging.csv"),
                                      "--tumour-side", str(folder / "dicom" / "tumour_side.csv"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return folder


def test_extracted_table_is_the_tumour_side_and_passes_the_dictionary(extracted_demo):
    table = read_table("imaging", extracted_demo / "imaging.csv", ROOT / "data_dictionary/imaging.yaml").data
    sides = pd.read_csv(extracted_demo / "dicom" / "tumour_side.csv")
    assert len(table) == N_PATIENTS
    merged = table.merge(sides, on="patient_id", suffixes=("", "_tumour"))
    assert (merged["laterality"].astype(str) == merged["laterality_tumour"]).all()
    truth = pd.read_csv(extracted_demo / "patients.csv").set_index("patient_id")["casting"]
    called = table.set_index("patient_id")["casting"].astype(str)
    # a loose check of the reading itself (accuracy is measured in test_accuracy and the benchmark)
    assert (called == truth.reindex(called.index)).mean() >= 0.8


def test_spec_joins_the_extracted_table_and_counts_the_rest(extracted_demo, tmp_path):
    raw = yaml.safe_load((ROOT / "analyses/demo_images.yaml").read_text())
    raw["tables"][2]["path"] = str(extracted_demo / "imaging.csv")
    for entry in raw["tables"]:
        entry["path"] = str((ROOT / "analyses" / entry["path"]).resolve()) if entry["name"] != "imaging" else entry["path"]
        entry["dictionary"] = str((ROOT / "analyses" / entry["dictionary"]).resolve())
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(raw))
    spec = load_spec(tmp_path / "spec.yaml")
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    cohort = assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables, extra=(spec.km.by,))
    flow = {step.step: step for step in cohort.flow}
    n_demo = len(pd.read_csv(ROOT / "data/demo/clinical.csv"))
    assert flow["patients read"].n_after == n_demo
    assert flow["present in imaging"].excluded == n_demo - N_PATIENTS
    assert 0 < cohort.n <= N_PATIENTS
    assert set(cohort.data["casting"].astype(str)) <= {"yes", "no"}
