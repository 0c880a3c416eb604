"""Breadcrumbs: keeps a job seeker's networking from slipping.

The package is laid out as the stages of one pass of data (see DESIGN.md): read sources,
validate rows, load the store, detect who is due, compose emails, keep the ledger, deliver.
Flow modules (`*_flow.py`) only wire those stages together for Prefect.
"""

__version__ = "0.1.0"
