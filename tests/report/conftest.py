"""One run of the demo analysis (every section computed, about 20 s) shared by the report tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from prognosis.pipeline import run
from prognosis.report import write_report
from prognosis.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo's expected warnings are tested in tests/test_pipeline.py
        return run(load_spec(ROOT / "analyses" / "demo.yaml"))


@pytest.fixture(scope="session")
def demo_output(demo_result, tmp_path_factory):
    return write_report(demo_result, tmp_path_factory.mktemp("r") / "demo")


@pytest.fixture(scope="session")
def html(demo_output):
    return (demo_output / "report.html").read_text(encoding="utf-8")
