"""Render an :class:`~prognosis.results.AnalysisResult`: figures, HTML, results.json. Never refits."""

from prognosis.report.write import write_report

__all__ = ["write_report"]
