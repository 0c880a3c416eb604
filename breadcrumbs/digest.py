"""The monthly update (issue #9): who gets month M's update, its emails, delivered once each.

The month's first run decides: everyone you have talked with, mailable, with no update for M
and no touch in the quiet period, is listed in the ledger. Later runs that month deliver only
what the daily cap, the gap between emails, a limit or a failure held back; nobody is added
mid-month, and what its month outlived is withdrawn (store/roster.py). One function sequences
the stages, and the Prefect flow (flows/digest_flow.py) passes its tasks in their place, as
the follow-up does (follow_up.py). Stages exchange only small values: the emails themselves
go from compose to deliver through the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from breadcrumbs import clock
from breadcrumbs.activity import shared_context
from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
from breadcrumbs.deliver.mailer import Mailer
from breadcrumbs.detect import (
    Skipped,
    apply_etiquette,
    find_monthly_candidates,
    listed_keys,
    listed_readers,
)
from breadcrumbs.errors import BreadcrumbsError, TemplateError, UnsafeHeaderError
from breadcrumbs.follow_up import (
    Outcome,
    Progress,
    deliver_in_mode,
    load_checked_profile,
    taken_today,
    touches_stage,
)
from breadcrumbs.profile import Profile
from breadcrumbs.records import Composed, Due
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import hold, hold_planned
from breadcrumbs.store.roster import (
    OPEN,
    decided_on,
    fill_listed,
    list_recipients,
    month_counts,
    withdraw_past_months,
)

if TYPE_CHECKING:
    import duckdb

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def parse_month(text: str | None, today: date | None = None) -> str:
    """ "YYYY-MM", by default the current month in the user's time zone."""
    if not text:
        return (today or clock.today()).strftime("%Y-%m")
    if not _MONTH.fullmatch(text.strip()):
        raise BreadcrumbsError(f"month {text!r}: write it as YYYY-MM, e.g. 2026-12")
    return text.strip()


def check_deliverable(month: str, today: date) -> None:
    """Updates go only in their own month: never a November update in December."""
    current = today.strftime("%Y-%m")
    if month < current:
        raise BreadcrumbsError(f"{month} is over: its updates are withdrawn, never sent late")
    if month > current:
        raise BreadcrumbsError(f"{month} has not begun: its first run decides who gets its update")


@dataclass
class MonthlyDetection:
    """Who gets an update now and who waits, for one month (small: the flow passes it on)."""

    month: str
    first_run: bool  # this run decides the month's list
    due: Sequence[Due]
    waiting: Sequence[Skipped]
    listed: int  # people on the month's list (decided now or earlier)
    open_rows: int  # of them, not delivered yet
    decided: str | None = None  # the day the month's list was decided


@dataclass
class DigestReport:
    month: str
    mode: str
    dry_run: bool
    today: date
    first_run: bool = False
    listed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    waiting: Sequence[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)  # the month's ledger rows by state
    summary: str = ""  # what every reader's update says alike, in Markdown

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def detect_stage(
    workspace: Workspace, profile: Profile, month: str, record: bool = True
) -> MonthlyDetection:
    """Withdraw past months, then who is due this month; the first run lists its recipients."""
    today = clock.today()
    with open_store(workspace) as con:
        withdraw_past_months(con, today)
        decided = decided_on(con, month)
        scope = "first" if decided is None else "listed"
        candidates, quiet = find_monthly_candidates(
            con, today, month, profile.etiquette, profile.me.email, scope
        )
        taken = taken_today(con, today, profile.etiquette)
        detection = apply_etiquette(candidates, today, profile.etiquette, taken)
        listed = listed_readers(candidates)  # one per address, each built when read
        if decided is None and record:
            # Everyone etiquette merely holds back today (the cap, the gap) is on the list
            # too: a later run this month delivers them. Nobody else joins later.
            list_recipients(con, month, listed_keys(candidates, month), "outbox")
            decided = today.isoformat()
        counts = month_counts(con, month)
    total = sum(counts.values()) if scope == "listed" or record else len(listed)
    open_rows = sum(counts.get(s, 0) for s in OPEN) if scope == "listed" or record else total
    return MonthlyDetection(
        month,
        scope == "first",
        detection.due,
        quiet + detection.waiting,
        total,
        open_rows,
        decided,
    )


def compose_stage(
    workspace: Workspace, profile: Profile, due: list[Due], mode: str, record: bool = True
) -> tuple[list[Outcome], str]:
    """Compose each due update; record them in the ledger as planned, ready to deliver.

    Returns the emails that could not be composed (and, in a dry run, those that would
    go), and the month's shared part as sent, in Markdown, for the summary.
    """
    today = clock.today()
    with open_store(workspace) as con:
        shared = shared_context(con, today)
        dirs = (workspace.templates, DEFAULT_TEMPLATES)
        composer = Composer(profile, today, dirs, mode, shared)
        planned_at = clock.now()
        composed: list[Composed] = []
        outcomes: list[Outcome] = []
        for item in due:
            try:
                composed.append(composer.compose(item, planned_at))
            except (TemplateError, UnsafeHeaderError) as exc:
                outcomes.append(
                    Outcome(item.key, item.kind, item.email, item.name, "", "skipped", str(exc))
                )
        if record:
            filled = fill_listed(con, composed, mode)
            hold_planned(workspace.root, con, filled)  # for delivery on this connection
            if mode == "outbox":  # the ledger keeps their file names: deliver takes them
                hold(workspace.root, [c.email for c in composed])
        else:
            outcomes += [
                Outcome(
                    c.email.key,
                    "monthly",
                    c.email.to_addr,
                    c.due.name,
                    c.email.subject,
                    "would send",
                    c.due.reason,
                )
                for c in composed
            ]
    return outcomes, summary_markdown(shared)


