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
from prognosis._cli_command import CONTEXT_SETTINGS, HelpCommand, HelpGroup
from prognosis.errors import DataValidationError, PrognosisError

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=HelpGroup, context_settings=CONTEXT_SETTINGS,
                  help="Prognostic cohort studies around mammographic calcifications.",
                  epilog="Example: prognosis run analyses/demo.yaml --out reports/demo")
dictionary_app = typer.Typer(add_completion=False, no_args_is_help=True, cls=HelpGroup,
                             help="Data dictionaries: draft one from a table.",
                             epilog="Example: prognosis dictionary draft data/clinical.csv --out clinical.yaml")
app.add_typer(dictionary_app, name="dictionary")

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


@app.command(cls=HelpCommand, epilog="Example: prognosis run analyses/demo.yaml --out reports/demo")
def run(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Analysis spec (YAML), e.g. analyses/demo.yaml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: reports/<spec name>/)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", show_default=False,
                                            help="A line on stderr as each stage starts, and bars for long "
                                                 "steps (default: on a terminal only; bars always need one)."),
) -> None:
    """Run an analysis: validate tables, build the cohort, fit KM and Cox, write the report."""
    import sys

    # Stage lines go to stderr, so stdout's "wrote ..." lines stay the same; printed before the
    # heavy imports below so the first appears at once.
    show_stages = progress if progress is not None else sys.stderr.isatty()

    def stage(description: str) -> None:
        if show_stages:
            typer.echo(f"{description} ...", err=True)

    stage(f"reading {spec}")
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
        result = run_analysis(analysis, progress=False if progress is False else None, on_stage=stage)
        stage("writing the report")
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


def _refuse_existing(paths: list[Path], force: bool, *, option: str = "--out") -> None:
    # a user's file is never replaced silently
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        listed = ", ".join(str(p) for p in existing)
        typer.echo(f"error: {listed} already exist{'s' if len(existing) == 1 else ''}; "
                   f"pass --force to replace, or choose another {option}", err=True)
        raise typer.Exit(EXIT_INPUT_ERROR)


#: Violations listed on the terminal by `prognosis validate` (all of them go to --report).
SHOWN_VIOLATIONS = 20


def _echo_violations(exc: DataValidationError, *, show: int, report: Optional[Path]) -> None:
    from prognosis.dictionary.report import summarise

    violations = exc.violations
    if len(violations) <= show:
        typer.echo(f"error: {exc}", err=True)
    else:
        n, files = len(violations), ", ".join(dict.fromkeys(Path(v.path).name for v in violations))
        typer.echo(f"error: {n} problems found in {files}. Per column and rule:", err=True)
        summary = summarise(violations)
        width = max(len("column"), *(len(c) for c in summary["column"]))
        for row in summary.itertuples(index=False):
            typer.echo(f"  {row.column:<{width}}  {row.count:>7}  {row.rule}", err=True)
        typer.echo(f"The first {show}:", err=True)
        for violation in violations[:show]:
            typer.echo(f"  {violation.message()}", err=True)
        hint = f"all {n} are in {report}" if report is not None else "--report violations.csv writes every one"
        typer.echo(f"  ... and {n - show} more ({hint})", err=True)
    if report is not None:
        typer.echo(f"wrote {report} ({len(violations)} violation{'s' if len(violations) != 1 else ''})", err=True)


@app.command(cls=HelpCommand, epilog="Example: prognosis validate data/clinical.csv -d data_dictionary/clinical.yaml "
                                     "--report violations.csv")
