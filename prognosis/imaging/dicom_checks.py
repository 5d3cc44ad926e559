"""Checks of a DICOM file before its pixels are decoded: every header element the reader uses can
be decoded, the Image Pixel Module describes a single grayscale image of sane size, and where a
file that cannot be read was cut short.

Each failure is a :class:`~prognosis.errors.DicomError` naming the file and the tag, so that one
bad file in a folder of thousands is reported and skipped, not a ``struct.error`` that stops the
batch.

References
----------
DICOM PS3.3 C.7.6.3 (Image Pixel Module), A.26 (Digital Mammography X-Ray Image IOD); PS3.5 7.1
(data element structure), 7.1.2 (explicit VR lengths).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pydicom
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from prognosis.errors import DicomError

logger = logging.getLogger(__name__)

# Sanity limits on the image geometry (not tunable thresholds of the analysis). The largest 2D
# mammograms are about 28 Mpixel (Fuji, 5928 x 4728 at 50 um; CBIS-DDSM film scans up to about
# 7000 x 5000), and no detector or film is more than 1.5 times as long as wide. 16384 pixels is
# 41 cm at 25 um, larger than any mammography field; 2**26 pixels (67 Mpixel) is 0.27 GB as the
# pipeline's float32, and an 8192 x 8192 image at 0.05 mm peaked at 0.72 GB resident to read and
# 1.0 GB to extract (measured), within the default 1.5 GB worker; an aspect ratio of 10 leaves
# room for cropped images. Beyond these a file is refused before it is decoded.
MAX_SIDE_PIXELS = 16384
MAX_PIXELS = 2 ** 26
MAX_ASPECT_RATIO = 10.0
BITS_ALLOCATED = (8, 16, 32)

# The header elements the reader uses (dicom.py, dicom_tags.py, grayscale.py). Each is decoded
# on entry, so that a malformed value (a US of 3 bytes, an IS of "inf") fails here, named,
# rather than deep in the pipeline. Other elements (private tags, say) are never looked at.
USED_KEYWORDS = (
    "Modality", "SOPClassUID", "SOPInstanceUID", "PatientID", "NumberOfFrames", "SamplesPerPixel",
    "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
    "PixelRepresentation", "PlanarConfiguration", "RescaleSlope", "RescaleIntercept", "RescaleType",
    "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence", "ModalityLUTSequence",
    "PixelPaddingValue", "PixelPaddingRangeLimit", "PixelIntensityRelationship",
    "PixelIntensityRelationshipSign", "PresentationLUTShape", "PresentationIntentType", "ImageLaterality",
    "Laterality", "SeriesDescription", "ProtocolName", "ViewPosition", "ViewCodeSequence", "PixelSpacing",
    "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor", "PixelSpacingCalibrationType",
)

_TAG_IN_TEXT = re.compile(r"\(([0-9A-Fa-f]{4}),\s*([0-9A-Fa-f]{4})\)")
_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = {vr.encode() for vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")}


def tag_of(keyword: str) -> str:
    """``(gggg,eeee)`` of a DICOM keyword, e.g. ``tag_of("Rows") == "(0028,0010)"``."""
    tag = tag_for_keyword(keyword)
    return "" if tag is None else _format(tag)


def keyword_of(tag: object) -> str | None:
    """``Rows`` for ``"(0028,0010)"`` (the inverse of :func:`tag_of`); None when there is no such tag."""
    if not isinstance(tag, str) or len(tag) != 11:
        return None
    try:
        return keyword_for_tag(int(tag[1:5] + tag[6:10], 16)) or None
    except ValueError:
        return None


def _format(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def tag_in_text(text: str) -> str | None:
    """The first File Meta or Image Pixel Module tag named in a message, else None.

    pydicom names the element it finds wrong ("A (0028,0011) 'Columns' value of '0' is invalid",
    "Missing required element: (0028,0006)"). Other tags are passed over: "unexpected tag
    (0001,0035) instead of (FFFE,E000)" quotes pixel bytes read under a wrong transfer syntax,
    not an element of the file.
    """
    for found in _TAG_IN_TEXT.finditer(text):
        tag = int(found.group(1), 16) << 16 | int(found.group(2), 16)
        if tag >> 16 in (0x0002, 0x0028) and keyword_for_tag(tag):
            return _format(tag)
    return None


def check_used_elements(ds: pydicom.Dataset, path: str) -> None:
    """Decode every element the reader uses; DicomError naming the first that cannot be decoded.

    pydicom decodes an element's bytes when it is first accessed, so a malformed value raises
    then (``BytesLengthException``, ``OverflowError`` for an IS of ``inf``, ``ValueError``...).
    """
    for keyword in USED_KEYWORDS:
        if keyword not in ds:
            continue
        try:
            ds[keyword].value      # noqa: B018 - the access decodes it
        except Exception as exc:   # noqa: BLE001 - any decoding failure is the file's fault
            tag = tag_of(keyword)
            raise DicomError(f"{path}: {keyword} {tag} cannot be decoded ({type(exc).__name__}); the header "
                             "is corrupt", path=path, tag=tag) from exc


def _integer(ds: pydicom.Dataset, keyword: str, path: str, *, required: bool) -> int | None:
    value = ds.get(keyword)
    tag = tag_of(keyword)
    if value is None or value == "":
        if required:
            raise DicomError(f"{path}: {keyword} {tag} is missing; the Image Pixel Module needs it",
                             path=path, tag=tag)
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{path}: {keyword} {tag} is not a number", path=path, tag=tag) from exc
    if not number.is_integer():
        raise DicomError(f"{path}: {keyword} {tag} is not a whole number", path=path, tag=tag)
    return int(number)


def check_pixel_module(ds: pydicom.Dataset, path: str) -> None:
    """The Image Pixel Module describes one grayscale image the reader can hold (PS3.3 C.7.6.3).

    Samples per Pixel 1 (MONOCHROME), Bits Allocated 8, 16 or 32 (MG images use 16), Bits
    Stored within it, Pixel Representation 0 or 1, and Rows x Columns within
    :data:`MAX_SIDE_PIXELS`, :data:`MAX_PIXELS` and :data:`MAX_ASPECT_RATIO`.

    Raises
    ------
    DicomError
        Naming the tag at fault (Rows (0028,0010) or Columns (0028,0011) for the geometry).
    """
    samples = _integer(ds, "SamplesPerPixel", path, required=False)
    if samples is not None and samples != 1:
        raise DicomError(f"{path}: Samples per Pixel (0028,0002) is {samples}; a mammogram is grayscale (1)",
                         path=path, tag="(0028,0002)")
    allocated = _integer(ds, "BitsAllocated", path, required=True)
    if allocated not in BITS_ALLOCATED:
        raise DicomError(f"{path}: Bits Allocated (0028,0100) is {allocated}; expected one of "
                         f"{', '.join(map(str, BITS_ALLOCATED))} (MG images use 16)", path=path, tag="(0028,0100)")
    stored = _integer(ds, "BitsStored", path, required=False)
    if stored is not None and not 1 <= stored <= allocated:
        raise DicomError(f"{path}: Bits Stored (0028,0101) is {stored}; it must be 1 to Bits Allocated "
                         f"({allocated})", path=path, tag="(0028,0101)")
    representation = _integer(ds, "PixelRepresentation", path, required=False)
    if representation not in (None, 0, 1):
        raise DicomError(f"{path}: Pixel Representation (0028,0103) is {representation}; it must be 0 or 1",
                         path=path, tag="(0028,0103)")
    rows = _integer(ds, "Rows", path, required=True)
    columns = _integer(ds, "Columns", path, required=True)
    geometry = f"Rows (0028,0010) {rows} x Columns (0028,0011) {columns}"
    for keyword, tag, n in (("Rows", "(0028,0010)", rows), ("Columns", "(0028,0011)", columns)):
        if not 1 <= n <= MAX_SIDE_PIXELS:
            raise DicomError(f"{path}: {geometry}: {keyword} {tag} must be 1 to {MAX_SIDE_PIXELS} pixels",
                             path=path, tag=tag)
    # the longer side is the one out of proportion: its tag is the one named
    longer = "(0028,0010)" if rows >= columns else "(0028,0011)"
    if max(rows, columns) / min(rows, columns) > MAX_ASPECT_RATIO:
        raise DicomError(f"{path}: {geometry} is not the shape of a mammogram (one side more than "
                         f"{MAX_ASPECT_RATIO:g} times the other)", path=path, tag=longer)
    if rows * columns > MAX_PIXELS:
        raise DicomError(f"{path}: {geometry} is {rows * columns / 1e6:.0f} Mpixel, more than the "
                         f"{MAX_PIXELS / 1e6:.0f} Mpixel the reader holds in memory", path=path, tag=longer)


def where_cut_short(path: str | Path) -> tuple[str, str] | None:
    """The tag and keyword of the top-level data element a file ends inside; None if it is not cut short.

    The file is read again element by element, noting where each value starts and how long its
    header says it is (PS3.5 7.1): a value that runs past the end of the file, or a header the file
    ends in, is where it was cut. A file that ends inside its File Meta Information (shorter than
    its group length says) gives ``("(0002,0000)", "FileMetaInformationGroupLength")``. Files
    without the "DICM" prefix and deflated ones are not located (None).
    """
    path = str(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fp:
        head = fp.read(144)
    if head[128:132] != b"DICM":
        return None
    meta_end = 144 + int.from_bytes(head[140:144], "little") if head[132:136] == b"\x02\x00\x00\x00" else 0
    if len(head) < 144 or meta_end > size:
        return "(0002,0000)", "FileMetaInformationGroupLength"
    try:
        syntax = pydicom.filereader.read_file_meta_info(path).get("TransferSyntaxUID")
    except Exception:   # noqa: BLE001 - a corrupt (not cut) File Meta Information: not ours to locate
        return None
    if syntax == DeflatedExplicitVRLittleEndian:
        return None           # positions would be in the inflated stream, not the file
    seen: list[tuple[int, int, int]] = []
    with open(path, "rb") as fp:
        def note(tag, vr, length) -> bool:
            seen.append((int(tag), fp.tell(), int(length)))
            return int(tag) == _PIXEL_DATA     # its header is all we need: do not read the pixels again
        try:
            pydicom.filereader.read_partial(fp, stop_when=note)
        except Exception:   # noqa: BLE001 - reading stops where the file is broken: that is the point
            pass
        # with no element read, the first one starts where the File Meta Information ends
        tag, start, length = seen[-1] if seen else (None, meta_end, 0)
        if length == _UNDEFINED_LENGTH:
            return None       # a sequence of undefined length: its end is not known from its header
        if tag is not None and start + length > size:
            return _format(tag), keyword_for_tag(tag) or "private"
        fp.seek(start + length)
        header = fp.read(12)
    # the file ends inside the next element's header: 8 bytes (implicit VR, or explicit with a
    # 2-byte length), 12 for the explicit VRs with a 4-byte length (PS3.5 7.1.2)
    if not header:
        return None
    if len(header) < 4:      # not even the next tag: cut right after this element
        return (_format(tag), keyword_for_tag(tag) or "private") if tag is not None else None
    nxt = int.from_bytes(header[:2], "little") << 16 | int.from_bytes(header[2:4], "little")
    long_vr = syntax != ImplicitVRLittleEndian and header[4:6] in _LONG_VRS
    if len(header) < (12 if long_vr else 8):
        return _format(nxt), keyword_for_tag(nxt) or "private"
    return None
