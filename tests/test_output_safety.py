"""`prognosis run --out` never loses a user's file (issue 9, "user data is never lost").

prognosis/output_dir.py decides which folders may be replaced and swaps them;
prognosis/report/write.py uses it for the report. The extract side is in
tests/imaging/test_extract_output_safety.py.

The contract: ``--out`` replaces only an absent folder, an empty one, or one prognosis stamped
(``.prognosis-output`` lists every file in it); it is never the current folder or an input's
folder; a kill in the swap leaves (or, on the next run, restores) the old report; concurrent runs
take turns; a read-only folder, a full disk and a symlink loop are named errors.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prognosis import output_dir
from prognosis.cli import app
from prognosis.errors import OutputError
from prognosis.output_dir import MARKER, check_output_dir, read_stamp, write_stamp
from prognosis.report import write, write_report

GBSG2 = Path(__file__).parent / "fixtures" / "gbsg2"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (``.git`` included), relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def user_folder(folder: Path) -> Path:
    """A folder of a user's files, one of them nested, one hidden."""
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "sub" / "clinical.csv").write_text("patient_id,age\nP1,50\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the GBSG2 study (spec, table, dictionary in one folder ``study``) and a user file."""
    study = tmp_path / "study"
    study.mkdir()
    for name in ("gbsg2_spec.yaml", "gbsg2.csv", "gbsg2.yaml"):
        shutil.copy(GBSG2 / name, study / name)
    (study / "notes.txt").write_text("keep me\n")
    return tmp_path


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def leftovers(parent: Path, name: str) -> list[str]:
    """Hidden staging, moved-aside or lock entries of ``name`` in ``parent``."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


# --- the "done when" test: a folder of user files, `.`, the input folder --------------------------


def test_run_refuses_a_folder_of_user_files_and_keeps_every_byte(project):
    data = user_folder(project / "data")
    before = snapshot(data)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", data)
    assert_refused(result, str(data), "not written by prognosis", "Choose a new or empty folder")
    assert snapshot(data) == before
    assert leftovers(project, "data") == []


def test_run_refuses_the_current_folder(project, monkeypatch):
    user_folder(project / "work")
    monkeypatch.chdir(project / "work")
    before = snapshot(project)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", ".")
    assert_refused(result, "is the current folder")
    assert snapshot(project) == before


def test_run_refuses_a_parent_of_the_current_folder(project, monkeypatch):
    user_folder(project / "work")
    monkeypatch.chdir(project / "work" / "sub")
    before = snapshot(project)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", "..")
    assert_refused(result, "contains the current folder")
    assert snapshot(project) == before


@pytest.mark.parametrize("where", ["study", "."])
def test_run_refuses_the_input_folder_and_its_parents(project, where):
    before = snapshot(project)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", project / where)
    assert_refused(result, "the folder of the spec", "must not hold inputs")
    assert snapshot(project) == before


def test_run_refuses_a_folder_holding_a_table_kept_apart_from_the_spec(project):
    tables = project / "tables"
    tables.mkdir()
    shutil.move(project / "study" / "gbsg2.csv", tables / "gbsg2.csv")
    spec = project / "study" / "gbsg2_spec.yaml"
    spec.write_text(spec.read_text().replace("path: gbsg2.csv", "path: ../tables/gbsg2.csv"))
    # the table's folder holds nothing but the table: only the input rule can refuse it
    result = invoke("run", spec, "--out", tables)
    assert_refused(result, "is the folder of table gbsg2")
    assert (tables / "gbsg2.csv").read_bytes() == (GBSG2 / "gbsg2.csv").read_bytes()


def test_a_second_run_replaces_a_report_prognosis_wrote(project):
    out = project / "reports" / "gbsg2"
    assert invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", out).exit_code == 0
    stamp = read_stamp(out)
    assert stamp["kind"] == "report" and {"results.json", "report.html", "figures/km.png"} <= set(stamp["files"])
    (out / "figures" / "km.png").unlink()     # a report missing a file it listed is still ours
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "figures" / "km.png").is_file()
    assert leftovers(out.parent, "gbsg2") == []


def test_a_stamped_report_with_a_user_file_added_is_refused(project):
    out = project / "reports" / "gbsg2"
    assert invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", out).exit_code == 0
    (out / "figures" / "my_annotations.txt").write_text("mine\n")
    before = snapshot(out)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", out)
    assert_refused(result, "figures/my_annotations.txt", "prognosis did not write", "move them out")
    assert snapshot(out) == before


def test_an_empty_folder_and_an_absent_one_are_written(project):
    (project / "empty").mkdir()
    for out in (project / "empty", project / "absent" / "deep"):
        result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", out)
        assert result.exit_code == 0, result.output
        assert (out / "results.json").is_file() and (out / MARKER).is_file()


def test_out_naming_a_file_is_refused(project):
    target = project / "report.html"
    target.write_text("<p>mine</p>")
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", target)
    assert_refused(result, "is a file, not a folder")
    assert target.read_text() == "<p>mine</p>"


# --- the writer, library level ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def result():
    from prognosis.analysis.pipeline import run
    from prognosis.spec import load_spec

    return run(load_spec(GBSG2 / "gbsg2_spec.yaml"), progress=False)


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Stub the figures and the HTML, which take seconds and play no part in the folder logic
    (the subprocess tests draw them; tests/report and tests/test_cli.py test them)."""
    monkeypatch.setattr(write, "km_figure", lambda *a, **k: None)
    monkeypatch.setattr(write, "forest_figure", lambda *a, **k: None)
    monkeypatch.setattr(write, "figure_bytes", lambda *a, **k: b"\x89PNG stub")
    monkeypatch.setattr(write, "section_figures", lambda result: {})
    monkeypatch.setattr(write, "render_html", lambda *a, **k: "<html></html>")


def old_report(out: Path, text: str = "old") -> dict[str, bytes]:
    """A stamped report folder holding ``results.json`` = ``text``; returns its snapshot."""
    out.mkdir(parents=True)
    (out / "results.json").write_text(text)
    (out / "report.html").write_text(f"<p>{text}</p>")
    write_stamp(out, "report")
    return snapshot(out)


def test_a_legacy_report_without_stamp_is_replaced_but_not_with_a_user_file(result, fast, tmp_path):
    legacy = tmp_path / "legacy"
    (legacy / "figures").mkdir(parents=True)
    (legacy / "results.json").write_text(json.dumps({"provenance": {"prognosis_version": "0.0.9"}}))
    (legacy / "report.html").write_text("<html></html>")
    (legacy / "figures" / "km.png").write_bytes(b"png")
    write_report(result, legacy)
    assert read_stamp(legacy)["kind"] == "report"

    (legacy / MARKER).unlink()
    (legacy / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not written by prognosis"):
        write_report(result, legacy)
    assert (legacy / "notes.txt").read_text() == "mine"


def test_a_folder_stamped_for_another_kind_is_not_replaced(result, fast, tmp_path):
    work = tmp_path / "imaging.csv.work"
    work.mkdir()
    (work / "0123.image.parquet").write_bytes(b"x")
    write_stamp(work, "extract-work")
    with pytest.raises(OutputError, match="not written by prognosis"):
        write_report(result, work)
    assert (work / "0123.image.parquet").read_bytes() == b"x"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# The child creates its own staging folder (named with its id) and is killed by SIGKILL inside
# the swap: after the first of the two renames (no renameat2), or after the exchange (renameat2).
_KILLED_SWAP = r"""
import os, signal, sys
from pathlib import Path
import prognosis.output_dir as od

out, mode = Path(sys.argv[1]), sys.argv[2]
staging = od.make_staging(out)
(staging / "results.json").write_text("new")
od.write_stamp(staging, "report")

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "two-renames":
    od._exchange = lambda a, b: False
    real = os.rename
    def rename(a, b):
        real(a, b)
        die()
    od.os.rename = rename
else:
    od.shutil.rmtree = die
od.install(staging, out, kind="report")
"""


def _killed_swap(out: Path, mode: str) -> None:
    child = subprocess.run([sys.executable, "-c", _KILLED_SWAP, str(out), mode], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr


def test_a_kill_between_the_two_renames_leaves_the_old_report_for_the_next_run(result, fast, tmp_path):
    out = tmp_path / "rep"
    before = old_report(out)
    _killed_swap(out, "two-renames")
    # killed with the old report moved aside and the new one not yet in: the next run restores it
    assert not out.exists()
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith(".rep.old-")]
    assert snapshot(aside) == before
    assert check_output_dir(out, kind="report") == out
    assert snapshot(out) == before
    assert leftovers(tmp_path, "rep") == []     # the dead child's staging folder is gone too
    write_report(result, out)
    assert json.loads((out / "results.json").read_text())["n"] == 686


def test_a_kill_after_the_exchange_leaves_the_new_report_in_place(tmp_path):
    out = tmp_path / "rep"
    old_report(out)
    _killed_swap(out, "exchange")
    assert (out / "results.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep.tmp-")]   # the old one, left aside
    check_output_dir(out, kind="report")
    assert leftovers(tmp_path, "rep") == []
    assert (out / "results.json").read_text() == "new"


def test_stale_staging_of_dead_runs_is_cleaned_and_a_live_run_is_left_alone(result, fast, tmp_path):
    out = tmp_path / "rep"
    old_report(out)
    dead = _dead_pid()
    for name in (f".rep.tmp-{dead}-abcd", f".rep.old-{dead}", f".rep.old-{dead}-ef01"):   # .old-PID: prognosis 0.1
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text("stale")
    live = tmp_path / f".rep.tmp-{os.getppid()}-live"     # our parent is alive: its staging stays
    live.mkdir()
    unrelated = tmp_path / ".other.tmp-1-x"
    unrelated.mkdir()
    write_report(result, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".other.tmp-1-x", live.name, "rep"])


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_concurrent_runs_on_one_out_all_succeed(result, fast, tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(output_dir, "_exchange", lambda a, b: False)
    out = tmp_path / "rep"
    errors: list[BaseException] = []

    def writer():
        try:
            for _ in range(5):
                write_report(result, out)
        except BaseException as exc:   # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    assert sorted(read_stamp(out)["files"]) == ["figures/forest_adjusted.png", "figures/km.png", "report.html",
                                                "results.json"]


