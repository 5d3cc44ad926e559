"""Write results.json, report.html and the figures into a folder, all or nothing."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from prognosis.report.figures import figure_bytes, forest_figure, km_figure
from prognosis.report.figures_ph import ph_residual_figure
from prognosis.report.figures_sections import calibration_figure, cif_figure, subgroup_forest_figure
from prognosis.report.html import render_html
from prognosis.report.text import term_label
from prognosis.results import AnalysisResult

logger = logging.getLogger(__name__)

_FIGURE_FILES = {"cif": "cumulative_incidence", "calibration": "calibration", "subgroups": "forest_subgroups",
                 "ph": "ph_residuals"}


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move a finished staging folder into place; an older output is kept until the swap."""
    previous = None
    if out_dir.exists():
        previous = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, previous)
    os.replace(staging, out_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


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


def write_report(result: AnalysisResult, out_dir: str | Path, *, description: str | None = None) -> Path:
    """Write ``results.json``, ``report.html`` and ``figures/`` to ``out_dir``.

    Everything is written into a temporary sibling folder first and renamed into place at the
    end, so a failure never leaves a half-written output folder (an earlier complete output
    stays as it was).

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report folder should not be
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
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %s", out_dir)
    return out_dir
