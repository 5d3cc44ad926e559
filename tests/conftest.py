"""Shared fixtures: a small three-table study written to ``tmp_path``, ready to be corrupted.

``make_study()`` writes, under one folder::

    analyses/study.yaml          the spec; its paths are relative (../data/..., ../dictionaries/...)
    data/clinical.csv            40 patients: age, dates, follow-up in days, death, bc_death
    data/pathology.csv           size_mm, grade (levels 1, 2, 3), er (raw codes 0/1)
    data/imaging.csv             casting (no/yes), n_calcifications
    dictionaries/<table>.yaml    one dictionary per table

and returns a :class:`Study` whose methods change one thing at a time (``set_cell``,
``drop_row``, ``spec``/``save_spec``, ``dictionary``/``save_dictionary``). Rows are numbered as a
spreadsheet shows them: the header is row 1 and patient P01 is on row 2.

The data are written out literally (no random numbers): 10 events, 4 of them among the 10
patients with casting, and events at every grade, so the Cox models fit without separation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml

N_PATIENTS = 40
EVENT_PATIENTS = frozenset({3, 4, 8, 11, 16, 19, 24, 30, 33, 37})
TABLES = ("clinical", "pathology", "imaging")


def _clinical() -> pd.DataFrame:
    rows = []
    for i in range(1, N_PATIENTS + 1):
        diagnosed = date(2010, 1, 1) + timedelta(days=11 * i)
        followup_days = 200 + (i * 97) % 1600
        event = int(i in EVENT_PATIENTS)
        rows.append({
            "patient_id": f"P{i:02d}",
            "age": str(40 + (i * 7) % 41),
            "diagnosis_date": diagnosed.isoformat(),
            "last_contact_date": (diagnosed + timedelta(days=followup_days)).isoformat(),
            "followup_days": str(followup_days),
            "death": str(event),
            "bc_death": str(event),
        })
    return pd.DataFrame(rows)


def _pathology() -> pd.DataFrame:
    return pd.DataFrame([
        {
            "patient_id": f"P{i:02d}",
            "size_mm": f"{10 + (i * 13) % 40}.5",
            "grade": str(1 + i % 3),
            "er": "0" if i % 5 == 0 else "1",
        }
        for i in range(1, N_PATIENTS + 1)
    ])


def _imaging() -> pd.DataFrame:
    return pd.DataFrame([
        {
            "patient_id": f"P{i:02d}",
            "casting": "yes" if i % 4 == 0 else "no",
            "n_calcifications": str((i * 5) % 23),
        }
        for i in range(1, N_PATIENTS + 1)
    ])


DICTIONARIES: dict[str, dict[str, Any]] = {
    "clinical": {
        "table": "clinical",
        "key": "patient_id",
        "missing": ["", "NA"],
        "columns": {
            "patient_id": {"type": "string", "required": True},
            "age": {"type": "numeric", "required": True, "min": 18, "max": 110, "unit": "years", "label": "Age at diagnosis"},
            "diagnosis_date": {"type": "date", "format": "%Y-%m-%d"},
            "last_contact_date": {"type": "date", "format": "%Y-%m-%d"},
            # No `min` here on purpose: zero or negative follow-up must reach the cohort check.
            "followup_days": {"type": "numeric", "unit": "days"},
            "death": {"type": "binary", "required": True},
            "bc_death": {"type": "binary", "label": "Died of breast cancer"},
        },
    },
    "pathology": {
        "table": "pathology",
        "key": "patient_id",
        "missing": ["", "NA"],
        "columns": {
            "patient_id": {"type": "string", "required": True},
            "size_mm": {"type": "numeric", "min": 0, "max": 300, "unit": "mm"},
            "grade": {"type": "categorical", "levels": [1, 2, 3], "label": "Histological grade"},
            "er": {"type": "categorical", "levels": ["negative", "positive"], "codes": {0: "negative", 1: "positive"}},
        },
    },
    "imaging": {
        "table": "imaging",
        "key": "patient_id",
        "columns": {
            "patient_id": {"type": "string", "required": True},
            "casting": {"type": "categorical", "required": True, "levels": ["no", "yes"], "label": "Casting-type calcifications"},
            "n_calcifications": {"type": "numeric", "min": 0},
        },
    },
}

SPEC: dict[str, Any] = {
    "title": "Test study",
    "tables": [
        {"name": name, "path": f"../data/{name}.csv", "dictionary": f"../dictionaries/{name}.yaml"}
        for name in TABLES
    ],
    "join": "patient_id",
    "endpoint": {"time": {"column": "followup_days", "unit": "days"}, "event": "bc_death", "unit": "years"},
    "marker": {"name": "casting", "reference": "no"},
    "covariates": ["age", "grade"],
    "km": {"by": "casting", "times": [1, 2]},
}


def _write_yaml(path: Path, content: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")


@dataclass
class Study:
    """A study on disk. Each method rewrites the file it changes, so tests see real files."""

    root: Path
    spec: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(SPEC))

    @property
    def spec_path(self) -> Path:
        return self.root / "analyses" / "study.yaml"

    def table_path(self, table: str) -> Path:
        return self.root / "data" / f"{table}.csv"

    def dictionary_path(self, table: str) -> Path:
        return self.root / "dictionaries" / f"{table}.yaml"

    def read(self, table: str) -> pd.DataFrame:
        """The table as the exact text in the file."""
        return pd.read_csv(self.table_path(table), dtype=str, keep_default_na=False)

    def write(self, table: str, frame: pd.DataFrame) -> None:
        frame.to_csv(self.table_path(table), index=False)

    def set_cell(self, table: str, row: int, column: str, value: str) -> None:
        """Overwrite one cell; ``row`` is the spreadsheet row (the first data row is 2)."""
        frame = self.read(table)
        if column not in frame.columns:
            frame[column] = ""
        frame.loc[row - 2, column] = value
        self.write(table, frame)

    def drop_row(self, table: str, row: int) -> None:
        frame = self.read(table)
        self.write(table, frame.drop(index=row - 2))

    def dictionary(self, table: str) -> dict[str, Any]:
        return yaml.safe_load(self.dictionary_path(table).read_text(encoding="utf-8"))

    def save_dictionary(self, table: str, content: dict[str, Any]) -> None:
        _write_yaml(self.dictionary_path(table), content)

    def edit_dictionary(self, table: str, edit: Callable[[dict[str, Any]], None]) -> None:
        content = self.dictionary(table)
        edit(content)
        self.save_dictionary(table, content)

    def save_spec(self) -> Path:
        _write_yaml(self.spec_path, self.spec)
        return self.spec_path

    def save(self) -> Study:
        for folder in ("analyses", "data", "dictionaries"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        for table, frame in zip(TABLES, (_clinical(), _pathology(), _imaging())):
            self.write(table, frame)
            self.save_dictionary(table, DICTIONARIES[table])
        self.save_spec()
        return self


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., Study]:
    """Factory: ``make_study("name")`` writes a fresh, valid study under ``tmp_path/name``."""

    def make(name: str = "study") -> Study:
        return Study(tmp_path / name).save()

    return make


@pytest.fixture
def study(make_study: Callable[..., Study]) -> Study:
    """A fresh, valid study (see the module docstring)."""
    return make_study()


@pytest.fixture(scope="session")
def demo_result():
    """One run of the bundled demo analysis (every section computed), shared by the whole session."""
    import warnings

    from prognosis.analysis.pipeline import run
    from prognosis.spec import load_spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo's expected warnings are in result.warnings, tested there
        return run(load_spec(Path(__file__).resolve().parents[1] / "analyses" / "demo.yaml"), progress=False)
