"""Unit tests of the swap and the lock in prognosis/output_dir.py, one rule each.

Each test pins one step that the end-to-end tests in tests/test_output_safety.py pass over
(they were found by planting bugs one at a time): the check repeated under the lock, the
restore when the second of two renames fails, which moved-aside copy is restored, and the
lock file that a waiting run must not trust once its holder has unlinked it.
"""

from __future__ import annotations

import errno
import json
import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prognosis import output_dir
from prognosis.errors import OutputError
from prognosis.output_dir import install, locked, make_staging, recover, write_stamp


def _report(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "results.json").write_text(text)
    write_stamp(folder, "report")
    return folder


def _staging(out: Path, text: str) -> Path:
    staging = make_staging(out)
    (staging / "results.json").write_text(text)
    write_stamp(staging, "report")
    return staging


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_install_checks_the_folder_again_under_the_lock(tmp_path, monkeypatch, exchange):
    # The run checked --out when it began; a user file added since must still stop the swap.
    if not exchange:
        monkeypatch.setattr(output_dir, "_exchange", lambda a, b: False)
    out = _report(tmp_path / "rep", "old")
    staging = _staging(out, "new")
    (out / "notes.txt").write_text("added while the analysis ran\n")
    with pytest.raises(OutputError, match="notes.txt"):
        install(staging, out, kind="report")
    assert (out / "notes.txt").read_text() == "added while the analysis ran\n"
    assert (out / "results.json").read_text() == "old"


def test_a_failed_second_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    # Without renameat2: old folder aside, then new folder in. If the second rename fails, the
    # old folder must be back under its name before the error is raised.
    monkeypatch.setattr(output_dir, "_exchange", lambda a, b: False)
    out = _report(tmp_path / "rep", "old")
    staging = _staging(out, "new")
    real = os.rename

    def rename(a, b):
        if Path(a) == staging:
            raise OSError(errno.ENOSPC, "No space left on device", str(b))
        real(a, b)

    monkeypatch.setattr(output_dir.os, "rename", rename)
    with pytest.raises(OutputError, match="no space left"):
        install(staging, out, kind="report")
    assert (out / "results.json").read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep.old-")]


def test_recover_restores_the_newest_copy_moved_aside(tmp_path):
    # Two dead runs each left the folder aside (the later one holds the later report): the
    # missing folder comes back from the most recent copy, and the older copy is removed.
    dead = _dead_pid()
    out = tmp_path / "rep"
    older, newer = tmp_path / f".rep.old-{dead}-aaaa", tmp_path / f".rep.old-{dead}-bbbb"
    _report(older, "first")
    _report(newer, "second")
    now = time.time()
    os.utime(older, (now - 100, now - 100))
    os.utime(newer, (now - 10, now - 10))
    recover(out)
    assert (out / "results.json").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_waiter_does_not_trust_a_lock_file_its_holder_unlinked(tmp_path):
    # A holds the lock (file inode 1); B waits in flock on inode 1; A unlinks the file as it
    # releases, and C meanwhile locks a new file of that name (inode 2). B's flock on inode 1
    # then succeeds but guards nothing: B must retry on inode 2 and wait for C.
    out = tmp_path / "rep"
    lock = tmp_path / ".rep.lock"
    holder_a = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(holder_a, fcntl.LOCK_EX)
    entered = threading.Event()

    def waiter() -> None:
        with locked(out):
            entered.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    time.sleep(0.3)                      # B is now blocked on inode 1
    assert not entered.is_set()
    os.unlink(lock)                      # A releases the way locked() does: unlink, then close
    holder_c = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(holder_c, fcntl.LOCK_EX)
    os.close(holder_a)
    try:
        assert not entered.wait(0.5), "the waiter entered while another run held the lock"
    finally:
        os.close(holder_c)               # C releases: B takes the lock on inode 2 and enters
    assert entered.wait(10)
    thread.join(10)


def test_a_stamp_file_prognosis_did_not_write_does_not_make_a_folder_replaceable(tmp_path):
    # A .prognosis-output that lists every file, but is not prognosis's (no written_by): the
    # folder is a user's, and is refused.
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    (folder / output_dir.MARKER).write_text(json.dumps({"kind": "report", "files": ["notes.txt"]}))
    with pytest.raises(OutputError, match="not written by prognosis"):
        output_dir.check_replaceable(folder, kind="report")


def test_check_output_dir_judges_the_folder_under_the_lock(tmp_path, monkeypatch):
    # Another run's two-rename swap leaves --out missing for a moment (old folder aside, new one
    # not yet in). A check made outside the lock can fall in that gap and refuse a folder that is
    # wholly prognosis's ("is a file, not a folder", "not written by prognosis"): measured, 3 such
    # false refusals in 3,000 checks against a thread swapping reports. So the check is made
    # while holding the lock, as the swap is.
    out = _report(tmp_path / "rep", "old")
    held = []
    real = output_dir.check_replaceable

    def check_replaceable(folder, **kwargs):
        probe = os.open(folder.with_name(f".{folder.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
            fcntl.flock(probe, fcntl.LOCK_UN)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(probe)
        return real(folder, **kwargs)

    monkeypatch.setattr(output_dir, "check_replaceable", check_replaceable)
    assert output_dir.check_output_dir(out, kind="report") == out
    assert held == [True]
