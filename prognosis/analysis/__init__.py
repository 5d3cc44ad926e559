"""One analysis, top to bottom: ``pipeline.run(spec)`` reads the tables, builds the cohort, runs the
core and the optional ``sections`` and returns an :class:`~prognosis.analysis.result.AnalysisResult`
with its ``provenance``. The report renders that result and never refits."""