def validate(
    table: Path = typer.Argument(..., metavar="TABLE",
                                 help="Table to check (.csv, .tsv, .parquet, .xlsx, .dta, .sas7bdat)."),
    dictionary: Path = typer.Option(..., "--dictionary", "-d", help="Its data dictionary (YAML)."),
    report: Optional[Path] = typer.Option(None, "--report", "-r",
                                          help="Write every violation (file, row, column, rule, value) to this "
                                               ".csv or .xlsx; an existing file is replaced only with --force."),
    show: int = typer.Option(SHOWN_VIOLATIONS, "--show", min=0, help="Violations listed on the terminal."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --report file."),
) -> None:
    """Check one table against its data dictionary and list every violation."""
    from prognosis.cohort import read_table
    from prognosis.dictionary.report import REPORT_EXTENSIONS, write_violations

    _setup_logging(False)
    if report is not None and report.suffix.lower() not in REPORT_EXTENSIONS:
        raise typer.BadParameter(f"{report}: the report must end in {' or '.join(REPORT_EXTENSIONS)}",
                                 param_hint="--report")
    if report is not None:
        _refuse_existing([report], force, option="--report")
    try:
        checked = read_table(table.stem, table, dictionary)
    except DataValidationError as exc:
        try:
            if report is not None:
                write_violations(exc.violations, report)
        except PrognosisError as write_error:
            _fail(write_error)
        _echo_violations(exc, show=show, report=report)
        raise typer.Exit(EXIT_INPUT_ERROR)
    except PrognosisError as exc:
        _fail(exc)
    if report is not None:   # an empty report, so that a script reading it finds the file
        try:
            write_violations([], report)
        except PrognosisError as exc:
            _fail(exc)
    typer.echo(f"{table}: {checked.n_rows} rows, {checked.data.shape[1]} columns, no problem found")


def _draft(table: Path, name: str):
    from prognosis.cohort.readers import read_raw
    from prognosis.dictionary.draft import draft_table

    return draft_table(read_raw(table), table=name, source=table)


@dictionary_app.command("draft", cls=HelpCommand,
                        epilog="Example: prognosis dictionary draft data/clinical.csv --out data_dictionary/clinical.yaml")
def dictionary_draft(
    table: Path = typer.Argument(..., metavar="TABLE",
                                 help="Table to describe (.csv, .tsv, .parquet, .xlsx, .dta, .sas7bdat)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the draft here (default: print it)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
) -> None:
    """Draft a data dictionary from a table: types, levels, ranges, missing tokens, key.

    Lines marked ? need a decision (plausible limits, units, reference levels, the event).
    """
    from prognosis.dictionary.draft import draft_paths, render_dictionary

    _setup_logging(False)
    if out is not None:
        _refuse_existing([out], force)
    try:
        text = render_dictionary(_draft(table, draft_paths([table])[0]))
        if out is None:
            typer.echo(text, nl=False)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except PrognosisError as exc:
        _fail(exc)
    except OSError as exc:
        _fail_os(exc)
    typer.echo(f"wrote {out}")


@app.command(cls=HelpCommand, epilog="Example: prognosis init data/clinical.csv data/pathology.csv --out study")
def init(
    tables: list[Path] = typer.Argument(..., metavar="TABLE...", help="The study's tables, one row per patient."),
    out: Path = typer.Option(Path("."), "--out", "-o",
                             help="Folder for data_dictionary/<table>.yaml and analyses/<name>.yaml."),
    name: str = typer.Option("study", "--name", help="Name of the starter spec (analyses/<name>.yaml)."),
    force: bool = typer.Option(False, "--force", help="Replace existing dictionaries and spec."),
) -> None:
    """Draft a dictionary per table and a starter analysis spec with the choices marked ?."""
    from prognosis.dictionary.draft import draft_paths, render_dictionary
    from prognosis.spec.starter import starter_spec

    _setup_logging(False)
    names = draft_paths(tables)
    dictionaries = [out / "data_dictionary" / f"{n}.yaml" for n in names]
    spec_path = out / "analyses" / f"{name}.yaml"
    _refuse_existing([*dictionaries, spec_path], force)
    try:
        drafts = [_draft(table, n) for table, n in zip(tables, names)]
        for draft, path in zip(drafts, dictionaries):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_dictionary(draft), encoding="utf-8")
            typer.echo(f"wrote {path}")
        spec_path.parent.mkdir(parents=True, exist_ok=True)
        spec_path.write_text(starter_spec(drafts, tables, dictionaries, spec_path=spec_path), encoding="utf-8")
    except PrognosisError as exc:
        _fail(exc)
    except OSError as exc:
        _fail_os(exc)
    typer.echo(f"wrote {spec_path}")
    typer.echo(f"next: edit the lines marked ? in each, then prognosis run {spec_path}")


def _mount_imaging() -> None:
    # `prognosis extract` and `prognosis phantom` live with the imaging code.
    from prognosis.imaging.cli import register

    register(app)


_mount_imaging()


if __name__ == "__main__":  # pragma: no cover
    app()
