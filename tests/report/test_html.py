"""The HTML report: self-contained, escaped, and carrying what a clinician needs to read."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from prognosis.report import write, write_report
from prognosis.report.text import summary_paragraphs

# demo_result, demo_output and html: tests/report/conftest.py (one run of the demo)


def test_report_is_self_contained(html):
    sources = re.findall(r'src="([^"]+)"', html)
    assert sources, "the figures should be embedded"
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    links = re.findall(r'href="([^"]+)"', html)
    assert all(link.startswith("#") for link in links), "links only within the page"
    assert "<script" not in html


def test_report_has_the_sections_a_clinician_needs(html, demo_result):
    for heading in ("Main finding", "Patients", "Survival by", "Number at risk", "Hazard ratios",
                    "Added value", "Limitations", "Methods"):
        assert heading in html
    adjusted = demo_result.models.adjusted
    i = adjusted.terms.index("casting[yes]")
    low, up = adjusted.conf_int[i]
    # With imputation the pooled HR leads; the complete-case HR is stated as the sensitivity analysis.
    mi = demo_result.imputation
    k = mi.terms.index("casting[yes]")
    assert f"{mi.hazard_ratio[k]:.2f} times" in html
    assert f"95% confidence interval {mi.conf_int[k, 0]:.2f} to {mi.conf_int[k, 1]:.2f}" in html
    assert f"95% confidence interval {low:.2f} to {up:.2f}" in html
    assert "events per variable" in html


def test_complete_case_summary_keeps_its_phrasing_without_imputation(demo_result):
    adjusted = demo_result.models.adjusted
    i = adjusted.terms.index("casting[yes]")
    low, up = adjusted.conf_int[i]
    text = " ".join(summary_paragraphs(replace(demo_result, imputation=None)))
    # The plain-language paragraph states the adjusted HR with its CI.
    assert f"{adjusted.hazard_ratio[i]:.2f} times" in text
    assert f"95% confidence interval {low:.2f} to {up:.2f}" in text
    assert text.startswith("After adjustment for ")
    assert "primary analysis" not in text and "sensitivity" not in text


def test_user_text_is_escaped(demo_result, tmp_path):
    hostile = "<script>alert('x')</script>"
    result = replace(demo_result, title=hostile, question=f"Q {hostile}")
    out = write_report(result, tmp_path / "hostile", description="<b>bold</b> & more")
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in text


def test_failed_write_leaves_no_partial_output_and_keeps_the_old_one(demo_result, tmp_path, monkeypatch):
    out = write_report(demo_result, tmp_path / "demo")
    before = (out / "results.json").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(write, "render_html", broken)
    with pytest.raises(RuntimeError):
        write_report(demo_result, tmp_path / "demo")
    with pytest.raises(RuntimeError):
        write_report(demo_result, tmp_path / "fresh")
    assert (out / "results.json").read_bytes() == before
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no staging folder left behind


def test_not_significant_marker_is_described_as_compatible_with_no_effect(demo_result):
    adjusted = demo_result.models.adjusted
    i = adjusted.terms.index("casting[yes]")
    conf_int = adjusted.conf_int.copy()
    conf_int[i] = [0.8, 1.3]
    result = replace(demo_result, imputation=None,
                     models=replace(demo_result.models, adjusted=replace(adjusted, conf_int=conf_int)))
    text = " ".join(summary_paragraphs(result))
    assert "compatible with no independent effect" in text
    assert "independent prognostic marker here" not in text
