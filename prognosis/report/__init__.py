"""Render an :class:`~prognosis.analysis.result.AnalysisResult`: figures, HTML, results.json. Never refits."""

from prognosis.report.write import write_report

__all__ = ["write_report"]
