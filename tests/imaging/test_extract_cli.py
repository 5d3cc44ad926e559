"""The typer sub-app: ``phantom`` then ``extract`` with overlays."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from prognosis.imaging.cli import app

runner = CliRunner()


def test_phantom_then_extract(tmp_path):
    result = runner.invoke(app, ["phantom", "--out", str(tmp_path / "ph"), "--n", "2", "--seed", "4"])
    assert result.exit_code == 0, result.output
    truth = pd.read_csv(tmp_path / "ph" / "truth_breasts.csv")
    assert len(truth) == 2 and len(list((tmp_path / "ph").glob("*.dcm"))) == 4
    result = runner.invoke(app, ["extract", str(tmp_path / "ph"), "--out", str(tmp_path / "imaging.csv"),
                                 "--overlays", str(tmp_path / "png"), "--set", "seed_cnr=5", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "4 files: 4 extracted, 0 skipped" in result.output
    table = pd.read_csv(tmp_path / "imaging.csv")
    assert list(table["patient_id"]) == sorted(truth["patient_id"])
    assert len(list((tmp_path / "png").glob("*.png"))) == 4


def test_unknown_parameter_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "x.csv"), "--set", "nope=1"])
    assert result.exit_code == 1 and "unknown extraction parameter" in result.output


def test_missing_folder_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["extract", str(tmp_path / "absent"), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
