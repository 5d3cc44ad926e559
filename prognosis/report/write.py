"""Write results.json, report.html and the figures into a folder, all or nothing."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from prognosis.report.figures import figure_bytes, forest_figure, km_figure
from prognosis.report.html import render_html
from prognosis.report.text import term_label
from prognosis.results import AnalysisResult

logger = logging.getLogger(__name__)


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move a finished staging folder into place; an older output is kept until the swap."""
    previous = None
    if out_dir.exists():
        previous = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, previous)
    os.replace(staging, out_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


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
        (staging / "results.json").write_text(result.to_json() + "\n", encoding="utf-8")
        html = render_html(result, km_png=km_png, forest_png=forest_png, description=description)
        (staging / "report.html").write_text(html, encoding="utf-8")
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %s", out_dir)
    return out_dir
