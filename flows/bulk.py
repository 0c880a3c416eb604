"""Bulk data through Prefect without Prefect walking it (issue 11, goal 2).

Prefect visits every task argument and every flow's return value recursively
(`prefect.utilities.collections.visit_collection`), looking for futures and states: it
descends into lists, tuples, sets, dicts, dataclasses and pydantic models, one Python call
per element. A report of 10,000 outcomes is about 80,000 objects, 0.7 CPU-seconds per walk.

- `bulk(value)`: a task argument, quoted; the task receives the plain value.
- `Rows`: a list Prefect does not descend into. It is a `collections.UserList`, which is none
  of the types visit_collection walks (checked against Prefect 3.9's source;
  tests/test_flow_bulk.py fails if that changes). A flow returns its report with every list
  field as `Rows` (`unwalked`); it behaves as a list for whoever reads the report.
"""

from __future__ import annotations

import dataclasses
from collections import UserList
from typing import Any, TypeVar

from prefect.utilities.annotations import quote

T = TypeVar("T")


def bulk(value: Any) -> Any:
    """`value` wrapped so that Prefect passes it to a task without walking it.

    A quoted argument reaches the task as the plain value."""
    return quote(value)


class Rows(UserList[T]):
    """A list that Prefect's visit_collection sees as one opaque value."""

    @classmethod
    def of(cls, items: list[T]) -> Rows[T]:
        """`items` itself as Rows, without a copy."""
        rows: Rows[T] = cls()
        rows.data = items
        return rows


def unwalked(report: T) -> T:
    """The same report (a dataclass) with each list field as `Rows`, so that returning it
    from a flow costs Prefect one visit per field, not one per row."""
    if not dataclasses.is_dataclass(report) or isinstance(report, type):
        return report
    lists = {
        f.name: Rows.of(value)
        for f in dataclasses.fields(report)
        if f.init and isinstance(value := getattr(report, f.name), list)
    }
    return dataclasses.replace(report, **lists) if lists else report
