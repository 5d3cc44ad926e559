"""Shared fixtures for the statistics tests: GBSG2 and its R survival reference values."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

GBSG2_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "gbsg2"


@pytest.fixture(scope="session")
def gbsg2() -> pd.DataFrame:
    return pd.read_csv(GBSG2_DIR / "gbsg2.csv")


@pytest.fixture(scope="session")
def r_reference() -> dict:
    """survival::survfit / survdiff / coxph on gbsg2.csv; R 4.2.2, survival 3.5.3 (make_reference.R)."""
    return json.loads((GBSG2_DIR / "reference.json").read_text())
