"""Output folders prognosis may replace, and the swap that replaces them.

An output folder (a report, an extraction's work folder, the overlays) carries a stamp,
:data:`MARKER`, listing the files prognosis wrote into it. ``--out`` may replace only an absent
folder, an empty one, or one whose stamp lists every file in it; anything else is an
:class:`~prognosis.errors.OutputError` saying what to do. Nor may it be, or contain, the current
folder or a folder of the inputs.

The swap (:func:`install`) runs under a lock file beside the folder, so concurrent runs on one
``--out`` take turns. On Linux it is one ``renameat2(RENAME_EXCHANGE)`` call, so at every instant
the old or the new complete folder is in place. Elsewhere it is two renames (old aside, new in);
a run killed between them leaves the old folder under a hidden ``.NAME.old-PID-*`` name, and the
next run (:func:`recover`) moves it back before anything else. Staging folders of dead processes
are removed by the next run.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from prognosis import __version__
from prognosis._paths import explain_os_error, resolve
from prognosis.errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs on one --out are not serialised
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

MARKER = ".prognosis-output"
# .NAME.tmp-PID-XXXX (staging) and .NAME.old-PID-XXXX (an old folder moved aside); the
# token is absent in the names of prognosis <= 0.x (.NAME.old-PID)
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<tag>tmp|old)-(?P<pid>\d+)(?:-.*)?$")

Legacy = Callable[[Path], bool]


def _output_error(exc: OSError, path: Path | str) -> OutputError:
    where = exc.filename if exc.filename is not None else path
    return OutputError(f"cannot write {where}: {explain_os_error(exc)}", path=str(where))


@contextmanager
def os_errors(path: Path | str) -> Iterator[None]:
    """Raise an ``OSError`` inside the block as an :class:`OutputError` naming the file."""
    try:
        yield
    except OSError as exc:
        raise _output_error(exc, path) from None


def output_path(path: str | Path, *, what: str = "--out") -> Path:
    """The absolute path of an output, with a symlink loop in it raised as an :class:`OutputError`."""
    return resolve(path, error=lambda message: OutputError(message, path=str(path)), what=what)


# --- the stamp ---------------------------------------------------------------------------------

def _entries(folder: Path) -> list[str]:
    """Every file, link and folder under ``folder`` (not following links), relative, '/'-joined."""
    found = []
    for root, dirs, files in os.walk(folder, onerror=_raise):
        base = Path(root).relative_to(folder)
        found += [(base / name).as_posix() for name in (*dirs, *files)]
    return found


def _raise(exc: OSError) -> None:
    raise exc


def write_stamp(folder: Path, kind: str, *, list_files: bool = True) -> None:
    """Write :data:`MARKER` into ``folder``, listing every file now in it (call it last).

    ``list_files=False`` for a folder whose files are recognised by name instead (see ``ours`` in
    :func:`foreign_files`), such as a work folder of many thousand files.
    """
    files = sorted(e for e in _entries(folder) if (folder / e).is_file() and e != MARKER) if list_files else []
    stamp = {"written_by": "prognosis", "prognosis_version": __version__, "kind": kind,
             "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "files": files}
    (folder / MARKER).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")


def read_stamp(folder: Path) -> dict | None:
    """The stamp of ``folder``, or ``None`` if it has none (or one prognosis did not write)."""
    try:
        stamp = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("written_by") != "prognosis":
        return None
    if not isinstance(stamp.get("files"), list):
        return None
    return stamp


# --- may this folder be replaced? ----------------------------------------------------------------

def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def foreign_files(folder: Path, *, kind: str, legacy: Legacy | None = None,
                  ours: Callable[[str], bool] | None = None) -> list[str]:
    """What in ``folder`` prognosis did not write (as ``kind``); empty if it may be replaced.

    ``ours`` names further entries of a stamped folder as prognosis's own (a work folder gains
    files after it was stamped, and a killed run cannot stamp them).
    """
    if not folder.exists() and not folder.is_symlink():
        return []
    if not folder.is_dir():
        return [folder.name]
    entries = _entries(folder)
    if not entries:
        return []
    stamp = read_stamp(folder)
    if stamp is None or stamp.get("kind") != kind:
        if stamp is None and legacy is not None and legacy(folder):
            return []
        return sorted(e for e in entries if "/" not in e)
    allowed = {MARKER}
    for file in stamp["files"]:
        parts = file.split("/")
        allowed.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(e for e in entries if e not in allowed and not (ours is not None and ours(e)))


def check_replaceable(folder: Path, *, kind: str, legacy: Legacy | None = None,
                      ours: Callable[[str], bool] | None = None, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``folder`` is absent, empty, or wholly prognosis's own.

    Parameters
    ----------
    folder : Path
        Absolute path of the output folder.
    kind : str
        What prognosis writes there (``"report"``, ``"extract-work"``, ``"overlays"``); a folder
        stamped as another kind is not replaced either.
    legacy : callable, optional
        Recognises an unstamped folder written by an earlier prognosis (nothing else in it).
    ours : callable, optional
        See :func:`foreign_files`.
    option : str
        How the message names the path's option.
    """
    with os_errors(folder):
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{option} {folder} is a file, not a folder: choose a folder name that is not taken",
                              path=str(folder))
        foreign = foreign_files(folder, kind=kind, legacy=legacy, ours=ours)
    if not foreign:
        return
    stamp = read_stamp(folder)
    if stamp is not None and stamp.get("kind") == kind:
        raise OutputError(f"{option} {folder} holds files prognosis did not write ({_listing(foreign)}), which it could "
                          f"delete or overwrite: move them out of it, or choose another folder", path=str(folder))
    raise OutputError(f"{option} {folder} is not empty and was not written by prognosis ({_listing(foreign)}): "
                      f"prognosis replaces only folders it wrote itself (they carry a {MARKER} file). Choose a new "
                      f"or empty folder", path=str(folder))


