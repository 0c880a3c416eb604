"""One follow-up batch: detect who is due, compose their emails, deliver each exactly once.

Plain Python, one function per stage, so follow_up_flow.py can make each a Prefect task and
the CLI can run them directly. Every per-email truth lives in the ledger (ledger.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from breadcrumbs import clock
from breadcrumbs.activity import shared_context
from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
from breadcrumbs.deliver.mailer import Mailer
from breadcrumbs.deliver.outbox import OutboxMailer, file_name
from breadcrumbs.detect import (
    Cold,
    Detection,
    Skipped,
    cold_except,
    detect,
    going_cold,
    room_today,
)
from breadcrumbs.errors import (
    AuthError,
    BreadcrumbsError,
    DeliveryFailed,
    DeliveryUnknown,
    QuotaExhausted,
    TemplateError,
    UnsafeHeaderError,
)
from breadcrumbs.moments import withdraw_reason
from breadcrumbs.profile import Etiquette, Profile, load_profile, require_sender
from breadcrumbs.records import Composed, Due, OutgoingEmail
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.identity import readdress_waiting
from breadcrumbs.store.ledger import (
    UNSETTLED,
    WAITING,
    Row,
    delivered_today,
    due_from_json,
    forget,
    plan_rows,
    recompose,
    rows_in,
    set_state,
    take_held,
    take_planned,
    waiting_moments,
)
from breadcrumbs.store.roster import withdraw_past_months

if TYPE_CHECKING:
    import duckdb

Progress = Callable[[int, int], None]
# What a dry run says of each email, by mode: the outbox never sends anything.
WOULD = {"outbox": "would write", "drafts": "would draft", "send": "would send"}


@dataclass(frozen=True)
class Outcome:
    key: str
    kind: str
    to: str
    name: str
    subject: str
    state: str  # a ledger state, or "skipped" / "would write" (a dry run: see WOULD)
    reason: str = ""


@dataclass
class FollowUpReport:
    mode: str
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    waiting: Sequence[Skipped] = field(default_factory=list)
    cold: Sequence[Cold] = field(default_factory=list)
    today: date | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def load_checked_profile(workspace: Workspace) -> Profile:
    profile = load_profile(workspace.profile_path)
    require_sender(profile, workspace.profile_path)
    return profile


def taken_today(con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette) -> int:
    """What already counts against today's cap: what left today, and what waits from
    earlier runs and still fits its moment (it leaves first: the cap leaves room for it)."""
    earlier = sum(
        1
        for key, kind, for_date in waiting_moments(con)
        if withdraw_reason(key, kind, for_date, today, etiquette) is None
    )
    return delivered_today(con) + earlier


def detect_stage(workspace: Workspace, profile: Profile) -> Detection:
    today = clock.today()
    with open_store(workspace) as con:
        taken = taken_today(con, today, profile.etiquette)
        return detect(con, today, profile.etiquette, profile.me.email, taken)


def compose_stage(
    workspace: Workspace, profile: Profile, due: Sequence[Due], mode: str = "outbox"
) -> tuple[list[Composed], list[Outcome]]:
    """Render every due email; one that fails is skipped with its reason, the rest go on."""
    composer = _composer(workspace, profile, mode)
    planned_at = clock.now()
    composed, failed = [], []
    for item in due:
        try:
            composed.append(composer.compose(item, planned_at))
        except (TemplateError, UnsafeHeaderError) as exc:
            failed.append(
                Outcome(item.key, item.kind, item.email, item.name, "", "skipped", str(exc))
            )
    return composed, failed


def _withdraw_blocked(con: duckdb.DuckDBPyConnection) -> set[str]:
    """An email waiting from an earlier run whose person opted out or bounced since: never.
    Returns the keys withdrawn."""
    withdrawn = con.execute(
        """
        UPDATE messages SET state = 'failed', updated_at = ?,
            reason = 'withdrawn: the address opted out or bounced before delivery'
        WHERE state IN ('planned', 'deferred') AND (
            lower(email) IN (SELECT email FROM opt_outs)
            OR lower(email) IN (SELECT email FROM unmailable)
            OR contact_id IN (SELECT contact_id FROM contacts WHERE opt_out))
        RETURNING key
        """,
        [clock.now()],
    ).fetchall()
    return {str(r[0]) for r in withdrawn}


def _composer(
    workspace: Workspace, profile: Profile, mode: str, shared: dict[str, Any] | None = None
) -> Composer:
    dirs = (workspace.templates, DEFAULT_TEMPLATES)
    return Composer(profile, clock.today(), dirs, mode, shared)


def _late(row: Row, today: date, etiquette: Etiquette) -> str | None:
    return withdraw_reason(row.key, row.kind, row.for_date, today, etiquette)


def _in_moment(
    con: duckdb.DuckDBPyConnection, queue: list[Row], etiquette: Etiquette
) -> tuple[list[Row], list[Outcome]]:
    """Withdraw what is past its moment (kept in the ledger with the reason, so its key is
    never planned again); forget a row an older version planned without its Due, so the
    next detection plans it afresh (it certainly never left)."""
    today = clock.today()
    fitting, outcomes, older = [], [], []
    for row in queue:
        reason = _late(row, today, etiquette)
        if reason is not None:
            set_state(con, [row.key], "withdrawn", reason)
            outcomes.append(_outcome(row, "withdrawn", reason))
        elif row.due is None:
            older.append(row.key)
            outcomes.append(
                _outcome(row, "skipped", "planned by an older version: composed afresh next run")
            )
        else:
            fitting.append(row)
    forget(con, older)
    return fitting, outcomes


def _compose_again(
    con: duckdb.DuckDBPyConnection,
    queue: list[Row],
    composer: Callable[[], Composer],
    readdressed: set[str],
    held: dict[str, OutgoingEmail],
) -> tuple[list[Row], list[Outcome]]:
    """A row planned on an earlier day is composed again now: its Date and its words are
    of the day it leaves; so is one whose person has moved to another address since it was
    planned (store/identity.py). One whose template fails now waits, with the reason.

    An outbox row keeps no message (ledger.plan): this run's own take theirs from `held`
    (this run composed them); one an earlier run planned today is composed again as of its
    planned_at, the same Date and Message-ID, so the same bytes."""
    today, now = clock.today(), clock.now()
    ready, skipped = [], []
    for row in queue:
        if row.planned_on >= today and row.key not in readdressed:
            if row.raw is None:
                mine = held.get(row.key)
                # This run's message only for the row this run planned (same planned_at).
                raw = mine.raw if mine and mine.planned_at == row.planned_at else None
                if raw is None:
                    assert row.due is not None  # as below
                    try:
                        again = composer().compose(due_from_json(row.due), row.planned_at)
                        raw = again.email.raw
                    except (TemplateError, UnsafeHeaderError) as exc:
                        skipped.append(_outcome(row, "skipped", f"{exc} (waits for the next run)"))
                        continue
                row = row.with_raw(raw)
            ready.append(row)
            continue
        assert row.due is not None  # _in_moment has forgotten the rows that keep none
        due = due_from_json(row.due)
        if row.key in readdressed:
            due = replace(due, email=row.email)
        try:
            composed = composer().compose(due, now)
        except (TemplateError, UnsafeHeaderError) as exc:
            skipped.append(_outcome(row, "skipped", f"{exc} (waits for the next run)"))
            continue
        recompose(con, composed)
        email = composed.email
        ready.append(
            replace(
                row,
                email=email.to_addr,
                subject=email.subject,
                raw=email.raw,
                planned_at=email.planned_at,
                planned_on=today,
                file_name=None if row.file_name is None else file_name(email),
            )
        )
    return ready, skipped


def _outcome(row: Row, state: str, reason: str = "", name: str = "") -> Outcome:
    return Outcome(row.key, row.kind, row.email, name, row.subject, state, reason)


def settle(con: duckdb.DuckDBPyConnection, mailer: Mailer) -> list[Outcome]:
    """Look up every delivery a crash or timeout left uncertain, before anything is sent."""
    outcomes = []
    for row in rows_in(con, UNSETTLED, [mailer.mode]):
        try:
            found = mailer.find_delivered(row.outgoing())
        except BreadcrumbsError as exc:
            outcomes.append(_outcome(row, "unknown", f"could not look it up yet: {exc}"))
            continue
        if found is not None:
            set_state(con, [row.key], found.state, "found delivered on reconcile", found)
            outcomes.append(_outcome(row, found.state, "found delivered on reconcile"))
        else:
            set_state(con, [row.key], "planned", "not delivered by an earlier run")
    return outcomes


def deliver_stage(
    workspace: Workspace,
    mailer: Mailer,
    composed: list[Composed],
    progress: Progress | None = None,
    profile: Profile | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[Outcome]:
    """Settle, then deliver what waits from earlier runs and this run's new emails: each in
    its moment, composed on the day it leaves, and no more than the cap lets leave today.

    `then` reads what the run reports after delivery (going cold, the month's counts) on
    the same connection before it closes, instead of opening the store again (issue 11)."""
    profile = profile or load_checked_profile(workspace)
    etiquette = profile.etiquette
    with open_store(workspace) as con:
        outcomes = settle(con, mailer)
        readdressed = readdress_waiting(con)
        blocked = _withdraw_blocked(con)
        withdraw_past_months(con, clock.today())
        # This run holds the workspace lock, so every waiting row is ours to deliver: those
        # an earlier run planned or deferred (quota, a crash), read before this run records
        # its own, and the new ones as plan_rows recorded them, with the messages this run
        # composed (issue 11: not read back and matched again), in the ledger's order.
        # The digest's compose stage recorded its rows on this same connection: taken as
        # it recorded them, not read back (issue 11), but those the three statements above
        # changed since (settle and withdraw_past_months touch no `planned` row).
        filled = [
            r
            for r in take_planned(workspace.root, con)
            if r.mode == mailer.mode and r.key not in readdressed and r.key not in blocked
        ]
        earlier = rows_in(con, WAITING, [mailer.mode], [r.key for r in filled])
        waiting = earlier + filled + plan_rows(con, composed, mailer.mode)
        waiting.sort(key=_ledger_order)
        names = {c.email.key: c.due.name for c in composed}
        queue, not_now = _in_moment(con, waiting, etiquette)
        # The cap counts what leaves today, whatever day it was planned (issue 8, defect 4);
        # the rest stays waiting for the next run.
        room = room_today(etiquette, delivered_today(con))
        not_now += [
            _outcome(r, r.state, f"daily cap of {etiquette.daily_cap} reached: waits for tomorrow")
            for r in queue[room:]
        ]
        # This run's messages, and those the digest's compose stage held (ledger.hold).
        held = {**take_held(workspace.root), **{c.email.key: c.email for c in composed}}
        made: list[Composer] = []

        def composer() -> Composer:
            """Made when a row is first composed again (most runs compose none: 11 ms of
            shared context saved, issue 11). A monthly update composed again says this
            month's activity as of today; delivery writes nothing that activity reads."""
            if not made:
                shared = shared_context(con, clock.today())
                made.append(_composer(workspace, profile, mailer.mode, shared))
            return made[0]

        queue, skipped = _compose_again(con, queue[:room], composer, readdressed, held)
        not_now += skipped
        if mailer.mode == "outbox":
            delivered = _deliver_bulk(con, mailer, queue, progress, names)
        else:
            delivered = _deliver_one_by_one(con, mailer, queue, progress, names)
        if then is not None:
            then(con)
    return outcomes + not_now + delivered


def _ledger_order(row: Row) -> tuple[datetime, str]:
    return row.planned_at, row.key  # rows_in's ORDER BY planned_at, key


def _deliver_bulk(
    con: duckdb.DuckDBPyConnection,
    mailer: Mailer,
    queue: list[Row],
    progress: Progress | None,
    names: dict[str, str],
) -> list[Outcome]:
    """Outbox: a file on disk is its own proof, so states move in bulk (few transactions)."""
    if isinstance(mailer, OutboxMailer):
        mailer.remove_partial_files()
    set_state(con, [r.key for r in queue], "sending", count_attempt=True)
    outcomes, written, failed = [], [], []
    for done, row in enumerate(queue, 1):
        try:
            delivery = mailer.deliver(row.outgoing())
        except DeliveryFailed as exc:
            failed.append(row.key)
            outcomes.append(_outcome(row, "deferred", str(exc), names.get(row.key, "")))
        else:
            written.append(row.key)
            outcomes.append(
                _outcome(row, delivery.state, delivery.provider_id or "", names.get(row.key, ""))
            )
        if progress:
            progress(done, len(queue))
    set_state(con, written, "written")
    # A file that could not be written (a full disk, a permission) certainly was not: the
    # email waits for the next run rather than being given up.
    set_state(con, failed, "deferred", "could not write the file: waits for the next run")
    return outcomes


def _deliver_one_by_one(
    con: duckdb.DuckDBPyConnection,
    mailer: Mailer,
    queue: list[Row],
    progress: Progress | None,
    names: dict[str, str],
) -> list[Outcome]:
    """Gmail: each row is committed as `sending` before its request leaves."""
    outcomes = []
    for done, row in enumerate(queue, 1):
        name = names.get(row.key, "")
        set_state(con, [row.key], "sending", count_attempt=True)
        try:
            delivery = mailer.deliver(row.outgoing())
        except (QuotaExhausted, AuthError) as exc:
            # Both are answered before Gmail accepts anything: this email and the rest of
            # the batch certainly did not leave, and wait for the next run.
            rest = [r.key for r in queue[done - 1 :]]
            set_state(con, rest, "deferred", f"{exc} (waits for the next run)")
            outcomes += [
                _outcome(r, "deferred", str(exc), names.get(r.key, "")) for r in queue[done - 1 :]
            ]
            break
        except DeliveryUnknown as exc:
            set_state(con, [row.key], "unknown", str(exc))
            outcomes.append(_outcome(row, "unknown", str(exc), name))
        except DeliveryFailed as exc:
            set_state(con, [row.key], "failed", str(exc))
            outcomes.append(_outcome(row, "failed", str(exc), name))
        else:
            set_state(con, [row.key], delivery.state, None, delivery)
            outcomes.append(_outcome(row, delivery.state, "", name))
        if progress:
            progress(done, len(queue))
    return outcomes


def cold_stage(workspace: Workspace, profile: Profile) -> Sequence[Cold]:
    with open_store(workspace) as con:
        return going_cold(con, clock.today(), profile.etiquette, profile.me.email)


def call_list(cold: Sequence[Cold], due: Sequence[Due]) -> Sequence[Cold]:
    """Going cold, less the people an email is due to now (a referral's intro): a person is
    written to or called, not both at once."""
    return cold_except(cold, {d.contact_id for d in due})


def make_mailer(workspace: Workspace, mode: str, profile: Profile) -> Mailer:
    if mode == "outbox":
        from breadcrumbs.deliver.outbox import OutboxMailer

        return OutboxMailer(workspace.outbox)
    if mode in ("drafts", "send"):
        from breadcrumbs.deliver.gmail import gmail_mailer
        from breadcrumbs.google.api import Pacer
        from breadcrumbs.google.auth import SECRET_BLOCK_ENV, credentials_for

        pacer = Pacer(profile.gmail.units_per_minute)
        # A token from a Prefect Secret block is passed in (refreshed in memory only).
        creds = credentials_for(workspace.root)[0] if os.environ.get(SECRET_BLOCK_ENV) else None
        kind: Literal["drafts", "send"] = "send" if mode == "send" else "drafts"
        return gmail_mailer(
            kind, workspace.root, creds=creds, pacer=pacer, timeout=profile.gmail.timeout_seconds
        )
    raise BreadcrumbsError(f"unknown mode {mode!r}: choose outbox, drafts or send")


def touches_stage(workspace: Workspace, profile: Profile, days: int = 60) -> str:
    """With Gmail, read recent mail first: a reply is a touch, a bounce stops mail."""
    from googleapiclient.errors import HttpError

    from breadcrumbs.google.mailbox import run_mailbox_touches

    try:
        touches, bounces = run_mailbox_touches(workspace, profile.me.email, days, clock.today())
    except (BreadcrumbsError, HttpError) as exc:
        # Not fatal: the ledger alone already prevents every repeat.
        return f"mailbox not read ({exc}); touches may be out of date"
    return f"mailbox read: {touches} new touches, {bounces} new bounces"


def write_back_stage(workspace: Workspace, profile: Profile) -> str | None:
    """If asked (`[source] write_back`) and the source is a Google Sheet, update its column."""
    if not profile.source.write_back:
        return None
    from googleapiclient.errors import HttpError

    from breadcrumbs.google.api import build_sheets
    from breadcrumbs.google.auth import credentials_for, ensure_fresh
    from breadcrumbs.google.write_back import write_back
    from breadcrumbs.sources.read import sheet_id_of
    from breadcrumbs.sync import resolve_source

    try:
        sheet_id = sheet_id_of(resolve_source(workspace, None, profile))
        if sheet_id is None:
            return "write_back is on, but the source is not a Google Sheet: nothing written"
        creds, save_to = credentials_for(workspace.root)
        ensure_fresh(creds, save_to)
        with open_store(workspace) as con:
            rows = write_back(build_sheets(creds), sheet_id, con)
    except (BreadcrumbsError, HttpError) as exc:
        return f"status column not written ({exc}); run `breadcrumbs auth --sheets-write`?"
    return f"status written to the sheet for {rows} rows"


def deliver_in_mode(
    workspace: Workspace,
    mode: str,
    profile: Profile,
    composed: list[Composed],
    mailer: Mailer | None = None,
    progress: Progress | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[Outcome]:
    return deliver_stage(
        workspace,
        mailer or make_mailer(workspace, mode, profile),
        composed,
        progress,
        profile,
        then,
    )


@dataclass(frozen=True)
class Stages:
    """The stages one batch runs through. The Prefect flow passes its tasks in their place,
    so the CLI and the flow sequence one batch in exactly the same way."""

    touches: Callable[[Workspace, Profile], str] = touches_stage
    detect: Callable[[Workspace, Profile], Detection] = detect_stage
    compose: Callable[
        [Workspace, Profile, Sequence[Due], str], tuple[list[Composed], list[Outcome]]
    ] = compose_stage
    deliver: Callable[..., list[Outcome]] = deliver_in_mode


def run_follow_up(
    workspace: Workspace,
    mode: str = "outbox",
    limit: int | None = None,
    dry_run: bool = False,
    mailer: Mailer | None = None,
    progress: Progress | None = None,
    read_mailbox: bool | None = None,
    stages: Stages = Stages(),
) -> FollowUpReport:
    """Detect, compose and deliver; the caller syncs first (see cli.py, follow_up_flow.py).

    `read_mailbox` (default: in the Gmail modes) records recent replies and bounces first.
    """
    profile = load_checked_profile(workspace)
    report = FollowUpReport(mode, dry_run, today=clock.today())
    if read_mailbox if read_mailbox is not None else mode != "outbox":
        report.notes.append(stages.touches(workspace, profile))
    detection = stages.detect(workspace, profile)
    report.waiting = detection.waiting
    due = detection.due[:limit] if limit is not None else detection.due
    composed, failed = stages.compose(workspace, profile, due, mode)
    report.outcomes += failed
    cold: list[Sequence[Cold]] = []
    if dry_run:
        report.outcomes += [
            Outcome(
                c.email.key, c.due.kind, c.email.to_addr, c.due.name, c.email.subject, WOULD[mode]
            )
            for c in composed
        ]
    else:
        extra: dict[str, Any] = (
            {"mailer": mailer, "progress": progress} if mailer or progress else {}
        )
        if stages.deliver is deliver_in_mode:
            # Run here, not as a flow's task: going cold is read on delivery's connection
            # as it closes (one store opening less). Nothing writes the store between the
            # two: write_back_stage only reads it.
            extra["then"] = lambda con: cold.append(
                going_cold(con, clock.today(), profile.etiquette, profile.me.email)
            )
        report.outcomes += stages.deliver(workspace, mode, profile, composed, **extra)
        note = write_back_stage(workspace, profile)
        if note:
            report.notes.append(note)
    report.cold = call_list(cold[0] if cold else cold_stage(workspace, profile), detection.due)
    return report
