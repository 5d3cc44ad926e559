"""No DICOM stops a batch: every image pydicom ships for its own tests, relabelled as a mammogram.

pydicom's test files hold every kind of pixel data its decoders meet (bit depths, signed values,
multi-frame, colour, compressed, truncated). With Modality set to MG so that they pass the first
check, each must either extract or fail with a DicomError that names the tag at fault; an
exception of any other kind would stop a real batch.
"""

from __future__ import annotations

import warnings
from pathlib import Path

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


def test_every_bundled_image_extracts_or_fails_with_a_tag(tmp_path):
    images = _images()
    assert len(images) > 50          # the corpus is there (pydicom's wheel ships it)
    statuses = {}
    for source in images:
        ds = pydicom.dcmread(source)
        ds.Modality = "MG"
        target = tmp_path / f"{source.stem}.dcm"
        try:
            ds.save_as(target)
        except Exception:   # noqa: BLE001 - pydicom cannot write this one back; nothing to test
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = extract_image(target).image      # must not raise
        statuses[source.name] = row["status"]
        if row["status"] == "failed":
            assert row["error_tag"], (source.name, row["error"])
    assert {"ok", "failed"} <= set(statuses.values())
    if len(statuses) < 50:
        pytest.fail(f"only {len(statuses)} bundled images could be rewritten")