def summary_markdown(shared: dict[str, object]) -> str:
    """What this month's update tells every reader, in a few lines for the run's summary."""
    activity: dict[str, object] = shared["activity"]  # type: ignore[assignment]
    prospects: list[dict[str, str]] = shared["prospects"]  # type: ignore[assignment]
    wanted: list[str] = shared["referral_companies"]  # type: ignore[assignment]
    lines = [
        f"- Over the last {activity['days']} days: {activity['conversations']} conversations, "
        f"{activity['people_met']} new people, {activity['referrals']} referrals, "
        f"{activity['interviews']} interviews",
        "- Companies: " + (", ".join(activity["companies"]) or "none"),  # type: ignore[arg-type]
        "- Prospects shared: "
        + ("; ".join(f"{p['company']}, {p['role']} ({p['stage']})" for p in prospects) or "none"),
        "- Referrals asked into: " + (", ".join(wanted) or "none"),
    ]
    return "\n".join(lines)


def deliver_stage(
    workspace: Workspace,
    mode: str,
    profile: Profile,
    mailer: Mailer | None = None,
    progress: Progress | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[Outcome]:
    """Deliver what the ledger holds ready: this run's updates and any held back earlier."""
    return deliver_in_mode(workspace, mode, profile, [], mailer, progress, then)


@dataclass(frozen=True)
class DigestStages:
    """The stages of one digest run; the flow passes its tasks in their place."""

    touches: Callable[[Workspace, Profile], str] = touches_stage
    detect: Callable[..., MonthlyDetection] = detect_stage
    compose: Callable[..., tuple[list[Outcome], str]] = compose_stage
    deliver: Callable[..., list[Outcome]] = deliver_stage


def run_digest(
    workspace: Workspace,
    month: str | None = None,
    mode: str = "outbox",
    limit: int | None = None,
    dry_run: bool = False,
    mailer: Mailer | None = None,
    progress: Progress | None = None,
    read_mailbox: bool | None = None,
    stages: DigestStages = DigestStages(),
) -> DigestReport:
    """Detect, compose and deliver this month's updates; the caller syncs first."""
    profile = load_checked_profile(workspace)
    today = clock.today()
    chosen = parse_month(month, today)
    check_deliverable(chosen, today)
    report = DigestReport(chosen, mode, dry_run, today)
    if read_mailbox if read_mailbox is not None else mode != "outbox":
        report.notes.append(stages.touches(workspace, profile))
    detection = stages.detect(workspace, profile, chosen, not dry_run)
    report.first_run, report.listed, report.waiting = (
        detection.first_run,
        detection.listed,
        detection.waiting,
    )
    if detection.open_rows == 0 and not detection.first_run:
        report.notes.append(
            f"nothing left to deliver for {chosen}: its list was decided on "
            f"{detection.decided} and every update on it has gone or was withdrawn"
        )
        return _finish(workspace, report)
    due = detection.due[:limit] if limit is not None else detection.due
    outcomes, summary = stages.compose(workspace, profile, due, mode, not dry_run)
    report.outcomes += outcomes
    report.summary = summary
    if not dry_run:
        names = {d.key: d.name for d in due}
        extra: dict[str, Any] = (
            {"mailer": mailer, "progress": progress} if mailer or progress else {}
        )
        counted = stages.deliver is deliver_stage
        if counted:
            # Run here, not as a flow's task: the month's counts are read on delivery's
            # connection as it closes, not by opening the store again (issue 11).
            extra["then"] = lambda con: report.states.update(month_counts(con, chosen))
        delivered = stages.deliver(workspace, mode, profile, **extra)
        report.outcomes += [
            Outcome(o.key, o.kind, o.to, names.get(o.key, o.name), o.subject, o.state, o.reason)
            for o in delivered
        ]
        if counted:
            return report
    return _finish(workspace, report)


def _finish(workspace: Workspace, report: DigestReport) -> DigestReport:
    if not report.dry_run:
        with open_store(workspace) as con:
            report.states = month_counts(con, report.month)
    return report


def preview_monthly(workspace: Workspace, profile: Profile, key: str) -> Composed:
    """`monthly:<contact>:<YYYY-MM>` as its reader would get it today, due or not."""
    contact_id, _, month = key.removeprefix("monthly:").rpartition(":")
    if not contact_id:
        raise BreadcrumbsError(f"{key!r}: a monthly key reads monthly:<contact>:<YYYY-MM>")
    month = parse_month(month)
    today = clock.today()
    with open_store(workspace) as con:
        found, _ = find_monthly_candidates(
            con, today, month, profile.etiquette, profile.me.email, "any", contact_id
        )
        shared = shared_context(con, today)
    if not found:
        raise BreadcrumbsError(
            f"no contact {contact_id!r} you have talked with; see `breadcrumbs due`"
        )
    composer = Composer(profile, today, (workspace.templates, DEFAULT_TEMPLATES), shared=shared)
    return composer.compose(found[0].due, clock.now())