# Each child swaps its own reports into one folder, 30 times, as fast as it can. Without the lock,
# the two-renames swap fails here with "Directory not empty" (as prognosis 0.1 did).
_SWAPPER = r"""
import sys
from pathlib import Path
import prognosis.output_dir as od

out = Path(sys.argv[1])
if sys.argv[3] == "two-renames":
    od._exchange = lambda a, b: False
for i in range(30):
    od.check_output_dir(out, kind="report")
    staging = od.make_staging(out)
    (staging / "results.json").write_text(f"{sys.argv[2]} {i}")
    od.write_stamp(staging, "report")
    od.install(staging, out, kind="report")
"""


@pytest.mark.parametrize("mode", ["renameat2", "two-renames"])
def test_concurrent_processes_on_one_out_all_succeed(tmp_path, mode):
    out = tmp_path / "rep"
    runs = [subprocess.Popen([sys.executable, "-c", _SWAPPER, str(out), f"run{k}", mode], stderr=subprocess.PIPE,
                             text=True) for k in range(3)]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
        assert "Directory not empty" not in stderr
    assert (out / "results.json").read_text() in {f"run{k} 29" for k in range(3)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


# --- the system refuses: read-only, full disk, symlink loop ----------------------------------------


def test_a_read_only_folder_is_a_named_error(result, fast, tmp_path, monkeypatch):
    parent = tmp_path / "readonly"
    parent.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(parent / ".rep.tmp-1"))

    monkeypatch.setattr(output_dir.tempfile, "mkdtemp", refuse)   # root ignores chmod; fake the refusal
    with pytest.raises(OutputError, match="permission denied; choose a folder you may write to") as caught:
        write_report(result, parent / "rep")
    assert str(parent) in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_truly_read_only_folder_is_a_named_error(project):
    parent = project / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", parent / "rep")
    finally:
        parent.chmod(0o755)
    assert_refused(result, str(parent), "permission denied")


