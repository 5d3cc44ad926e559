"""Compressed mammograms: lossless transfer syntaxes decode to the very pixels written, and extract alike.

Each phantom is a 512 x 400 (0.1 mm) CC view from the phantom renderer, written uncompressed by
``write_mammogram`` and again encoded with ``Dataset.compress``: 12-bit For Presentation and
14-bit For Processing data (Bits Stored 12 and 14 in 16 bits allocated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import get_encoder
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from prognosis.imaging.dicom import read_mammogram
from prognosis.imaging.dicom_write import write_mammogram
from prognosis.imaging.extract import extract_image

STYLES = {12: ("FOR PRESENTATION", "MONOCHROME2"), 14: ("FOR PROCESSING", "MONOCHROME1")}


def _encoder(uid: str):
    encoder = get_encoder(uid)
    if not encoder.is_available:
        reason = {JPEGLSLossless: "JPEG-LS encoding needs pyjpegls (pip install pyjpegls)"}.get(
            uid, f"no {uid.name} encoder: {encoder.missing_dependencies}")
        pytest.skip(reason)
    return encoder


@pytest.fixture(scope="module")
def exposure() -> np.ndarray:
    from prognosis.simulate.lesions import PhantomParameters, make_lesion
    from prognosis.simulate.phantom_view import render_view

    rng = np.random.default_rng(11)
    lesion = make_lesion("casting", 34.0, 21.0, rng, PhantomParameters())
    return render_view(lesion, view="CC", laterality="L", spacing_mm=0.1, field_mm=(51.2, 40.0),
                       breast_depth_mm=34.0, breast_half_height_mm=21.0, rng=rng).exposure


@pytest.fixture(scope="module")
def uncompressed(exposure, tmp_path_factory) -> dict[int, tuple[Path, dict]]:
    """Per bit depth: the uncompressed file and its extracted image row (extracted once)."""
    folder = tmp_path_factory.mktemp("uncompressed")
    out = {}
    for bits, (intent, photometric) in STYLES.items():
        path = folder / f"u{bits}.dcm"
        write_mammogram(path, exposure, spacing_mm=0.1, patient_id="C1", laterality="L", view="CC",
                        rng=np.random.default_rng(0), intent=intent, photometric=photometric,
                        spacing_tag="PixelSpacing")
        out[bits] = (path, extract_image(path).image)
    return out


@pytest.mark.parametrize("bits", sorted(STYLES))
@pytest.mark.parametrize("syntax", [JPEGLSLossless, JPEG2000Lossless, RLELossless], ids=["jpeg-ls", "jpeg2000", "rle"])
def test_lossless_phantom_decodes_exactly_and_extracts_alike(tmp_path, exposure, uncompressed, syntax, bits):
    _encoder(syntax)
    plain_path, plain_row = uncompressed[bits]
    intent, photometric = STYLES[bits]
    path = tmp_path / "c.dcm"
    write_mammogram(path, exposure, spacing_mm=0.1, patient_id="C1", laterality="L", view="CC",
                    rng=np.random.default_rng(0), intent=intent, photometric=photometric,
                    spacing_tag="PixelSpacing", transfer_syntax=syntax)
    compressed, plain = pydicom.dcmread(path), pydicom.dcmread(plain_path)
    assert compressed.file_meta.TransferSyntaxUID == syntax and compressed.BitsStored == bits
    assert len(compressed.PixelData) < len(plain.PixelData)          # it really is compressed
    np.testing.assert_array_equal(compressed.pixel_array, plain.pixel_array)
    np.testing.assert_array_equal(read_mammogram(path).pixels, read_mammogram(plain_path).pixels)
    row = extract_image(path).image
    assert row["status"] == "ok" and plain_row["n_calcifications"] > 0
    assert row["n_calcifications"] == plain_row["n_calcifications"]
    assert row["calcification_class"] == plain_row["calcification_class"]


# --- JPEG Lossless, Process 14, Selection Value 1: the usual syntax of archived mammograms -------
# pydicom has no encoder for it, so this one is written from ITU-T T.81 (Annex H lossless mode,
# Annex C Huffman tables, B.1.1.5 byte stuffing). Decoding goes through pylibjpeg-libjpeg.

def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg_lossless_sv1(stored: np.ndarray, precision: int) -> bytes:
    """One grayscale frame as a JPEG lossless codestream, predictor 1 (left), point transform 0."""
    x = stored.astype(np.int64)
    rows, cols = x.shape
    prediction = np.empty_like(x)
    prediction[0, 0] = 1 << (precision - 1)             # H.1.2.1: the first sample of the scan
    prediction[0, 1:] = x[0, :-1]                       # first line: the sample to the left
    prediction[1:, 0] = x[:-1, 0]                       # first column: the sample above
    prediction[1:, 1:] = x[1:, :-1]                     # elsewhere predictor 1: Ra, to the left
    diff = ((x - prediction + 32768) % 65536 - 32768).ravel()   # modulo 2^16 (H.1.2.1)
    ssss = np.frexp(np.abs(diff).astype(np.float64))[1].astype(np.int64)   # bits of |diff|
    extra = np.where(diff < 0, diff - 1, diff) & ((1 << ssss) - 1)        # F.1.2.1.1 ones' complement
    # one Huffman table in which each category 0..16 has a 5-bit code equal to the category
    code_bits = 5
    value = (ssss << ssss) | extra                      # the code (= the category), then the extra bits
    length = code_bits + ssss
    shifts = length[:, None] - 1 - np.arange(code_bits + 16)[None, :]
    bits = (value[:, None] >> np.clip(shifts, 0, None)) & 1
    stream = bits[shifts >= 0].astype(np.uint8)
    stream = np.concatenate([stream, np.ones(-len(stream) % 8, np.uint8)])   # pad with 1 bits
    data = np.packbits(stream)
    data = np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0)              # stuff a 0 after 0xFF
    counts = [0] * 16
    counts[code_bits - 1] = 17
    return (b"\xff\xd8"
            + _segment(0xC4, bytes([0x00]) + bytes(counts) + bytes(range(17)))
            + _segment(0xC3, bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big")
                       + bytes([1, 1, 0x11, 0]))
            + _segment(0xDA, bytes([1, 1, 0x00, 1, 0, 0x00]))
            + data.tobytes() + b"\xff\xd9")


@pytest.mark.parametrize("bits", sorted(STYLES))
def test_jpeg_lossless_phantom_decodes_exactly_and_extracts_alike(tmp_path, uncompressed, bits):
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLosslessSV1

    plain_path, plain_row = uncompressed[bits]
    ds = pydicom.dcmread(plain_path)
    original = ds.pixel_array.copy()
    ds.PixelData = encapsulate([_jpeg_lossless_sv1(original, bits)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    path = tmp_path / "ll.dcm"
    ds.save_as(path)
    compressed = pydicom.dcmread(path)
    assert len(compressed.PixelData) < original.nbytes
    np.testing.assert_array_equal(compressed.pixel_array, original)
    image = read_mammogram(path)
    assert image.tags["transfer_syntax"] == JPEGLosslessSV1
    np.testing.assert_array_equal(image.pixels, read_mammogram(plain_path).pixels)
    row = extract_image(path).image
    assert row["status"] == "ok"
    assert row["n_calcifications"] == plain_row["n_calcifications"] > 0
