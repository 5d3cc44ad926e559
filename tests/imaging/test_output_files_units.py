"""Unit tests of prognosis/_csv.py and prognosis/imaging/output_files.py, one rule each.

Each pins a step the end-to-end tests in test_extract_output_safety.py passed over when bugs
were planted one at a time: a categorical text column is neutralised like any text, and the
tables are checked again under the lock just before they are replaced (a user's file written
at ``--out`` after the run began is not overwritten).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from prognosis._csv import write_csv
from prognosis.errors import OutputError
from prognosis.imaging.output_files import TABLES, check_extract_outputs, write_outputs


def test_a_categorical_text_column_is_neutralised():
    frame = pd.DataFrame({"patient_id": pd.Categorical(["=1+2", "P2", "=1+2", "@A1"]), "n": [1, 2, 3, 4]})
    text = write_csv(frame, index=False, lineterminator="\n")
    # by hand: one leading quote on each hostile value, the other cells as they were
    assert text.split("\n")[:-1] == ["patient_id,n", "'=1+2,1", "P2,2", "'=1+2,3", "'@A1,4"]


def _tables() -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame({"file": ["a.dcm"], "value": [1.0]}) for name in TABLES}


def test_a_users_table_written_after_the_check_is_not_replaced(tmp_path):
    out = tmp_path / "imaging.csv"
    plan = check_extract_outputs(out)       # nothing there yet: every table may be written
    out.write_text("patient_id,age\nP1,50\n")  # the user saves a table of that name meanwhile
    with pytest.raises(OutputError, match="prognosis did not write it"):
        write_outputs(plan, _tables(), {"prognosis_version": "test", "parameters": {}})
    assert out.read_text() == "patient_id,age\nP1,50\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imaging.csv", "imaging.csv.work"]


def test_a_rerun_over_its_own_tables_is_allowed(tmp_path):
    # the same two calls over a folder prognosis wrote: no error, the tables replaced
    out = tmp_path / "imaging.csv"
    provenance = {"prognosis_version": "test", "parameters": {}}
    write_outputs(check_extract_outputs(out), _tables(), provenance)
    tables = _tables()
    tables["breasts"] = pd.DataFrame({"file": ["b.dcm"], "value": [2.0]})
    write_outputs(check_extract_outputs(out), tables, provenance)
    assert out.read_text().splitlines() == ["file,value", "b.dcm,2.0"]


def test_only_a_dead_runs_temporary_tables_are_removed(tmp_path):
    # A temporary table is removed only if its process is gone: a live run (our parent) may be
    # about to rename it into place.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    out = tmp_path / "imaging.csv"
    dead = tmp_path / f".imaging.csv.tmp-{child.pid}-abcd1234"
    live = tmp_path / f".imaging.csv.tmp-{os.getppid()}-abcd1234"
    for path in (dead, live):
        path.write_text("half written\n")
    check_extract_outputs(out)
    assert not dead.exists()
    assert live.read_text() == "half written\n"


def test_a_users_json_of_the_sidecar_name_is_refused(tmp_path):
    # a JSON object, but not prognosis's provenance (no prognosis_version, no parameters)
    sidecar = tmp_path / "imaging.provenance.json"
    sidecar.write_text('{"study": "mine", "outputs": {}}')
    with pytest.raises(OutputError, match="not written by prognosis"):
        check_extract_outputs(tmp_path / "imaging.csv")
    assert sidecar.read_text() == '{"study": "mine", "outputs": {}}'


def test_tables_beside_an_earlier_prognosis_sidecar_may_be_replaced(tmp_path):
    # prognosis before issue 9 wrote no "outputs" (hashes): its sidecar is trusted as it is
    out = tmp_path / "imaging.csv"
    out.write_text("file,value\nold.dcm,1.0\n")
    (tmp_path / "imaging.images.csv").write_text("file\nold.dcm\n")
    (tmp_path / "imaging.provenance.json").write_text('{"prognosis_version": "0.1.0", "parameters": {}}')
    plan = check_extract_outputs(out)
    assert set(plan.current) == {"breasts", "images"}


def test_a_killed_runs_temporary_overlay_is_prognosis_own(tmp_path):
    # the overlays folder of a run (stamped), then killed while writing an overlay of one of this
    # run's images (.tmp-NAME, not in the stamp): the next run may go on in that folder
    overlays = tmp_path / "overlays"
    check_extract_outputs(tmp_path / "imaging.csv", overlay_dir=overlays, dicom_files=["P1/L_CC.dcm"])
    (overlays / ".tmp-P1__L_CC.png").write_bytes(b"half")
    check_extract_outputs(tmp_path / "imaging.csv", overlay_dir=overlays, dicom_files=["P1/L_CC.dcm"])
    (overlays / "notes.txt").write_text("mine\n")
    with pytest.raises(OutputError, match="notes.txt"):
        check_extract_outputs(tmp_path / "imaging.csv", overlay_dir=overlays, dicom_files=["P1/L_CC.dcm"])
