"""What pydicom and the pixel decoders say about one file, captured for the failures report.

pydicom reports a malformed file both as a ``UserWarning`` and as a record of its ``pydicom``
logger (``misc.warn_and_log``); the CLI's logging would print each on the terminal, once per bad
file, with no file name. :func:`captured_messages` collects them per file instead, so that they go
into the image table (``reader_messages``) and the failures table beside the file they are about.

Quoted values are replaced by ``'…'``: pydicom quotes the offending value ("Invalid value for VR
DA: '19620317x'"), and the report carries locations, never patient values.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# loggers of the DICOM reader and of the decoder plugins pydicom may call
READER_LOGGERS = ("pydicom", "pylibjpeg", "openjpeg", "libjpeg", "jpeg_ls", "pyjpegls", "PIL")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SEE_STANDARD = re.compile(r"\s*Please see <[^>]*>[^.]*\.?")


def scrub(message: str) -> str:
    """A reader message without the values it quotes (and without pydicom's link to the standard)."""
    return " ".join(_QUOTED.sub("'…'", _SEE_STANDARD.sub("", message)).split())


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            text = f"{text} ({record.exc_info[0].__name__})"     # the type, not the traceback
        self.messages.append(scrub(text))


@contextmanager
def captured_messages() -> Iterator[list[str]]:
    """Collect warnings and reader log records (WARNING and above) raised inside the block.

    Yields a list that holds, after the block, each distinct message once, in order. While the
    block runs, the reader loggers do not propagate (nothing reaches the terminal) and Python
    warnings are recorded, not shown. Like :class:`warnings.catch_warnings` it changes process
    state: use it from one thread at a time (a batch runs one image per worker process).
    """
    messages: list[str] = []
    handler = _Collect(messages)
    loggers = [logging.getLogger(name) for name in READER_LOGGERS]
    propagate = [log.propagate for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield messages
            finally:
                messages.extend(scrub(str(w.message)) for w in caught)
    finally:
        for log, before in zip(loggers, propagate):
            log.removeHandler(handler)
            log.propagate = before
        # pydicom logs and warns the same text: keep one of each, in order
        messages[:] = list(dict.fromkeys(messages))
