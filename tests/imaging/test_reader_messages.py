"""pydicom's warnings and log records captured per file, without the values they quote."""

from __future__ import annotations

import logging
import warnings

from prognosis.imaging.reader_messages import captured_messages, scrub


def test_scrub_drops_quoted_values_and_the_link():
    message = ("Invalid value for VR DA: '19620317x'. Please see <https://dicom.nema.org/medical/dicom/current/"
               "output/html/part05.html#table_6.2-1> for allowed values for each VR.")
    assert scrub(message) == "Invalid value for VR DA: '…'."


def test_scrub_drops_double_quoted_values_too():
    # a value in double quotes (as a repr of a string holding a single quote) is a value as well
    assert scrub('Invalid value for VR PN: "O\'Brien^Mary" in (0010,0010)') == \
        "Invalid value for VR PN: '…' in (0010,0010)"


def test_warnings_and_reader_logs_are_collected_once_and_not_shown(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler()            # what the CLI's basicConfig installs
    root.addHandler(handler)
    try:
        with captured_messages() as messages:
            logging.getLogger("pydicom").warning("Invalid value for VR IS: 'inf'")
            warnings.warn("Invalid value for VR IS: 'inf'", UserWarning)     # pydicom's warn_and_log does both
            logging.getLogger("pydicom.pixels").error("cannot decode")
            logging.getLogger("pydicom").debug("chatter")                    # below WARNING: not kept
        logging.getLogger("pydicom").warning("after the block")              # propagates again
    finally:
        root.removeHandler(handler)
    assert messages == ["Invalid value for VR IS: '…'", "cannot decode"]
    err = capsys.readouterr().err
    assert "inf" not in err and "cannot decode" not in err and "after the block" in err
    assert logging.getLogger("pydicom").propagate


def test_messages_are_kept_when_the_block_raises():
    try:
        with captured_messages() as messages:
            logging.getLogger("pydicom").warning("broken header")
            raise ValueError("unreadable")
    except ValueError:
        pass
    assert messages == ["broken header"]
