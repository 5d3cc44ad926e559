"""Checks before decoding: absurd geometry refused naming Rows/Columns, where a cut file ends, tags in messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from prognosis.errors import DicomError
from prognosis.imaging.dicom import read_mammogram
from prognosis.imaging.dicom_checks import (MAX_ASPECT_RATIO, MAX_PIXELS, MAX_SIDE_PIXELS, check_pixel_module, tag_in_text,
                                            where_cut_short)
from prognosis.imaging.dicom_write import write_mammogram
from prognosis.imaging.extract import extract_image


def _write(path: Path, shape: tuple[int, int]) -> Path:
    rng = np.random.default_rng(3)
    exposure = rng.uniform(500, 2000, shape).astype(np.float32)
    write_mammogram(path, exposure, spacing_mm=0.1, patient_id="G1", laterality="L", view="CC", rng=rng,
                    intent="FOR PRESENTATION", photometric="MONOCHROME2", spacing_tag="PixelSpacing")
    return path


@pytest.mark.parametrize("shape, tag", [((2, 50_000), "(0028,0011)"), ((50_000, 2), "(0028,0010)")])
def test_a_strip_of_pixels_is_refused_naming_rows_and_columns(tmp_path, shape, tag):
    # issue 9, defect 19: a 2 x 50,000-pixel DICOM failed without naming the tag
    path = _write(tmp_path / "strip.dcm", shape)
    with pytest.raises(DicomError) as info:
        read_mammogram(path)
    message = str(info.value)
    assert f"Rows (0028,0010) {shape[0]}" in message and f"Columns (0028,0011) {shape[1]}" in message
    assert info.value.tag == tag           # the longer side, out of proportion
    row = extract_image(path).image
    assert row["status"] == "failed" and row["error_tag"] == tag


def _with_geometry(tmp_path: Path, rows: int, columns: int) -> Path:
    """A small valid file whose header claims another geometry (refused before any decoding)."""
    path = _write(tmp_path / "g.dcm", (32, 24))
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = rows, columns
    ds.save_as(path)
    return path


def test_limits_are_the_documented_ones(tmp_path):
    # a side beyond the maximum
    with pytest.raises(DicomError, match=f"Rows \\(0028,0010\\) must be 1 to {MAX_SIDE_PIXELS} pixels") as info:
        read_mammogram(_with_geometry(tmp_path, MAX_SIDE_PIXELS + 1, 8000))
    assert info.value.tag == "(0028,0010)"
    # square but more pixels than memory allows: 16384 x 16384 = 268 Mpixel > 67 Mpixel
    assert MAX_SIDE_PIXELS ** 2 > MAX_PIXELS
    with pytest.raises(DicomError, match="Mpixel") as info:
        read_mammogram(_with_geometry(tmp_path, MAX_SIDE_PIXELS, MAX_SIDE_PIXELS))
    assert info.value.tag == "(0028,0010)"
    # just beyond the aspect ratio: 1001 x 100 (> 10), not 1000 x 100 (= 10, which fails later, on
    # the short pixel data, naming Pixel Data)
    with pytest.raises(DicomError, match="not the shape of a mammogram"):
        read_mammogram(_with_geometry(tmp_path, int(100 * MAX_ASPECT_RATIO) + 1, 100))
    with pytest.raises(DicomError) as info:
        read_mammogram(_with_geometry(tmp_path, int(100 * MAX_ASPECT_RATIO), 100))
    assert info.value.tag == "(7FE0,0010)"


@pytest.mark.parametrize("rows, columns", [(4096, 3328), (5928, 4728), (1, 1), (64, 640)])
def test_real_geometries_pass(rows, columns):
    # Hologic Selenia, Fuji full field, a single pixel, a 1:10 crop: the header check lets them through
    ds = pydicom.Dataset()
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 1, 16, 12, 0
    ds.Rows, ds.Columns = rows, columns
    check_pixel_module(ds, "x.dcm")


def test_where_cut_short_names_the_element(tmp_path):
    path = _write(tmp_path / "c.dcm", (32, 24))
    data = path.read_bytes()
    assert where_cut_short(path) is None                       # whole
    pixel_value = data.rindex(b"\xe0\x7f\x10\x00") + 12
    for size, expected in [(pixel_value - 4, "(7FE0,0010)"), (pixel_value + 10, "(7FE0,0010)"),
                           (139, "(0002,0000)")]:
        path.write_bytes(data[:size])
        assert where_cut_short(path) == (expected, "PixelData" if expected == "(7FE0,0010)"
                                         else "FileMetaInformationGroupLength"), size
    path.write_bytes(b"not dicom at all" * 20)
    assert where_cut_short(path) is None


def test_tag_in_text_takes_pixel_module_tags_only():
    assert tag_in_text("A (0028,0011) 'Columns' value of '0' is invalid") == "(0028,0011)"
    assert tag_in_text("Unable to decode as a (0002,0010) 'Transfer Syntax UID'") == "(0002,0010)"
    assert tag_in_text("Found unexpected tag (0F98,0F9A) instead of (FFFE,E000)") is None
    assert tag_in_text("no tag here") is None


def test_the_pixel_limit_itself_passes_and_one_row_more_is_refused():
    # MAX_PIXELS = 2**26 = 8192 x 8192 (the documented 0.27 GB as float32): allowed; 8193 x 8192 is
    # 67,117,056 > 67,108,864 pixels (aspect ratio ~1, sides within 16384): refused, naming Rows.
    ds = pydicom.Dataset()
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 1, 16, 12, 0
    ds.Rows, ds.Columns = 8192, 8192
    assert 8192 * 8192 == MAX_PIXELS
    check_pixel_module(ds, "x.dcm")
    ds.Rows = 8193
    with pytest.raises(DicomError, match="Mpixel") as info:
        check_pixel_module(ds, "x.dcm")
    assert info.value.tag == "(0028,0010)"


def test_a_used_element_that_cannot_be_decoded_is_named_even_if_this_file_never_needs_it(tmp_path):
    # View Code Sequence (0054,0220) of three bytes that are no item: the view is read from View
    # Position in this file, so without the check on entry the corrupt header would pass unseen.
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    path = _write(tmp_path / "v.dcm", (32, 24))
    ds = pydicom.dcmread(path)
    tag = Tag(0x0054, 0x0220)
    ds[tag] = RawDataElement(tag, "SQ", 3, b"\x01\x02\x03", 0, False, True)
    ds.save_as(path)
    with pytest.raises(DicomError, match="ViewCodeSequence \\(0054,0220\\) cannot be decoded") as info:
        read_mammogram(path)
    assert info.value.tag == "(0054,0220)"


@pytest.mark.parametrize("keyword, value, tag", [("PixelRepresentation", 2, "(0028,0103)"),
                                                ("BitsStored", 0, "(0028,0101)"),
                                                ("BitsStored", 17, "(0028,0101)"),
                                                ("SamplesPerPixel", 3, "(0028,0002)")])
def test_an_image_pixel_module_value_out_of_range_is_named(keyword, value, tag):
    # PS3.3 C.7.6.3: Pixel Representation 0 or 1; Bits Stored 1 to Bits Allocated (16 here);
    # a mammogram has one sample per pixel
    ds = pydicom.Dataset()
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 1, 16, 12, 0
    ds.Rows, ds.Columns = 64, 64
    setattr(ds, keyword, value)
    with pytest.raises(DicomError) as info:
        check_pixel_module(ds, "x.dcm")
    assert info.value.tag == tag


@pytest.mark.filterwarnings("ignore::UserWarning")   # pydicom's own "assuming 1 frame"
def test_number_of_frames_zero_is_read_as_one_frame(tmp_path):
    # some writers put 0 in the Number of Frames (0028,0008) of a single-frame image: it is read,
    # as before issue 9, not refused
    path = _write(tmp_path / "f.dcm", (32, 24))
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 0
    ds.save_as(path)
    assert read_mammogram(path).pixels.shape == (32, 24)
