"""A compact HTML summary of a result, for Jupyter (``AnalysisResult._repr_html_``). Never refits."""

from __future__ import annotations

from markupsafe import Markup, escape

from prognosis.analysis.result import AnalysisResult
from prognosis.report.text import fmt_ci, fmt_p, term_label


def _marker_rows(result: AnalysisResult) -> str:
    rows = []
    for model in ("unadjusted", "adjusted"):
        cox = getattr(result.models, model)
        for term, hr, (low, up), p in zip(cox.terms, cox.hazard_ratio, cox.conf_int, cox.p_value):
            if term != result.marker and not term.startswith(result.marker + "["):
                continue
            rows.append(f"<tr><td>{model}</td><td>{escape(term_label(term, result.variables))}</td>"
                        f"<td><code>{escape(term)}</code></td><td class=\"num\">{escape(fmt_ci(hr, low, up))}</td>"
                        f"<td class=\"num\">{escape(fmt_p(p))}</td></tr>")
    head = ("<thead><tr><th>Model</th><th>Term</th><th>Name</th><th>Hazard ratio (95% CI)</th><th>p</th>"
            "</tr></thead>")
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _flow_rows(result: AnalysisResult) -> str:
    rows = "".join(f"<tr><td>{escape(s.step)}</td><td class=\"num\">{s.n_before}</td>"
                   f"<td class=\"num\">{s.excluded}</td><td class=\"num\">{s.n_after}</td>"
                   f"<td>{escape(s.reason)}</td></tr>" for s in result.flow)
    head = "<thead><tr><th>Step</th><th>Before</th><th>Excluded</th><th>After</th><th>Reason</th></tr></thead>"
    return f"<table>{head}<tbody>{rows}</tbody></table>"


def summary_html(result: AnalysisResult) -> Markup:
    """n, events, the marker's unadjusted and adjusted hazard ratios, the LRT and the flow, as HTML.

    Every text from the spec or the data is escaped.
    """
    added = result.models.added_value
    lrt = (f"Likelihood-ratio test of adding {escape(result.marker)}: χ² = {added.lrt_statistic:.2f}, "
           f"df = {added.df}, {escape(fmt_p(added.p))}; Harrell's C {added.c_base:.3f} → {added.c_full:.3f}.")
    skipped = "".join(f"<li>not computed: {escape(s.section)}: {escape(s.reason)}</li>" for s in result.not_computed)
    notes = "".join(f"<li>warning: {escape(w)}</li>" for w in result.warnings)
    extra = f"<ul>{skipped}{notes}</ul>" if skipped or notes else ""
    return Markup(
        f"<div class=\"prognosis-result\"><h4>{escape(result.title)}</h4>"
        f"<p>{escape(result.question)}</p>"
        f"<p><b>{result.n}</b> patients, <b>{result.events}</b> events ({escape(result.endpoint)}; "
        f"times in {escape(result.unit)}).</p>"
        f"{_marker_rows(result)}<p>{lrt}</p>"
        f"<details><summary>Cohort flow</summary>{_flow_rows(result)}</details>{extra}</div>"
    )
