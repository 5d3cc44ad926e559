"""Turn the ways the file system refuses a path into sentences a user can act on."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

from prognosis.errors import PrognosisError

SYMLINK_LOOP = "a symbolic link in this path points back into itself (symlink loop); fix or remove the link"

_ADVICE = {
    errno.ELOOP: SYMLINK_LOOP,
    errno.EACCES: "permission denied; choose a folder you may write to, or change its permissions",
    errno.EPERM: "operation not permitted; choose a folder you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
    errno.ENOSPC: "no space left on the device; free some space or choose a folder on another disk",
    errno.EDQUOT: "disk quota exceeded; free some space or choose a folder on another disk",
    errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter path",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
}


def explain_os_error(exc: OSError) -> str:
    """What went wrong and what to do, for an ``OSError`` raised while reading or writing."""
    advice = _ADVICE.get(exc.errno) if exc.errno is not None else None
    return advice or (exc.strerror or str(exc))


def resolve(path: str | Path, *, error: Callable[[str], PrognosisError], what: str) -> Path:
    """``Path(path).expanduser().resolve()``, with a symlink loop raised as ``error(message)``.

    Parameters
    ----------
    path : str or Path
    error : callable
        Makes the named error from a message (e.g. ``SpecError``).
    what : str
        How the message names the path, e.g. ``"analysis spec"``.

    Raises
    ------
    PrognosisError
        Whatever ``error`` returns, naming ``what`` and ``path``.
    """
    try:
        return Path(path).expanduser().resolve()
    except RuntimeError:   # Python < 3.13 reports a loop as RuntimeError("Symlink loop from ...")
        raise error(f"{what} {path}: {SYMLINK_LOOP}") from None
    except OSError as exc:
        raise error(f"{what} {path}: {explain_os_error(exc)}") from None
