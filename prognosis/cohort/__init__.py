"""Cohort assembly: read and validate tables, join them, derive the endpoint, count exclusions."""

from prognosis.cohort.assemble import Cohort, assemble_cohort
from prognosis.cohort.flow import FlowStep
from prognosis.cohort.readers import Table, read_raw, read_table
from prognosis.cohort.variable import Variable

__all__ = ["Cohort", "FlowStep", "Table", "Variable", "assemble_cohort", "read_raw", "read_table"]
