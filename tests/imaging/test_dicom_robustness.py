"""No DICOM stops a batch: every image pydicom ships for its own tests, relabelled as a mammogram.

pydicom's test files hold every kind of pixel data its decoders meet (bit depths, signed values,
multi-frame, colour, compressed, truncated). With Modality set to MG so that they pass the first
check, each must either extract or fail with a DicomError that names the tag at fault; an
exception of any other kind would stop a real batch.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pydicom
import pydicom.data
import pytest

from prognosis.imaging.extract import extract_image

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


def _images() -> list[Path]:
    found = []
    for path in sorted(p for p in TEST_FILES.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=False)
        except Exception:   # noqa: BLE001 - not DICOM at all: covered by the corrupt-file tests
            continue
        if "PixelData" in ds:
            found.append(path)
    return found


@pytest.fixture(scope="module")
def relabelled(tmp_path_factory) -> Path:
    """Every bundled image pydicom can write back, with Modality MG, in one folder."""
    folder = tmp_path_factory.mktemp("pydicom_corpus")
    images = _images()
    assert len(images) > 50          # the corpus is there (pydicom's wheel ships it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for source in images:
            ds = pydicom.dcmread(source)
            ds.Modality = "MG"
            try:
                ds.save_as(folder / f"{source.stem}.dcm")
            except Exception:   # noqa: BLE001 - pydicom cannot write this one back; nothing to test
                (folder / f"{source.stem}.dcm").unlink(missing_ok=True)
    if len(list(folder.glob("*.dcm"))) < 50:
        pytest.fail("fewer than 50 bundled images could be rewritten")
    return folder


def test_every_bundled_image_extracts_or_fails_with_a_tag(relabelled):
    statuses = {}
    for target in sorted(relabelled.glob("*.dcm")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = extract_image(target).image      # must not raise
        statuses[target.name] = row["status"]
        if row["status"] == "failed":
            assert row["error_tag"], (target.name, row["error"])
    assert {"ok", "failed"} <= set(statuses.values())


def test_prognosis_extract_reports_and_skips_the_corpus(relabelled, tmp_path):
    # the command a user runs, in its own process: exit 0, no traceback, none of pydicom's
    # warnings on the terminal, and every skipped file in the failures table with its tag
    out = tmp_path / "imaging.csv"
    done = subprocess.run([sys.executable, "-m", "prognosis.imaging.cli", "extract", str(relabelled), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    failures = pd.read_csv(out.with_name("imaging.failures.csv"))
    images = pd.read_csv(out.with_name("imaging.images.csv"))
    assert len(images) == len(list(relabelled.glob("*.dcm")))
    assert set(failures["file"]) == set(images.loc[images["status"] == "failed", "file"])
    assert failures["tag"].notna().all(), failures.loc[failures["tag"].isna(), ["file", "error"]]
    assert f"{len(failures)} file(s) skipped" in done.stderr and 0 < len(failures) < len(images)
