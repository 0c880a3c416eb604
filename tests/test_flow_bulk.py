"""Prefect never walks a batch: no per-email or per-row object is visited by Prefect's
`visit_collection` when a flow passes, returns or reports a batch (issue 11, goal 2).

Prefect visits every task argument, every task result (one level deep) and every flow's
return value looking for futures; each visited object is Python work per email. The flows
quote their bulk arguments (`bulk`) and return lists as `Rows` (flows/bulk.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from breadcrumbs.detect import Cold, Skipped
from breadcrumbs.follow_up import FollowUpReport, Outcome
from breadcrumbs.records import Composed, Due
from breadcrumbs.settings import Workspace
from breadcrumbs.validate import Contact, Interaction, Reject
from tests.follow_up_support import outbox, sync, write_profile, write_sheet

# What there is one of per person, email or sheet row.
PER_ROW = (Due, Composed, Outcome, Skipped, Cold, Contact, Interaction, Reject)
PEOPLE = 40


@pytest.fixture
def visited(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The type names of the per-row objects Prefect's visit_collection descends to.

    visit_collection recurses through its own module's global name, so wrapping that name
    sees every nested visit, whoever made the first call."""
    import prefect.utilities.collections as collections

    seen: list[str] = []
    original = collections.visit_collection

    def counting(expr: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(expr, PER_ROW):
            seen.append(type(expr).__name__)
        return original(expr, *args, **kwargs)

    monkeypatch.setattr(collections, "visit_collection", counting)
    yield seen


def outcomes(n: int) -> list[Outcome]:
    return [
        Outcome(f"thank-you:{i}", "thank-you", f"p{i}@example.com", f"P {i}", "Thanks", "written")
        for i in range(n)
    ]


def test_prefect_walks_every_row_of_a_list_but_none_of_rows(visited: list[str]) -> None:
    """The same report returned plainly costs a visit per outcome; with its lists as Rows,
    none, and it reads as before (length, order, slices, equality, a new list added)."""
    from breadcrumbs.flows.bulk import Rows, unwalked
    from prefect.futures import resolve_futures_to_states

    plain = FollowUpReport("outbox", False, outcomes=outcomes(500), today=date(2026, 11, 25))
    assert resolve_futures_to_states(plain) is plain  # what a flow's return value goes through
    assert len(visited) == 500

    visited.clear()
    wrapped = unwalked(plain)
    assert id(resolve_futures_to_states(wrapped)) == id(wrapped)
    assert visited == []
    assert isinstance(wrapped.outcomes, Rows) and isinstance(wrapped.cold, Rows)
    assert wrapped.outcomes == plain.outcomes and len(wrapped.outcomes) == 500
    assert wrapped.outcomes[:2] == plain.outcomes[:2] and wrapped.count("written") == 500
    assert list(wrapped.outcomes + wrapped.outcomes[:1])[-1] == plain.outcomes[0]
    assert (wrapped.mode, wrapped.today, wrapped.notes) == ("outbox", date(2026, 11, 25), [])


def network(workspace: Workspace, met: str) -> None:
    """PEOPLE contacts met on `met`, one conversation refused (a date that is no date)."""
    contacts = ["email,name"] + [f"p{i}@example.com,Person {i}" for i in range(PEOPLE)]
    talks = ["date,contact,kind,topic,notes,referrals"]
    talks += [f"{met},p{i}@example.com,coffee,data,," for i in range(PEOPLE)]
    talks.append("someday,p0@example.com,call,,,")
    write_profile(workspace)
    write_sheet(workspace, "\n".join(contacts))
    sync(workspace)  # remembers the source; the flow's own sync then reads the network
    write_sheet(workspace, "\n".join(contacts), "\n".join(talks))


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server", "today")
def test_a_follow_up_flow_run_visits_no_email_and_no_row(
    workspace: Workspace, visited: list[str]
) -> None:
    """Sync as a subflow (with a reject), detect, compose, deliver and the flow's report:
    Prefect sees each batch as one value, so what it does is the same at any batch size."""
    from breadcrumbs.flows.follow_up_flow import follow_up

    network(workspace, "2026-11-24")
    state = follow_up(workspace=str(workspace.root), return_state=True)
    assert state.is_completed(), state
    report = state.result()
    assert report.count("written") == PEOPLE and len(outbox(workspace)) == PEOPLE
    assert visited == []


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_a_monthly_digest_flow_run_visits_no_email_and_no_row(
    workspace: Workspace, visited: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from breadcrumbs.flows.digest_flow import monthly_digest

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    network(workspace, "2026-10-20")
    state = monthly_digest(workspace=str(workspace.root), return_state=True)
    assert state.is_completed(), state
    report = state.result()
    assert report.count("written") == PEOPLE and len(outbox(workspace)) == PEOPLE
    assert visited == []


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_a_progress_artifact_is_updated_a_bounded_number_of_times_at_any_batch_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten thousand emails delivered: the progress artifact is updated once per SHOW_EVERY
    seconds at most (and once at the end), never once per email; it ends at 100%."""
    import time

    from breadcrumbs.flows import artifacts
    from prefect import flow
    from prefect.client.orchestration import get_client

    shown: list[float] = []
    real = artifacts.update_progress_artifact

    def update(artifact_id: Any, progress: float, *args: Any, **kwargs: Any) -> Any:
        shown.append(progress)
        return real(artifact_id, progress, *args, **kwargs)

    monkeypatch.setattr(artifacts, "update_progress_artifact", update)

    @flow(persist_result=False)
    def deliver_ten_thousand() -> tuple[UUID, float]:
        progress = artifacts.Progress("progress-bounded-test", "a batch of 10,000")
        start = time.monotonic()
        for done in range(1, 10_001):
            progress(done, 10_000)
        progress.finish()
        return progress.id, time.monotonic() - start

    artifact_id, took = deliver_ten_thousand()
    assert 1 <= len(shown) <= 1 + took / artifacts.SHOW_EVERY + 1
    assert shown[-1] == 100.0
    with get_client(sync_client=True) as client:
        stored = client.read_artifacts()
    assert [float(str(a.data)) for a in stored if a.id == artifact_id] == [100.0]
