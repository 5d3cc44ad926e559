"""`prognosis extract --out TABLE` never replaces a user's file, and its CSVs hold no formulas.

prognosis/imaging/output_files.py (which files may be replaced) and prognosis/_csv.py (formula
neutralisation, issue 9 defect 18). The report side is in tests/test_output_safety.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from prognosis._csv import neutralise_formulas, write_csv
from prognosis.cli import app
from prognosis.errors import OutputError
from prognosis.imaging import output_files
from prognosis.imaging.batch import run_batch
from prognosis.output_dir import MARKER

# the four characters OWASP names, and tab and carriage return (as ids, only the first four:
# a DICOM LO value may not hold control characters)
HOSTILE_IDS = ["=1+2", "+PH2", "-PH3", "@SUM(A1)"]


@pytest.fixture(scope="module")
def dicoms(tmp_path_factory) -> Path:
    """Two breasts (four DICOM files) of patients whose ids, and so file names, begin with = and +."""
    from prognosis.simulate.phantom import simulate_phantoms

    out = tmp_path_factory.mktemp("dicoms")
    like = pd.DataFrame({"patient_id": HOSTILE_IDS[:2], "laterality": ["L", "R"],
                         "calcification_class": ["casting", "none"]})
    simulate_phantoms(out, n=2, seed=4, patients=like)
    return out


@pytest.fixture
def inputs(dicoms, tmp_path) -> Path:
    """A fresh copy of the DICOM folder (a test may write into it)."""
    return Path(shutil.copytree(dicoms, tmp_path / "dicom"))


def invoke(*args: str | Path):
    return CliRunner().invoke(app, ["extract", *(str(a) for a in args), "--no-progress"])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def user_files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clinical.csv").write_text("patient_id,age\nP1,50\n")
    (folder / "notes.txt").write_text("my notes\n")
    return folder


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- the "done when" test: a folder of user files, `.`, the input folder --------------------------


def test_out_over_a_users_table_is_refused_and_every_byte_kept(inputs, tmp_path):
    data = user_files(tmp_path / "data")
    before = snapshot(data)
    result = invoke(inputs, "--out", data / "clinical.csv")
    assert_refused(result, str(data / "clinical.csv"), "prognosis did not write it", "Choose another --out name")
    assert snapshot(data) == before           # no work folder, no temporary file either


def test_out_beside_a_users_file_of_a_sidecar_name_is_refused(inputs, tmp_path):
    data = user_files(tmp_path / "data")
    (data / "imaging.images.csv").write_text("mine\n")
    before = snapshot(data)
    assert_refused(invoke(inputs, "--out", data / "imaging.csv"), "imaging.images.csv")
    assert snapshot(data) == before


def test_out_at_the_current_folder_keeps_every_user_file(inputs, tmp_path, monkeypatch):
    work = user_files(tmp_path / "work")
    (work / "imaging.csv").write_text("patient_id\nP1\n")
    monkeypatch.chdir(work)
    before = snapshot(work)
    result = invoke(inputs, "--out", ".")
    assert result.exit_code != 0 and "must end in .parquet or .csv" in result.output
    assert_refused(invoke(inputs, "--out", "imaging.csv"), "imaging.csv", "prognosis did not write it")
    assert snapshot(work) == before


def test_out_inside_the_dicom_folder_loses_no_input(inputs):
    before = snapshot(inputs)
    for _ in range(2):                      # the second run must neither take its outputs as inputs nor fail
        result = invoke(inputs, "--out", inputs / "imaging.csv")
        assert result.exit_code == 0, result.output
        assert "4 files: 4 extracted" in result.stdout or "4 resumed" in result.stdout
    after = snapshot(inputs)
    assert {name: after[name] for name in before} == before


def test_a_user_file_inside_the_dicom_folder_is_not_replaced(inputs):
    before = snapshot(inputs)
    assert_refused(invoke(inputs, "--out", inputs / "truth_breasts.csv"), "truth_breasts.csv")
    assert snapshot(inputs) == before


@pytest.mark.parametrize("option", ["--work-dir", "--overlays"])
def test_work_dir_or_overlays_at_a_folder_of_user_files_is_refused(inputs, tmp_path, option):
    folder = user_files(tmp_path / "mine")
    (folder / f"{HOSTILE_IDS[0]}_L_CC.png").write_bytes(b"my picture")   # the name an overlay would take
    before = snapshot(folder)
    assert_refused(invoke(inputs, "--out", tmp_path / "imaging.csv", option, folder), option, str(folder),
                   "not written by prognosis")
    assert snapshot(folder) == before
    assert not (tmp_path / "imaging.csv").exists()


@pytest.mark.parametrize("option", ["--work-dir", "--overlays"])
def test_work_dir_or_overlays_at_the_dicom_folder_is_refused(inputs, tmp_path, option):
    before = snapshot(inputs)
    assert_refused(invoke(inputs, "--out", tmp_path / "imaging.csv", option, inputs), option)
    assert snapshot(inputs) == before


def test_a_rerun_replaces_what_prognosis_wrote_and_refuses_an_edited_table(inputs, tmp_path):
    out = tmp_path / "imaging.csv"
    args = (inputs, "--out", out, "--overlays", tmp_path / "png")
    assert invoke(*args).exit_code == 0
    assert (tmp_path / "png" / MARKER).is_file() and (tmp_path / "imaging.csv.work" / MARKER).is_file()
    sidecar = json.loads((tmp_path / "imaging.provenance.json").read_text())
    assert set(sidecar["outputs"]) == {"breasts", "breasts_detail", "images", "clusters", "calcifications", "failures"}
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "imaging.provenance.json").read_text())["replaces"]["breasts"] == \
        sidecar["outputs"]["breasts"]["sha256"]

    with open(out, "a") as handle:     # the user adds a row by hand: the table is now partly theirs
        handle.write("P99,L,none,0,0,0,0\n")
    edited = out.read_bytes()
    assert_refused(invoke(*args), str(out), "changed since prognosis wrote it")
    assert out.read_bytes() == edited


def test_a_run_killed_between_the_sidecar_and_the_tables_is_still_recognised(inputs, tmp_path, monkeypatch):
    out = tmp_path / "imaging.parquet"
    run_batch(inputs, out)
    fewer = Path(shutil.copytree(inputs, tmp_path / "fewer"))
    next(fewer.glob("*_CC.dcm")).unlink()      # one image fewer: every table changes
    real = os.replace
    calls = []

    def interrupted(src, dst):   # os.replace is global: count only the final tables' renames
        if Path(dst).parent == tmp_path:
            calls.append(dst)
        if len(calls) == 3:              # the sidecar and the breasts table are new, the other four old
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(output_files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_batch(fewer, out, work_dir=tmp_path / "fewer.work")
    monkeypatch.undo()
    sidecar = json.loads((tmp_path / "imaging.provenance.json").read_text())
    images = tmp_path / "imaging.images.parquet"
    assert output_files.sha256_file(images) != sidecar["outputs"]["images"]["sha256"]   # an old table
    assert output_files.sha256_file(images) == sidecar["replaces"]["images"]
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name] == []
    result = run_batch(inputs, out)              # recognises old and new tables alike
    assert len(result.breasts) == 2


def test_stale_temporary_tables_of_a_dead_run_are_removed(inputs, tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = tmp_path / f".imaging.csv.tmp-{child.pid}-0a1b2c3d"
    stale.write_text("half")
    mine = tmp_path / ".imaging.csv.tmp-mine"        # not our pattern: a user's, kept
    mine.write_text("mine")
    run_batch(inputs, tmp_path / "imaging.csv")
    assert not stale.exists() and mine.read_text() == "mine"


def test_out_naming_a_folder_is_refused(inputs, tmp_path):
    (tmp_path / "imaging.csv").mkdir()
    with pytest.raises(OutputError, match="is not a file"):
        run_batch(inputs, tmp_path / "imaging.csv")


def test_a_symlink_loop_in_out_is_a_named_error(inputs, tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    assert_refused(invoke(inputs, "--out", tmp_path / "loop" / "imaging.csv"), "symlink loop")


# --- defect 18: formula injection ----------------------------------------------------------------


def test_extract_csvs_neutralise_ids_and_file_names_and_parquet_keeps_them(inputs, tmp_path):
    csv = run_batch(inputs, tmp_path / "imaging.csv")
    parquet = run_batch(inputs, tmp_path / "imaging.parquet", work_dir=tmp_path / "imaging.csv.work")
    breasts = pd.read_csv(tmp_path / "imaging.csv", dtype=str, keep_default_na=False)
    assert sorted(breasts["patient_id"]) == sorted("'" + i for i in HOSTILE_IDS[:2])
    images = pd.read_csv(tmp_path / "imaging.images.csv", dtype=str, keep_default_na=False)
    assert all(f.startswith("'") for f in images["file"])     # file names begin with the ids
    for name in ("breasts_detail", "images", "clusters", "calcifications"):
        text = (tmp_path / f"imaging.{name}.csv").read_text()
        for line in text.splitlines():
            for cell in line.split(","):
                assert not cell.startswith(("=", "+", "@")), (name, line)
    assert sorted(pd.read_parquet(tmp_path / "imaging.parquet")["patient_id"]) == sorted(HOSTILE_IDS[:2])
    assert sorted(parquet.breasts["patient_id"]) == sorted(csv.breasts["patient_id"]) == sorted(HOSTILE_IDS[:2])


def test_phantom_csvs_neutralise_ids(dicoms):
    side = (dicoms / "tumour_side.csv").read_text().splitlines()
    assert side[1:] == [f"'{HOSTILE_IDS[0]},L", f"'{HOSTILE_IDS[1]},R"]
    for name in ("truth_breasts", "truth_images", "truth_calcifications"):
        for line in (dicoms / f"{name}.csv").read_text().splitlines()[1:]:
            assert line.split(",")[0].startswith("'") or name == "truth_calcifications"


def test_only_text_cells_are_neutralised_and_negative_numbers_stay_numbers():
    frame = pd.DataFrame({
        "id": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@A1", "\tx", "\rx", "ok", None],
        "x_mm": [-1.5, 2.0, -3.0, np.nan, 0.0, 1.0, -0.25, 4.0],
        "n": pd.array([-1, 2, 3, 4, 5, 6, 7, None], dtype="Int64"),
        "flag": [True, False] * 4,
    })
    text = write_csv(frame, index=False, lineterminator="\n")
    # written out by hand: each hostile id gets one leading quote, the numbers are untouched
    assert text.split("\n")[:-1] == [
        "id,x_mm,n,flag",
        "\"'=HYPERLINK(\"\"http://x\"\")\",-1.5,-1,True",
        "'+1,2.0,2,False",
        "'-2,-3.0,3,True",
        "'@A1,,4,False",
        "'\tx,0.0,5,True",
            "'\rx,1.0,6,False",   # pandas quotes only around the line terminator, "\n"
        "ok,-0.25,7,True",
        ",4.0,,False",
    ]
    assert frame["id"][0].startswith("=")            # the caller's frame is not changed
    assert neutralise_formulas(frame[["x_mm"]]) is not None


def test_a_full_disk_while_writing_the_tables_is_a_named_error_and_keeps_the_old_ones(inputs, tmp_path, monkeypatch):
    import errno

    out = tmp_path / "imaging.csv"
    run_batch(inputs, out)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    written = []

    def full(frame, path, **kwargs):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        frame.to_csv(path, **kwargs)

    monkeypatch.setattr(output_files, "write_csv", full)
    with pytest.raises(OutputError, match="no space left on the device"):
        run_batch(inputs, out)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before   # no temporary left


def test_phantom_never_overwrites_a_users_files_but_reruns_over_its_own(tmp_path):
    mine = user_files(tmp_path / "mine")
    (mine / "tumour_side.csv").write_text("patient_id,laterality\nP1,L\n")    # a name phantom writes
    before = snapshot(mine)
    result = CliRunner().invoke(app, ["phantom", "--out", str(mine), "--n", "1"])
    assert_refused(result, str(mine), "not written by prognosis")
    assert snapshot(mine) == before
    for _ in range(2):
        result = CliRunner().invoke(app, ["phantom", "--out", str(tmp_path / "ph"), "--n", "1"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "ph" / MARKER).is_file()


def test_a_read_only_output_folder_is_a_named_error(inputs, tmp_path, monkeypatch):
    import errno

    from prognosis import output_dir

    real = os.open

    def refuse(path, *args, **kwargs):   # root ignores chmod: fake the refusal of the first write there
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(output_dir.os, "open", refuse)
    result = invoke(inputs, "--out", tmp_path / "locked" / "imaging.csv")
    monkeypatch.undo()
    assert_refused(result, str(tmp_path / "locked"), "permission denied")
