"""``prognosis extract`` and ``prognosis phantom``: a typer sub-app the main CLI mounts.

Mount in :mod:`prognosis.cli` with one line (commands at top level)::

    from prognosis.imaging.cli import register
    

(or ``app.add_typer(imaging_app)`` to mount them unchanged under a group). Runs standalone as
``python -m prognosis.imaging.cli extract ...``. Exit codes follow prognosis.cli: 0 success,
1 the input is at fault, 2 the command line is wrong.

``extract`` exits 0 when some files were skipped: a bad file (not DICOM, cut short, a malformed
tag) is reported and skipped, and the tables of every other file are complete and valid. A
non-zero status would stop ``extract && run`` pipelines on every rerun for a file that no rerun
can fix; the skipped files are instead listed on stderr (the first ten and a count), in
``<stem>.failures.csv`` (file, tag, keyword, error, what pydicom said) and as ``n_failed`` in
``<stem>.provenance.json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from prognosis._yaml import parse_yaml, read_yaml
from prognosis.errors import PrognosisError, SpecError

app = typer.Typer(add_completion=False, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Calcification extraction from mammograms, and synthetic phantoms.")

EXIT_INPUT_ERROR = 1
EXTRACT_EXAMPLE = "Example: prognosis extract dicoms/ --out imaging.csv --tumour-side data/clinical.csv"
PHANTOM_EXAMPLE = "Example: prognosis phantom --out build/phantoms --n 20 --seed 1"
_SHOWN_FAILURES = 10      # skipped files listed on the terminal; all of them are in <stem>.failures.csv


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.INFO if verbose else logging.WARNING)
    # distributed sets its own loggers' levels from dask's config when it is imported (later, and
    # only if a cluster is used): tell that config too, or every worker start and stop is printed
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "warning")


_PROGRESS_LINE_EVERY = 100    # images between two progress lines when stderr is not a terminal (make, CI logs)


@contextmanager
def _progress_reporter(description: str, show: Optional[bool]) -> Iterator[Optional[Callable[[int, int], None]]]:
    """An ``on_progress(done, total)`` callback: a rich bar, progress lines, or None (``show=False``).

    ``show=None`` (the default of ``--progress/--no-progress``) draws the bar on a terminal and
    writes a line every ``_PROGRESS_LINE_EVERY`` images otherwise, so that a long run in a log
    still says it is alive; ``True`` forces the bar, ``False`` turns both off.
    """
    if show is False:
        yield None
        return
    if show or sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
            task = bar.add_task(description, total=None)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return

    def line(done: int, total: int) -> None:
        if done and (done % _PROGRESS_LINE_EVERY == 0 or (done == total and total >= _PROGRESS_LINE_EVERY)):
            typer.echo(f"{description}: {done}/{total} images", err=True)

    yield line


def _load_overrides(params: Optional[Path], sets: list[str]) -> dict:
    overrides: dict = {}
    if params is not None:
        loaded = read_yaml(params, error=SpecError, what="extraction parameters") or {}
        if not isinstance(loaded, dict):
            raise typer.BadParameter(f"{params}: expected a mapping of parameter names to values")
        overrides.update(loaded)
    for item in sets:
        if "=" not in item:
            raise typer.BadParameter(f"--set {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        overrides[name.strip()] = parse_yaml(value, error=SpecError, source=f"--set {name.strip()}")
    return overrides


def extract(
    dicom_dir: Path = typer.Argument(..., metavar="DICOM_DIR", help="Folder of MG DICOM files (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="The imaging table, .parquet or .csv: one row per breast, or per patient with --tumour-side or --per-patient worst."),
    overlays: Optional[Path] = typer.Option(None, "--overlays", help="Write a quality-review PNG per image here."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Start a local Dask cluster with N workers."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler."),
    memory_limit: str = typer.Option("1.5GB", "--memory-limit", help="Memory limit per local Dask worker."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="Per-image results (default <out>.work); rerun to resume."),
    params: Optional[Path] = typer.Option(None, "--params", help="YAML mapping of extraction parameters to override."),
    set_: list[str] = typer.Option([], "--set", help="Override one parameter, e.g. --set seed_cnr=5 (repeatable)."),
    per_patient: str = typer.Option(
        "all", "--per-patient",
        help="all: one row per breast; tumour: the breast on the tumour's side (needs --tumour-side); "
             "worst: each patient's most suspicious breast."),
    tumour_side: Optional[Path] = typer.Option(
        None, "--tumour-side", help="Table (CSV, Parquet, Excel...) with patient_id and the tumour's side (L/R)."),
    side_column: str = typer.Option("laterality", "--side-column", help="Column of --tumour-side holding L/R."),
    progress: Optional[bool] = typer.Option(
        None, "--progress/--no-progress",
        help=f"Progress bar (default: a bar on a terminal, else a line every {_PROGRESS_LINE_EVERY} images)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
) -> None:
    """Extract calcification class, counts, extent and focality per breast from a DICOM folder."""
    from prognosis.imaging.batch import run_batch
    from prognosis.imaging.params import parameters_from
    from prognosis.imaging.per_patient import RULES, read_tumour_side

    _setup_logging(verbose)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter("--out must end in .parquet or .csv")
    if per_patient not in RULES:
        raise typer.BadParameter(f"--per-patient must be one of {', '.join(RULES)}")
    if tumour_side is not None and per_patient == "worst":
        raise typer.BadParameter("--tumour-side picks the tumour's breast; it cannot go with --per-patient worst")
    if tumour_side is not None and per_patient == "all":
        per_patient = "tumour"          # a side table given means: use it
    if per_patient == "tumour" and tumour_side is None:
        raise typer.BadParameter("--per-patient tumour needs --tumour-side TABLE (patient_id and L/R per patient)")
    try:
        parameters = parameters_from(_load_overrides(params, set_))
        sides = read_tumour_side(tumour_side, column=side_column) if tumour_side is not None else None
        with _progress_reporter("extracting", progress) as on_progress:
            result = run_batch(dicom_dir, out, params=parameters, work_dir=work_dir, workers=workers,
                               scheduler=scheduler, memory_limit=memory_limit, overlay_dir=overlays,
                               per_patient=per_patient, tumour_side=sides, on_progress=on_progress)
    except PrognosisError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT_ERROR)
    except OSError as exc:   # last resort: the output checks name their paths, but never a traceback
        _fail_os(exc)
    failed = result.images[result.images["status"] != "ok"] if len(result.images) else result.images
    for _, row in failed.head(_SHOWN_FAILURES).iterrows():
        typer.echo(f"skipped: {row['file']}: {row['error']}", err=True)
    if len(failed):
        # exit status 0 all the same: the tables are complete for every other file, and a rerun
        # would skip the same files again (see the module docstring)
        more = len(failed) - _SHOWN_FAILURES
        typer.echo(f"{len(failed)} file(s) skipped{f' ({more} not shown)' if more > 0 else ''}; file, tag and "
                   f"error of each in {result.outputs.get('failures', 'the failures table')}", err=True)
    selection = result.selection
    typer.echo(f"{result.n_files} files: {result.n_ok} extracted, {result.n_failed} skipped"
               f"{f', {result.n_resumed} resumed' if result.n_resumed else ''}; {len(result.breast_details)} breasts")
    if selection.rule != "all":
        typer.echo(f"per patient ({selection.rule}): {len(result.breasts)} rows, {selection.n_breasts_left_out} "
                   f"breast(s) left out (still in breasts_detail)")
    if selection.patients_without_image:
        shown = ", ".join(selection.patients_without_image[:10])
        more = len(selection.patients_without_image) - 10
        typer.echo(f"warning: {len(selection.patients_without_image)} patient(s) of {tumour_side} have no image of "
                   f"the tumour's side: {shown}{f' and {more} more' if more > 0 else ''}", err=True)
    for path in result.outputs.values():
        typer.echo(f"wrote {path}")


PHANTOM_KIND = "phantoms"
_PHANTOM_TABLES = {"truth_breasts.csv", "truth_images.csv", "truth_calcifications.csv", "tumour_side.csv"}


def _phantom_file(name: str) -> bool:
    return "/" not in name and (name.endswith(".dcm") or name in _PHANTOM_TABLES)


def _only_phantom_files(folder: Path) -> bool:
    """An unstamped folder of an earlier ``prognosis phantom``: its DICOMs and tables only."""
    return all(entry.is_file() and _phantom_file(entry.name) for entry in folder.iterdir())


def _fail_os(exc: OSError) -> None:
    from prognosis._paths import explain_os_error

    typer.echo(f"error: {exc.filename or 'a file'}: {explain_os_error(exc)}", err=True)
    raise typer.Exit(EXIT_INPUT_ERROR)


def phantom(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the DICOM files and truth tables."),
    n: int = typer.Option(10, "--n", min=1, help="Number of breasts (two views each)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
    full_field: bool = typer.Option(False, "--full-field", help="About 4096 x 3328 pixels instead of a small 64 x 51 mm field."),
    like: Optional[Path] = typer.Option(
        None, "--like", help="Render the first N patients of this table (patient_id, laterality, "
                             "calcification_class), e.g. a cohort's imaging table."),
    both_breasts: bool = typer.Option(False, "--both-breasts", help="Also render each patient's tumour-free breast."),
    family: str = typer.Option("native", "--family", help="Renderer: native (default), selenium, csi or plate "
                                                          "(prognosis.simulate.families; plate is held out of tuning)."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Render on a local Dask cluster with N workers (each patient then has "
                                       "its own random stream: the same files for any N, not those of a run without --workers)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler."),
    progress: Optional[bool] = typer.Option(
        None, "--progress/--no-progress",
        help=f"Progress bar (default: a bar on a terminal, else a line every {_PROGRESS_LINE_EVERY} images)."),
) -> None:
    """Write synthetic MG DICOM phantoms (CC and MLO per breast) with a ground-truth table."""
    from prognosis.cohort.readers import read_raw
    from prognosis.simulate.phantom import simulate_phantoms

    from prognosis.output_dir import check_replaceable, os_errors, output_path, write_stamp

    _setup_logging(False)
    try:
        patients = read_raw(like) if like is not None else None
        # the phantoms overwrite files of their names: only in a folder of phantoms (stamped, or
        # holding nothing else), never among a user's files
        folder = output_path(out)
        check_replaceable(folder, kind=PHANTOM_KIND, legacy=_only_phantom_files, ours=_phantom_file)
        with _progress_reporter("rendering phantoms", progress) as on_progress:
            if family == "native":
                truth = simulate_phantoms(folder, n=n, seed=seed, full_field=full_field, patients=patients,
                                          contralateral=both_breasts, on_progress=on_progress, workers=workers,
                                          scheduler=scheduler)
            else:
                if workers is not None or scheduler is not None:
                    raise typer.BadParameter("--workers and --scheduler render with the native family only")
                truth = _simulate_family(family, folder, n=n, seed=seed, full_field=full_field, like=like,
                                         both_breasts=both_breasts)
        with os_errors(folder):
            write_stamp(folder, PHANTOM_KIND)
    except (PrognosisError, ValueError) as exc:
        typer.echo(f"error: {like}: {exc}" if isinstance(exc, ValueError) else f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT_ERROR)
    except OSError as exc:
        _fail_os(exc)
    typer.echo(f"wrote {2 * len(truth)} DICOM files and truth_breasts.csv, truth_images.csv, "
               f"truth_calcifications.csv to {out}")
    typer.echo(json.dumps(truth["calcification_class"].value_counts().to_dict()))


def _simulate_family(name: str, folder: Path, *, n: int, seed: int, full_field: bool, like, both_breasts: bool):
    """``phantom --family NAME`` other than native: the families render their own class mix."""
    from prognosis.simulate.families import get_family
    from prognosis.simulate.phantom import FULL_FIELD_MM, SMALL_FIELD_MM

    if like is not None or both_breasts:
        raise typer.BadParameter("--like and --both-breasts render with the native family only")
    try:
        chosen = get_family(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return chosen.simulate(folder, n=n, seed=seed, field_mm=FULL_FIELD_MM if full_field else SMALL_FIELD_MM)


def register(parent: typer.Typer) -> None:
    """Add ``extract`` and ``phantom`` as top-level commands of ``parent``."""
    from prognosis._cli_command import HelpCommand

    parent.command("extract", cls=HelpCommand, epilog=EXTRACT_EXAMPLE)(extract)
    parent.command("phantom", cls=HelpCommand, epilog=PHANTOM_EXAMPLE)(phantom)


register(app)   # standalone: python -m prognosis.imaging.cli extract ...

if __name__ == "__main__":
    app()
