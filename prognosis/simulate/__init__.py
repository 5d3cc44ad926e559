"""Simulated data: the demo cohort (and, later, study-design cohorts and phantom mammograms).

Everything here is synthetic; no record describes a real patient. Import from the submodules,
e.g. ``from prognosis.simulate.demo import simulate_demo_cohort``. (Nothing is re-exported here
so that ``python -m prognosis.simulate.demo`` runs without runpy's double-import warning.)
"""