def check_not_containing(folder: Path, protected: Iterable[tuple[str, Path]], *, option: str = "--out") -> None:
    """Raise :class:`OutputError` if ``folder`` is, or contains, one of the ``(what, path)`` folders."""
    for what, path in protected:
        if path == folder or folder in path.parents:
            raise OutputError(f"{option} {folder} {'is' if path == folder else 'contains'} {what} ({path}); the output "
                              f"folder is replaced as a whole, so it must not hold inputs: choose a folder outside it",
                              path=str(folder))


def protected_folders(inputs: Iterable[tuple[str, str | Path]] = ()) -> list[tuple[str, Path]]:
    """The current folder and, for each ``(what, path)`` input, its folder (or itself if a folder)."""
    found = [("the current folder", Path.cwd().resolve())]
    for what, path in inputs:
        try:
            path = Path(path).resolve()
            found.append((what, path) if path.is_dir() else (f"the folder of {what}", path.parent))
        except (OSError, RuntimeError):   # an input with a symlink loop is refused where it is read
            continue
    return found


def check_output_dir(path: str | Path, *, kind: str, legacy: Legacy | None = None,
                     inputs: Iterable[tuple[str, str | Path]] = (), option: str = "--out") -> Path:
    """The absolute output folder, once it is known that prognosis may replace it.

    Recovers a swap a killed run left half done and removes dead runs' staging folders first,
    then applies :func:`check_not_containing` (the current folder and the inputs' folders) and
    :func:`check_replaceable`.

    Raises
    ------
    OutputError
    """
    folder = output_path(path, what=option)
    check_not_containing(folder, protected_folders(inputs), option=option)
    if not folder.parent.is_dir():
        check_replaceable(folder, kind=kind, legacy=legacy, option=option)
        return folder
    # under the lock: a concurrent run's two-rename swap leaves the folder missing for a moment,
    # and a check that fell in that gap would refuse a folder that is wholly prognosis's
    with os_errors(folder), locked(folder):
        recover(folder)
        check_replaceable(folder, kind=kind, legacy=legacy, option=option)
    return folder


# --- staging, lock, swap, recovery -----------------------------------------------------------------

def make_staging(out_dir: Path) -> Path:
    """A new hidden staging folder beside ``out_dir``, named with this process' id."""
    with os_errors(out_dir.parent):
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; an output folder should not be
    return staging


def alive(pid: int) -> bool:
    """Whether process ``pid`` is running (this process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, another user's
        return True
    return True


def _leftovers(out_dir: Path) -> Iterator[tuple[str, Path]]:
    """``(tag, path)`` of the staging and moved-aside folders of ``out_dir`` whose process is gone."""
    for entry in out_dir.parent.iterdir():
        match = _STAGING.match(entry.name)
        if match and match["name"] == out_dir.name and entry.is_dir() and not entry.is_symlink() \
                and not alive(int(match["pid"])):
            yield match["tag"], entry


def recover(out_dir: Path) -> None:
    """Put back an old folder a killed swap left aside; remove dead runs' staging folders.

    Call under :func:`locked`. If ``out_dir`` is missing and an old copy was moved aside by a run
    that died before renaming its new folder in, the old copy is renamed back first.
    """
    if not out_dir.parent.is_dir():
        return
    left = sorted(_leftovers(out_dir), key=lambda item: item[1].stat().st_mtime, reverse=True)
    olds = [path for tag, path in left if tag == "old"]
    if olds and not out_dir.exists():
        os.rename(olds[0], out_dir)
        logger.warning("restored %s from %s (a run was killed while replacing it)", out_dir, olds[0].name)
        left = [(tag, path) for tag, path in left if path != olds[0]]
    for _, path in left:
        shutil.rmtree(path, ignore_errors=True)
        logger.info("removed %s, left by a run that was killed", path)


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` (a ``.NAME.lock`` file beside it, removed on release)."""
    lock = out_dir.with_name(f".{out_dir.name}.lock")
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:   # name the folder, not our lock file in it
            raise _output_error(exc, out_dir.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                # the holder before us removes the file as it releases it: if the name is gone or
                # is a new file, our lock guards nothing, so take the new one
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); ``False`` where that is not available."""
    global _renameat2
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        try:
            function = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):   # glibc < 2.28, musl
            _renameat2 = False
            return False
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
        _renameat2 = function
    if _renameat2 is False:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):   # kernel or file system lacks it
        return False
    raise OSError(code, os.strerror(code), str(b))


def install(staging: Path, out_dir: Path, *, kind: str, legacy: Legacy | None = None) -> None:
    """Move the complete ``staging`` folder to ``out_dir``, replacing an older output of ``kind``.

    Under the lock: recover a killed swap, check ``out_dir`` again (another run or the user may
    have changed it since the run began), then exchange. ``staging`` is gone afterwards.

    Raises
    ------
    OutputError
        ``out_dir`` holds files prognosis did not write, or the system refused a rename.
    """
    with os_errors(out_dir), locked(out_dir):
        recover(out_dir)
        check_replaceable(out_dir, kind=kind, legacy=legacy)
        if not out_dir.exists():
            os.rename(staging, out_dir)
            return
        if _exchange(staging, out_dir):
            shutil.rmtree(staging, ignore_errors=True)   # it now holds the old folder
            return
        aside = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(out_dir, aside)
        try:
            os.rename(staging, out_dir)
        except BaseException:
            os.rename(aside, out_dir)
            raise
        shutil.rmtree(aside, ignore_errors=True)
