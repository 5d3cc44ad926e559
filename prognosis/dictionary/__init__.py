"""Data dictionaries: load the YAML, validate a table against it, coerce its types."""

from prognosis.dictionary.model import ColumnSpec, DataDictionary, load_dictionary
from prognosis.dictionary.validate import validate_table

__all__ = ["ColumnSpec", "DataDictionary", "load_dictionary", "validate_table"]
