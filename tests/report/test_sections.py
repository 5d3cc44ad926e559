"""The report's optional sections (prognosis/report/context_*.py, notes.py, figures_sections.py,
templates/sections/): each shown exactly when its result is present, numbers as formatted."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from prognosis.report import write_report
from prognosis.report.html import render_html
from prognosis.report.notes import NOT_ASSESSED, limitations, methods_sentences
from prognosis.stats.ph import PHTest

# demo_result, demo_output and html: tests/report/conftest.py (one run of the demo)

SECTIONS = {  # result field -> the section's element id
    "table1": "table1", "associations": "associations", "imputation": "imputation", "competing": "competing",
    "subgroups": "subgroups", "validation": "validation", "ph_test": "ph", "misclassification": "misclassification",
}
OPTIONAL = (*SECTIONS, "followup", "group_tests")


def _render(result) -> str:
    """The page without figures (fast): sections show their tables only."""
    return render_html(result, km_png=b"km", forest_png=b"forest")


def _without_all(result):
    return replace(result, **{name: None for name in OPTIONAL})


def test_every_section_renders_with_its_figure(html, demo_output):
    for anchor in SECTIONS.values():
        assert f'<section id="{anchor}">' in html
        assert f'href="#{anchor}"' in html
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)
    assert len(images) == 6  # KM, forest, cumulative incidence, subgroup forest, calibration, PH residuals
    files = {p.name for p in (demo_output / "figures").iterdir()}
    assert files == {"km.png", "forest_adjusted.png", "cumulative_incidence.png", "forest_subgroups.png",
                     "calibration.png", "ph_residuals.png"}
    # Reading order: the cohort, then survival and models, then checks, then limitations.
    positions = [html.index(f'<section id="{a}">') for a in
                 ("flow", "table1", "associations", "km", "cox", "imputation", "competing", "subgroups",
                  "validation", "ph", "limitations", "methods")]
    assert positions == sorted(positions)


@pytest.mark.parametrize("field", list(SECTIONS))
def test_a_section_is_absent_when_its_result_is_none(demo_result, field):
    page = _render(replace(demo_result, **{field: None}))
    assert f'<section id="{SECTIONS[field]}">' not in page
    assert f'href="#{SECTIONS[field]}"' not in page
    for other, anchor in SECTIONS.items():
        if other != field:
            assert f'<section id="{anchor}">' in page


def test_without_any_optional_result_the_report_is_as_before(demo_result, tmp_path):
    out = write_report(_without_all(demo_result), tmp_path / "plain")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["forest_adjusted.png", "km.png"]
    for anchor in SECTIONS.values():
        assert f'<section id="{anchor}">' not in page
    assert "Median follow-up" not in page and "stratified" not in page
    assert NOT_ASSESSED in page
    assert methods_sentences(_without_all(demo_result)) == []


def test_key_numbers_appear_as_formatted(demo_result, html):
    r = demo_result
    fg, cs = r.competing.fine_gray, r.competing.cause_specific
    i = fg.terms.index("casting[yes]")
    assert f"{fg.hazard_ratio[i]:.2f} ({fg.conf_int[i, 0]:.2f} to {fg.conf_int[i, 1]:.2f})" in html
    j = cs.terms.index("casting[yes]")
    assert f"{cs.hazard_ratio[j]:.2f} ({cs.conf_int[j, 0]:.2f} to {cs.conf_int[j, 1]:.2f})" in html
    assert f"χ² = {r.competing.gray_test.statistic:.2f} on 1 df" in html
    assert "Every death had a recorded cause" in html  # the demo has no unknown cause
    assert f"Median follow-up was {r.followup.median:.1f} {r.unit}" in html
    assert "stratified by Histological grade (Nottingham)" in html
    assert f"χ² = {r.group_tests.stratified.statistic:.2f}" in html
    assert f"{r.ph_test.global_test.chisq:.2f}" in html and "No variable shows evidence against" in html
    boot = r.validation.bootstrap
    assert f"{boot.c_corrected:.3f}" in html and f"B = {boot.B} resamples" in html and f"seed {boot.seed}" in html
    assert f"{r.validation.discrimination.uno_c:.3f}" in html
    assert f"{r.validation.events_per_variable:.1f}" in html
    mi = r.imputation
    k = mi.terms.index("casting[yes]")
    assert f"{mi.hazard_ratio[k]:.2f} ({mi.conf_int[k, 0]:.2f} to {mi.conf_int[k, 1]:.2f})" in html
    assert f"m = {mi.m} imputations, seed {mi.seed}" in html and "D1 (pooled Wald)" in html
    row = next(row for row in r.table1.rows if row.variable == "grade" and row.level == "3")
    assert f">{row.cells['yes']}<" in html and f">{row.smd:.2f}<" in html
    grade3 = r.associations.factors["grade"].odds_ratios["grade[3]"]
    assert f"{grade3.odds_ratio:.2f} ({grade3.lower:.2f} to {grade3.upper:.2f})" in html
    her2 = next(f for f in r.subgroups.factors if f.factor == "her2")
    assert f"{her2.interaction_p:.2f} / {her2.interaction_p_adjusted:.2f}" in html


def test_unknown_causes_are_counted(demo_result):
    page = _render(replace(demo_result, competing_unknown_cause=7))
    assert "7 patients whose cause of death was not recorded were left out" in page
    items = limitations(replace(demo_result, competing_unknown_cause=7))
    assert any("7 patients with an unknown cause of death were left out" in item for item in items)


def test_limitations_report_what_the_checks_found(demo_result):
    items = " ".join(limitations(demo_result))
    assert NOT_ASSESSED not in items
    assert "all per-variable test p-values are above 0.05" in items
    assert f"optimism-corrected Harrell's C is {demo_result.validation.bootstrap.c_corrected:.3f}" in items
    assert "Fine–Gray subdistribution hazard ratio" in items
    assert "The primary analysis multiply imputed them (m = 10)" in items
    only_ph_missing = " ".join(limitations(replace(demo_result, ph_test=None)))
    assert "The proportional-hazards assumption is not assessed in this report." in only_ph_missing


def test_a_non_proportional_marker_is_explained(demo_result):
    ph = demo_result.ph_test
    terms = {**ph.terms, "casting": PHTest(9.0, 1, 0.003)}
    result = replace(demo_result, ph_test=replace(ph, terms=terms))
    page = _render(result)
    assert "non-proportional hazards for Casting-type calcifications present (p = 0.003)" in page
    assert "average over the follow-up period" in page
    assert any("Proportional hazards may not hold" in item for item in limitations(result))


def test_methods_name_each_section_that_ran(demo_result, html):
    methods = " ".join(methods_sentences(demo_result))
    for phrase in ("reverse Kaplan–Meier", "as R cox.zph, km transform", "as cmprsk::crr",
                   "multiple imputation by chained equations (m = 10", "Rubin's rules", "B = 200, seed 1"):
        assert phrase in methods
        assert phrase in html


def test_section_text_is_escaped(demo_result):
    hostile = "<script>alert(1)</script>"
    t1 = demo_result.table1
    rows = (replace(t1.rows[0], label=hostile, cells={k: hostile for k in t1.rows[0].cells}), *t1.rows[1:])
    competing = replace(demo_result.competing, cause_of_interest=f"bc{hostile}")
    grade = demo_result.variables["grade"]
    variables = {**demo_result.variables, "grade": replace(grade, spec=replace(grade.spec, label=f"Grade {hostile}"))}
    page = _render(replace(demo_result, table1=replace(t1, rows=rows), competing=competing, variables=variables))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") >= 5


def test_a_large_model_shows_only_the_marker_and_flagged_residuals(demo_result):
    from prognosis.report.write import PH_PANELS_MAX, _ph_for_figure

    ph = demo_result.ph_test
    names = tuple(f"x{i}" for i in range(PH_PANELS_MAX)) + ph.term_names[:2]
    terms = {name: PHTest(1.0, 1, 0.5) for name in names} | {"x3": PHTest(6.0, 1, 0.01)}
    residuals = np.zeros((ph.residuals.shape[0], len(names)))
    big = replace(ph, term_names=names, terms=terms, residuals=residuals)
    shown = _ph_for_figure(replace(demo_result, ph_test=big))
    assert shown.term_names == ("x3", "casting") and shown.residuals.shape[1] == 2
