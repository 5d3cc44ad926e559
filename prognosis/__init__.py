"""prognosis: prognostic cohort studies in breast cancer around mammographic calcifications."""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prognosis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
