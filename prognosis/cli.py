"""Command line: parse arguments, call the library, turn errors into messages and exit codes.

Exit codes: 0 success; 1 the input is at fault (spec, dictionary, data, or a model that cannot
be fitted on it); 2 the command line itself is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from prognosis import __version__
from prognosis.errors import PrognosisError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Prognostic cohort studies around mammographic calcifications.")

EXIT_INPUT_ERROR = 1


def _fail(exc: PrognosisError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(EXIT_INPUT_ERROR)


def _fail_os(exc: OSError) -> None:
    from prognosis._paths import explain_os_error

    typer.echo(f"error: {exc.filename or 'a file'}: {explain_os_error(exc)}", err=True)
    raise typer.Exit(EXIT_INPUT_ERROR)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prognosis {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """prognosis: from validated tables to a survival report."""


@app.command()
def run(
    spec: Path = typer.Argument(..., help="Analysis spec (YAML), e.g. analyses/demo.yaml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: reports/<spec name>/)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    progress: bool = typer.Option(True, "--progress/--no-progress",
                                  help="Progress bar for long steps (shown only on a terminal)."),
) -> None:
    """Run an analysis: validate tables, build the cohort, fit KM and Cox, write the report."""
    from prognosis.analysis.pipeline import run as run_analysis
    from prognosis.report import write_report
    from prognosis.report.write import check_report_dir
    from prognosis.spec import load_spec

    _setup_logging(verbose)
    if not verbose:   # the pipeline's warnings are echoed below, once, from result.warnings
        logging.getLogger("prognosis.analysis.pipeline").setLevel(logging.ERROR)
        logging.getLogger("prognosis.analysis.sections").setLevel(logging.ERROR)  # likewise result.not_computed
    try:
        analysis = load_spec(spec)
        # the spec, tables and dictionaries, whose folders the report folder must not be or hold
        inputs = [("the spec", spec), *((f"table {t.name}", t.path) for t in analysis.tables),
                  *((f"the dictionary of {t.name}", t.dictionary) for t in analysis.tables)]
        target = check_report_dir(out or Path("reports") / analysis.name, inputs=inputs)  # before the work
        result = run_analysis(analysis, progress=None if progress else False)
        out_dir = write_report(result, target, description=analysis.description, inputs=inputs)
    except PrognosisError as exc:
        _fail(exc)
    except OSError as exc:   # last resort: the library names its files, but never a traceback
        _fail_os(exc)
    for note in result.warnings:
        typer.echo(f"warning: {note}", err=True)
    for skipped in result.not_computed:
        typer.echo(f"not computed: {skipped.section}: {skipped.reason}", err=True)
    typer.echo(f"{result.n} patients, {result.events} events analysed")
    typer.echo(f"wrote {out_dir / 'report.html'}")
    typer.echo(f"wrote {out_dir / 'results.json'}")


@app.command()
def validate(
    table: Path = typer.Argument(..., help="Table to check (.csv, .tsv, .parquet, .xlsx, .dta, .sas7bdat)."),
    dictionary: Path = typer.Option(..., "--dictionary", "-d", help="Its data dictionary (YAML)."),
) -> None:
    """Check one table against its data dictionary and list every violation."""
    from prognosis.cohort import read_table

    _setup_logging(False)
    try:
        checked = read_table(table.stem, table, dictionary)
    except PrognosisError as exc:
        _fail(exc)
    typer.echo(f"{table}: {checked.n_rows} rows, {checked.data.shape[1]} columns, no problem found")


def _mount_imaging() -> None:
    # `prognosis extract` and `prognosis phantom` live with the imaging code.
    from prognosis.imaging.cli import register

    register(app)


_mount_imaging()


if __name__ == "__main__":  # pragma: no cover
    app()
