"""The files ``prognosis extract --out TABLE`` writes, and whether it may replace them.

``--out imaging.csv`` writes ``imaging.csv`` and, beside it, ``imaging.breasts_detail.csv``,
``imaging.images.csv``, ``imaging.clusters.csv``, ``imaging.calcifications.csv`` and
``imaging.provenance.json`` (and ``imaging.failures.csv``, the files skipped); per-image results go to the work folder (``imaging.csv.work/``)
and overlays to ``--overlays DIR``. None of them may replace a user's file:

* a table is replaced only if prognosis wrote it: the provenance sidecar lists each table with
  its SHA-256 (``outputs``), and the ones it replaced (``replaces``), so a table a user edited or
  a user's own ``clinical.csv`` is a named error, and a run killed between renames is still
  recognised; the sidecar of an earlier prognosis (no ``outputs``) is trusted as it is;
* the work folder and the overlays folder carry a ``.prognosis-output`` stamp
  (:mod:`prognosis.output_dir`); an unstamped non-empty folder is refused, except a work folder
  that holds nothing but work files (written by an earlier prognosis).

Tables are written to hidden temporary names first and renamed into place, the sidecar first,
under a lock beside ``--out``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prognosis._csv import write_csv
from prognosis.errors import OutputError
from prognosis.output_dir import alive, check_replaceable, locked, os_errors, output_path, write_stamp

WORK_KIND = "extract-work"
OVERLAYS_KIND = "overlays"
TABLES = ("breasts", "breasts_detail", "images", "clusters", "calcifications", "failures")
_WORK_FILE = re.compile(r"^(\.tmp-.*|[0-9a-f]{20}\.(image|clusters|calcifications)\.parquet)$")


def output_files(out: Path) -> dict[str, Path]:
    """Every table (:data:`TABLES`) and the ``provenance`` sidecar that ``--out`` names."""
    ext = ".csv" if out.suffix.lower() == ".csv" else ".parquet"
    stem = out.with_suffix("")
    files = {"breasts": out}
    # the failures table is read by people: always CSV
    files.update({name: Path(f"{stem}.{name}{'.csv' if name == 'failures' else ext}") for name in TABLES[1:]})
    files["provenance"] = Path(f"{stem}.provenance.json")
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class OutputPlan:
    """Where an extraction writes, checked: every file there now is prognosis's own.

    ``current`` maps each table already in place to its SHA-256, recorded as ``replaces`` in the
    new sidecar.
    """

    out: Path
    files: dict[str, Path]
    work_dir: Path
    overlay_dir: Path | None
    current: dict[str, str]


def _written_by_us(files: dict[str, Path]) -> dict[str, str]:
    """SHA-256 of each existing table, once known to be prognosis's; else an :class:`OutputError`."""
    sidecar = files["provenance"]
    provenance = None
    if sidecar.exists():
        try:
            provenance = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            provenance = None
        if not isinstance(provenance, dict) or "prognosis_version" not in provenance or "parameters" not in provenance:
            raise OutputError(f"--out: {sidecar} exists and was not written by prognosis; it would be replaced. "
                              f"Choose another --out name", path=str(sidecar))
    current, foreign = {}, []
    for name in TABLES:
        path = files[name]
        if not path.exists() and not path.is_symlink():
            continue
        if not path.is_file():
            raise OutputError(f"--out: {path} exists and is not a file; choose another --out name", path=str(path))
        digest = sha256_file(path)
        current[name] = digest
        if provenance is None:
            foreign.append(path)
            continue
        listed = provenance.get("outputs")
        if listed is None:           # a sidecar of an earlier prognosis: its tables were not hashed
            continue
        known = {(listed.get(name) or {}).get("sha256"), (provenance.get("replaces") or {}).get(name)}
        if digest not in known:
            foreign.append(path)
    if foreign:
        names = ", ".join(str(p) for p in foreign)
        why = ("prognosis did not write it (no sidecar " + sidecar.name + " beside it)" if provenance is None
               else "it was changed since prognosis wrote it (its SHA-256 is not the one " + sidecar.name + " records)")
        raise OutputError(f"--out would replace {names}, but {why}. Choose another --out name, or move the file "
                          f"away", path=str(foreign[0]))
    return current


