"""Write results.json, report.html and the figures into a folder, all or nothing."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from prognosis._paths import explain_os_error
from prognosis.errors import OutputError
from prognosis.output_dir import check_output_dir, install, make_staging, write_stamp
from prognosis.report.figures import figure_bytes, forest_figure, km_figure
from prognosis.report.figures_ph import ph_residual_figure
from prognosis.report.figures_sections import calibration_figure, cif_figure, subgroup_forest_figure
from prognosis.report.html import render_html
from prognosis.report.text import term_label
from prognosis.analysis.result import AnalysisResult

logger = logging.getLogger(__name__)

_FIGURE_FILES = {"cif": "cumulative_incidence", "calibration": "calibration", "subgroups": "forest_subgroups",
                 "ph": "ph_residuals"}


REPORT_KIND = "report"


def _is_legacy_report(folder: Path) -> bool:
    """An unstamped report of an earlier prognosis: only its own files, and its results.json."""
    for root, dirs, files in os.walk(folder):
        where = Path(root).relative_to(folder)
        if where == Path("."):
            if set(dirs) - {"figures"} or set(files) - {"results.json", "report.html"}:
                return False
        elif dirs or where != Path("figures") or any(not f.endswith(".png") for f in files):
            return False
    try:
        written = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        return "prognosis_version" in written["provenance"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def check_report_dir(out_dir: str | Path, *, inputs: Iterable[tuple[str, str | Path]] = ()) -> Path:
    """The absolute report folder, after checking that a report may be written there.

    Parameters
    ----------
    out_dir : str or Path
    inputs : iterable of (str, path)
        Input files, as ``(what, path)``: the report folder may not be or contain their folders
        (nor the current folder).

    Raises
    ------
    OutputError
        ``out_dir`` holds files prognosis did not write, or would contain an input.
    """
    return check_output_dir(out_dir, kind=REPORT_KIND, legacy=_is_legacy_report, inputs=inputs)


# Up to this many variables the residual figure shows them all (three panels a row); beyond it,
# the marker and any variable whose test has p < 0.05, so the figure stays readable.
PH_PANELS_MAX = 9


def _ph_for_figure(result: AnalysisResult):
    ph = result.ph_test
    assert ph is not None
    if len(ph.term_names) <= PH_PANELS_MAX:
        return ph
    keep = [i for i, name in enumerate(ph.term_names) if name == result.marker or ph.terms[name].p < 0.05]
    return replace(ph, residuals=ph.residuals[:, keep], term_names=tuple(ph.term_names[i] for i in keep))


def section_figures(result: AnalysisResult) -> dict[str, bytes]:
    """PNGs of the optional sections that ran: ``cif``, ``calibration``, ``subgroups``, ``ph``."""
    labels = {name: var.label for name, var in result.variables.items()}
    figures: dict[str, bytes] = {}
    if result.competing is not None and result.competing.groups:
        group_label = labels.get(result.km.by, result.km.by)
        figures["cif"] = figure_bytes(cif_figure(result.competing, unit=result.unit, horizon=result.horizon,
                                                 group_label=group_label))
    if result.validation is not None and result.validation.calibration.groups:
        figures["calibration"] = figure_bytes(calibration_figure(result.validation.calibration, unit=result.unit))
    if result.subgroups is not None and result.subgroups.factors:
        figures["subgroups"] = figure_bytes(subgroup_forest_figure(result.subgroups, labels=labels))
    if result.ph_test is not None and result.ph_test.term_names:
        figures["ph"] = figure_bytes(ph_residual_figure(_ph_for_figure(result), unit=result.unit, labels=labels))
    return figures


def write_report(result: AnalysisResult, out_dir: str | Path, *, description: str | None = None,
                 inputs: Iterable[tuple[str, str | Path]] = ()) -> Path:
    """Write ``results.json``, ``report.html`` and ``figures/`` to ``out_dir``.

    Everything is written into a temporary sibling folder first and swapped into place at the
    end (:func:`prognosis.output_dir.install`), so a failure never leaves a half-written output
    folder (an earlier complete output stays as it was). The folder carries a ``.prognosis-output``
    stamp listing its files: only a folder so stamped (or absent, or empty) is ever replaced.

    Parameters
    ----------
    result : AnalysisResult
    out_dir : str or Path
    description : str, optional
        Shown under the title.
    inputs : iterable of (str, path)
        The spec and tables, as ``(what, path)``; see :func:`check_report_dir`.

    Returns
    -------
    Path
        ``out_dir``, absolute.

    Raises
    ------
    OutputError
        ``out_dir`` holds files prognosis did not write, is or contains the current folder or an
        input's folder, or the system refused the write (read-only, disk full, a symlink loop).
    """
    out_dir = check_report_dir(out_dir, inputs=inputs)
    staging = make_staging(out_dir)
    try:
        figures = staging / "figures"
        figures.mkdir()
        km_fig = km_figure(result.km, unit=result.unit, horizon=result.horizon,
                           ylabel=f"Probability free of {result.endpoint}",
                           group_label=result.variables[result.km.by].label if result.km.by in result.variables else None)
        km_png = figure_bytes(km_fig, "png")
        labels = {t: term_label(t, result.variables) for t in result.models.adjusted.terms}
        forest_png = figure_bytes(forest_figure(result.models.adjusted, labels=labels), "png")
        (figures / "km.png").write_bytes(km_png)
        (figures / "forest_adjusted.png").write_bytes(forest_png)
        extra = section_figures(result)
        for name, png in extra.items():
            (figures / f"{_FIGURE_FILES[name]}.png").write_bytes(png)
        (staging / "results.json").write_text(result.to_json() + "\n", encoding="utf-8")
        html = render_html(result, km_png=km_png, forest_png=forest_png, description=description, figures=extra)
        (staging / "report.html").write_text(html, encoding="utf-8")
        write_stamp(staging, REPORT_KIND)
        install(staging, out_dir, kind=REPORT_KIND, legacy=_is_legacy_report)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write the report to {out_dir}: {explain_os_error(exc)}"
                          f"{f' ({exc.filename})' if exc.filename else ''}", path=str(out_dir)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %s", out_dir)
    return out_dir
