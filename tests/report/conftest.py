"""The demo report, written once from the session's demo run (tests/conftest.py) for the report tests."""

from __future__ import annotations

import pytest

from prognosis.report import write_report


@pytest.fixture(scope="session")
def demo_output(demo_result, tmp_path_factory):
    return write_report(demo_result, tmp_path_factory.mktemp("r") / "demo")


@pytest.fixture(scope="session")
def html(demo_output):
    return (demo_output / "report.html").read_text(encoding="utf-8")