def _clean_stale(files: dict[str, Path]) -> None:
    """Remove temporary tables a killed run left beside ``--out`` (``.NAME.tmp-PID-*``)."""
    names = {path.name for path in files.values()}
    folder = files["breasts"].parent
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        match = re.match(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+$", entry.name)
        if match and match["name"] in names and entry.is_file() and not alive(int(match["pid"])):
            entry.unlink()


def check_extract_outputs(out: str | Path, *, work_dir: str | Path | None = None,
                          overlay_dir: str | Path | None = None, dicom_files: list[str] = ()) -> OutputPlan:
    """Check every path an extraction will write, before it starts; create the folders.

    Parameters
    ----------
    out : str or Path
        The per-breast table (``.csv`` or ``.parquet``).
    work_dir, overlay_dir : str or Path, optional
        The work folder (default ``<out>.work``) and the overlays folder.
    dicom_files : list of str
        The images of this run (relative paths), whose overlays an unfinished run may have left.

    Returns
    -------
    OutputPlan

    Raises
    ------
    OutputError
        A table, the sidecar, the work folder or the overlays folder holds a user's file.
    """
    out = output_path(out)
    files = output_files(out)
    work = output_path(work_dir, what="--work-dir") if work_dir is not None else out.with_name(out.name + ".work")
    overlays = output_path(overlay_dir, what="--overlays") if overlay_dir is not None else None
    with os_errors(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
        with locked(out):
            _clean_stale(files)
            current = _written_by_us(files)
    check_replaceable(work, kind=WORK_KIND, legacy=_is_legacy_work, ours=_WORK_FILE.match, option="--work-dir")
    if overlays is not None:
        from prognosis.imaging.overlay import overlay_name   # with the drawing code: skimage loads on use

        names = {overlay_name(f) for f in dicom_files}
        check_replaceable(overlays, kind=OVERLAYS_KIND, option="--overlays",
                          ours=lambda e: e in names or (e.startswith(".tmp-") and e[5:] in names))
    with os_errors(work):
        work.mkdir(parents=True, exist_ok=True)
        write_stamp(work, WORK_KIND, list_files=False)   # its files are known by name
        if overlays is not None:
            overlays.mkdir(parents=True, exist_ok=True)
            write_stamp(overlays, OVERLAYS_KIND)
    return OutputPlan(out, files, work, overlays, current)


def remove_stale_work_files(work: Path) -> None:
    """Remove the half-written ``.tmp-PID-*`` files of dead processes from a work folder.

    A name without a process id was left by an earlier prognosis (which stopped long ago).
    """
    for entry in work.glob(".tmp-*"):
        match = re.match(r"^\.tmp-(\d+)-", entry.name)
        if entry.is_file() and (match is None or not alive(int(match[1]))):
            entry.unlink()


def _is_legacy_work(folder: Path) -> bool:
    return all(_WORK_FILE.match(entry.name) and entry.is_file() for entry in folder.iterdir())


def finish_folders(plan: OutputPlan) -> None:
    """Stamp the work and overlays folders again, now listing the files this run added."""
    with os_errors(plan.work_dir):
        write_stamp(plan.work_dir, WORK_KIND, list_files=False)
        if plan.overlay_dir is not None:
            write_stamp(plan.overlay_dir, OVERLAYS_KIND)


def _write_one(frame: pd.DataFrame, path: Path) -> tuple[Path, str]:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    if path.suffix.lower() == ".csv":
        write_csv(frame, tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    return tmp, sha256_file(tmp)


def write_outputs(plan: OutputPlan, tables: dict[str, pd.DataFrame], provenance: dict) -> dict[str, Path]:
    """Write the tables and the sidecar (``provenance`` plus ``outputs`` and ``replaces``).

    Under the lock the tables are checked again (a concurrent run may have written them), each
    is written to a hidden temporary name, then the sidecar is renamed into place first, then the
    tables: a run killed at any point leaves only files the sidecar recognises.

    Returns
    -------
    dict of str to Path
        Each table's path and ``provenance``.
    """
    files = plan.files
    staged: list[tuple[Path, Path]] = []
    with os_errors(plan.out), locked(plan.out):
        try:
            current = _written_by_us(files)
            outputs = {}
            for name in TABLES:
                tmp, digest = _write_one(tables[name], files[name])
                staged.append((tmp, files[name]))
                outputs[name] = {"file": files[name].name, "sha256": digest}
            sidecar = {**provenance, "outputs": outputs, "replaces": current}
            tmp = files["provenance"].with_name(f".{files['provenance'].name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
            staged.insert(0, (tmp, files["provenance"]))
            tmp.write_text(json.dumps(sidecar, indent=2, default=str), encoding="utf-8")
            for tmp, path in staged:   # the sidecar first
                os.replace(tmp, path)
        finally:
            for tmp, _ in staged:
                if os.path.exists(tmp):
                    os.remove(tmp)
    finish_folders(plan)
    return dict(files)