def test_a_full_disk_is_a_named_error_and_keeps_the_old_report(result, fast, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    before = old_report(out)
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputError, match="no space left on the device") as caught:
        write_report(result, out)
    assert str(out) in str(caught.value)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_full_disk_through_the_cli_is_exit_1_not_a_traceback(project, monkeypatch):
    real = Path.write_bytes

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", project / "rep")
    monkeypatch.setattr(Path, "write_bytes", real)
    assert_refused(result, "no space left on the device", str(project / "rep"))
    assert leftovers(project, "rep") == [] and not (project / "rep").exists()


@pytest.fixture
def loop(tmp_path: Path) -> Path:
    """``loop`` -> ``loop2`` -> ``loop``: any path through it is a symlink loop."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    return tmp_path / "loop"


def test_a_symlink_loop_in_the_out_path_is_a_named_error(project, loop):
    result = invoke("run", project / "study" / "gbsg2_spec.yaml", "--out", loop / "rep")
    assert_refused(result, str(loop / "rep"), "symlink loop")


def test_a_symlink_loop_in_the_spec_path_is_a_named_error(project, loop):
    result = invoke("run", loop / "spec.yaml", "--out", project / "rep")
    assert_refused(result, "analysis spec", "symlink loop")


def test_a_symlink_loop_in_a_table_path_is_a_named_error(project, loop):
    spec = project / "study" / "gbsg2_spec.yaml"
    spec.write_text(spec.read_text().replace("path: gbsg2.csv", f"path: {os.path.relpath(loop, spec.parent)}/gbsg2.csv"))
    result = invoke("run", spec, "--out", project / "rep")
    assert_refused(result, "symlink loop", "gbsg2.csv")


def test_a_symlink_loop_reaching_the_table_reader_is_a_named_error(loop):
    from prognosis.cohort.readers import read_raw
    from prognosis.errors import DataValidationError

    with pytest.raises(DataValidationError, match="symlink loop"):
        read_raw(loop / "gbsg2.csv")
