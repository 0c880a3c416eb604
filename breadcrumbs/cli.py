"""The `breadcrumbs` command: thin wrappers over the plain-Python stages.

Heavy imports (Prefect takes about 2 s, DuckDB, Google's clients) happen inside the commands
that need them, so `breadcrumbs --help` answers at once.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from breadcrumbs.cli_help import Commands
from breadcrumbs.collector import collector_paused
from breadcrumbs.errors import BreadcrumbsError

app = typer.Typer(
    cls=Commands,
    name="breadcrumbs",
    help=(
        "Keep your job-search networking from slipping: sync your contacts sheet, then let "
        "Breadcrumbs write the thank-yous and intros that are due.\n\n"
        "Start with `breadcrumbs init`, then `breadcrumbs sync SOURCE`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# A list, so that `-w A -w B` is seen as the conflict it is rather than silently B. The
# option is taken before the command too (`breadcrumbs -w DIR sync`): see _options.
WorkspaceOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (env BREADCRUMBS_HOME; default: data/ of the checkout)",
        metavar="DIR",
        show_default=False,
    ),
]
PrefectOpt = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--no-prefect",
        help="Run as a Prefect flow, watched in the UI (default: when PREFECT_API_URL is set)",
        show_default=False,
    ),
]


# `--workspace` given before the command, set by _options on every invocation.
_before_command: list[Path] = []


@app.callback()
def _options(ctx: typer.Context, workspace: WorkspaceOpt = None) -> None:
    # No docstring: the app's own help stays the one shown by `breadcrumbs --help`.
    _before_command[:] = workspace or []
    if ctx.invoked_subcommand not in _COLLECTOR_RESUMED_BY_COMMAND:
        _resume_collector()


# The cyclic garbage collector is paused from main() until a command starts its own work
# (issue 11): a command's imports (DuckDB, Jinja, the stages; typer's parameters) make some
# hundred thousand objects, none of them garbage, and each collection walked them all again,
# about 25 ms of a follow-up or a digest. These commands resume it themselves, once their
# modules are imported; every other command at once, before it runs.
_COLLECTOR_RESUMED_BY_COMMAND = frozenset({"sync", "follow-up", "digest"})
_start_up = contextlib.ExitStack()  # main() enters collector_paused() in it


def _resume_collector() -> None:
    """Collection on again, as it was before main() paused it (once; no-op otherwise)."""
    _start_up.close()


def _workspace(*given: list[Path] | Path | None, default: Path | None = None) -> Any:
    """The workspace this command reads or writes, named on stderr so the user always knows
    which one it was. Given before or after the command, or both; two different are an error."""
    from breadcrumbs.settings import resolve_workspace

    named: list[Path] = list(_before_command)
    for value in given:
        named += value if isinstance(value, list) else [value] if value is not None else []
    chosen = list(dict.fromkeys(resolve_workspace(p).root for p in named))
    if len(chosen) > 1:
        _fail(BreadcrumbsError(f"two workspaces given: {' and '.join(map(str, chosen))}; give one"))
    ws = resolve_workspace(chosen[0] if chosen else default)
    typer.echo(f"workspace: {ws.root}", err=True)
    return ws


def _command(ws: Any, command: str) -> str:
    """A command to run next, with the workspace when it is not the default one."""
    from shlex import quote

    from breadcrumbs.settings import resolve_workspace

    if ws.root == resolve_workspace().root:
        return f"breadcrumbs {command}"
    return f"breadcrumbs {command} -w {quote(str(ws.root))}"


def _use_prefect(flag: bool | None) -> bool:
    """Only with a server: without one, each run would start Prefect's own (about 20 s)."""
    if flag is not None:
        return flag
    return bool(os.environ.get("PREFECT_API_URL"))


def _fail(exc: BreadcrumbsError) -> None:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(exc.exit_code)


@app.command()
def init(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to create it (default: data/)")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a workspace with a commented profile.toml to fill in."""
    from breadcrumbs.workspace import init_workspace

    ws = _workspace(folder, workspace)
    created = init_workspace(ws)
    for path in created:
        typer.echo(f"created {path}")
    if not created:
        typer.echo(f"{ws.root} is already a workspace; nothing changed")
    elif ws.profile_path in created:
        from breadcrumbs.profile import load_profile

        zone = load_profile(ws.profile_path).me.timezone or "this machine's, whatever it is"
        typer.echo(f"time zone: {zone} ([me] timezone decides which day is today)")
    typer.echo(f"next: fill in {ws.profile_path}, then `{_command(ws, 'sync SOURCE')}`")


@app.command()
def sync(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A folder with contacts.csv (and interactions.csv, prospects.csv), an .xlsx "
            "workbook, a contacts CSV export (LinkedIn, Google, Outlook) or a Google Sheet "
            "URL. Remembered: later syncs may leave it out.",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Sync the bundled sample network instead")
    ] = False,
    workspace: WorkspaceOpt = None,
    prefect: PrefectOpt = None,
) -> None:
    """Read your spreadsheet into the workspace's database; show what was refused and why."""
    try:
        if sample:
            from breadcrumbs.settings import demo_workspace
            from breadcrumbs.workspace import install_sample

            ws = _workspace(workspace, default=demo_workspace().root)
            source = str(install_sample(ws))
        else:
            ws = _workspace(workspace)
        report = _run_sync(ws, source, _use_prefect(prefect))
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_sync(report, ws)
    if sample:
        typer.echo(
            f"This demo has a workspace of its own, {ws.root}: next, "
            f"`{_command(ws, 'follow-up --no-sync')}`. Your own network starts with "
            "`breadcrumbs init`."
        )


def _run_sync(ws: Any, source: str | None, prefect: bool) -> Any:
    if prefect:
        _resume_collector()
        from breadcrumbs.flows.sync_flow import sync_contacts

        return sync_contacts(workspace=str(ws.root), source=source)
    from breadcrumbs.sync import run_sync

    _resume_collector()
    # On a terminal, each stage as it starts (stderr: the report on stdout stays clean).
    say = (lambda line: typer.echo(f"… {line}", err=True)) if sys.stderr.isatty() else None
    return run_sync(ws, source, say=say)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _print_sync(report: Any, ws: Any) -> None:
    c = report.counts
    if report.unchanged:
        typer.echo(f"{report.source} is as the last sync read it: nothing new to load")
    else:
        typer.echo(f"synced {report.source}")
    typer.echo(
        f"  loaded: {_plural(c.contacts, 'contact')} ({c.created} created from referrals), "
        f"{_plural(c.interactions, 'conversation')}, {_plural(c.referrals, 'referral')}, "
        f"{_plural(c.prospects, 'prospect')}"
    )
    typer.echo(f"  merged: {_plural(c.merged, 'duplicate row')}")
    reasons = report.reasons  # counted once: every reject is looked at (238,511 at 100k/1M)
    typer.echo(f"  refused: {_plural(sum(reasons.values()), 'row')}")
    for reason, count in reasons.most_common():
        typer.echo(f"    {count} × {reason}")
    notices = report.notices
    if notices:
        typer.echo(f"  loaded with a warning: {sum(notices.values())}")
        for reason, count in notices.most_common():
            typer.echo(f"    {count} × {reason}")
    if report.rejects:
        typer.echo(f"  see them with `{_command(ws, 'rejects')}`")


# Cells a spreadsheet would run as a formula (CWE-1236): prefixed with ' when exported.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@app.command()
def rejects(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write them to this CSV file instead")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """List the rows and cells the last sync refused: file, row, column, value, reason."""
    from breadcrumbs.store.database import open_store

    try:
        with open_store(_workspace(workspace)) as con:
            rows = con.execute(
                'SELECT file, "row", "column", value, reason, severity FROM rejects '
                'ORDER BY file, "row", "column"'
            ).fetchall()
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    header = ["file", "row", "column", "value", "reason", "severity"]
    if csv_file is not None:
        with csv_file.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([_neutralise(v) for v in row] for row in rows)
        typer.echo(f"wrote {len(rows)} rejects to {csv_file}")
        return
    if not rows:
        typer.echo("no rejects: every row of the last sync loaded")
        return
    for file, row, column, value, reason, severity in rows:
        shown = repr(value[:60]) if value else "(empty)"
        outcome = _OUTCOME.get(severity, severity)
        typer.echo(f"{file} row {row}, column {column}: {shown}: {reason} ({outcome})")


# What became of a row with a reject, by the reject's severity, in the words `rejects` prints.
_OUTCOME = {
    "row": "row not loaded",
    "cell": "the row loaded without this value",
    "conflict": "the row merged into an earlier one",
    "warning": "the row loaded",
}


@app.command()
def trail(
    name: Annotated[str, typer.Argument(help="A contact's name or email")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the trail of referrals from a person back to the first warm contact."""
    from breadcrumbs.store.database import find_contact, open_store
    from breadcrumbs.store.database import trail as walk

    try:
        with open_store(_workspace(workspace)) as con:
            found = find_contact(con, name)
            if found is None:
                raise BreadcrumbsError(_no_contact(con, name))
            steps = walk(con, found[0])
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    for depth, (_, who, loops) in enumerate(steps):
        if depth == 0:
            typer.echo(who)
        elif loops:
            typer.echo(f"{'  ' * depth}↳ referred by {who} (already on this trail: it loops)")
        else:
            typer.echo(f"{'  ' * depth}↳ referred by {who}")
    if len(steps) == 1:
        typer.echo("  (a first warm contact: nobody referred them)")


def _no_contact(con: Any, name: str) -> str:
    """No one, or several people, answer to this name: say so and suggest the closest."""
    from difflib import get_close_matches

    from breadcrumbs.store.database import fold_accents

    names = [str(r[0]) for r in con.execute("SELECT name FROM contacts").fetchall() if r[0]]
    folded = {fold_accents(n): n for n in names}
    close = get_close_matches(fold_accents(name), list(folded), n=3, cutoff=0.6)
    several = [n for n in names if fold_accents(name) in fold_accents(n)]
    if len(several) > 1:
        return f"{len(several)} contacts match {name!r}: {', '.join(several[:5])}; be more precise"
    if close:
        return f"no contact named {name!r}; did you mean {' or '.join(folded[c] for c in close)}?"
    return f"no contact named {name!r}; try their email"


class Mode(StrEnum):
    """How follow-up delivers: an Enum, so that --help lists the choices and a typo is refused."""

    outbox = "outbox"
    drafts = "drafts"
    send = "send"


class GmailMode(StrEnum):
    drafts = "drafts"
    send = "send"


ModeOpt = Annotated[
    Mode,
    typer.Option(
        "--mode",
        "-m",
        help="outbox: .eml files in <workspace>/outbox (no account needed); drafts: Gmail "
        "drafts to review; send: send through Gmail",
    ),
]


NoSyncOpt = Annotated[
    bool, typer.Option("--no-sync", help="Skip the sync; use the database as it is")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Send without asking")]


@app.command("follow-up")
def follow_up(
    mode: ModeOpt = Mode.outbox,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Deliver at most this many new emails")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Sync and show what is due; write and send nothing")
    ] = False,
    no_sync: NoSyncOpt = False,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = None,
    prefect: PrefectOpt = None,
) -> None:
    """Sync, then write the thank-yous and intros due now, each exactly once."""
    if mode is Mode.send and not dry_run and not yes:
        if not sys.stdin.isatty():
            _fail(BreadcrumbsError("--mode send sends real email: add --yes to confirm"))
        typer.confirm("Send the due emails through Gmail now?", abort=True)
    try:
        ws = _workspace(workspace)
        if _use_prefect(prefect):
            _resume_collector()
            from breadcrumbs.flows.follow_up_flow import follow_up as flow

            report = flow(
                workspace=str(ws.root),
                mode=mode.value,
                limit=limit,
                dry_run=dry_run,
                sync=not no_sync,
            )
        else:
            report = _follow_up_direct(ws, mode.value, limit, dry_run, no_sync)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_follow_up(report, ws)


def _opened_until_detected(ws: Any, mode: str) -> tuple[contextlib.ExitStack[Any], Any]:
    """One opening of the store for the sync's look at the sheet and detection, which run
    back to back (store.database.one_opening), closed as detection returns: a context, and
    `detected(stage)`, the detect stage that closes it. Not for a workspace with no database
    yet (the look would create one), nor the Gmail modes, which read the mailbox first."""
    from breadcrumbs.store.database import one_opening

    opening = contextlib.ExitStack()
    if mode == "outbox" and ws.db_path.exists():
        opening.enter_context(one_opening(ws))

    def detected(stage: Any) -> Any:
        def detect(*args: Any) -> Any:
            try:
                return stage(*args)
            finally:
                opening.close()

        return detect

    return opening, detected


def _follow_up_direct(ws: Any, mode: str, limit: int | None, dry_run: bool, no_sync: bool) -> Any:
    from breadcrumbs.follow_up import Stages, detect_stage
    from breadcrumbs.sync import run_sync

    _resume_collector()
    opening, detected = _opened_until_detected(ws, mode)
    with opening:
        if not no_sync:
            _print_sync(run_sync(ws, skip_unchanged=True), ws)
        return _follow_up_batch(ws, mode, limit, dry_run, Stages(detect=detected(detect_stage)))


def _follow_up_batch(ws: Any, mode: str, limit: int | None, dry_run: bool, stages: Any) -> Any:
    from breadcrumbs.follow_up import run_follow_up

    bars: list[Any] = []

    def progress(done: int, total: int) -> None:
        # Only long batches get a bar; a handful of emails would just flicker.
        if total < 50:
            return
        if not bars:
            bars.append(typer.progressbar(length=total, label="delivering", file=sys.stderr))
            bars[0].__enter__()
        bar = bars[0]
        # The bar moves by half a percent at a time, and to the end: an update per email
        # cost more than the drawing shows (issue 11: 20-30 ms of 10,000 emails).
        if done == total or (done - bar.pos) * 200 >= total:
            bar.update(done - bar.pos)
        if done == total:
            bar.__exit__(None, None, None)

    # No cyclic collection while the batch builds and delivers ten thousand emails: each
    # collection walked all of them again (issue 11: about 0.1 CPU-s of a follow-up at
    # 10,000), and the batch leaves almost nothing in cycles (about 2,000 objects at 10,000
    # emails, freed when collection resumes after it).
    with collector_paused():
        return run_follow_up(ws, mode, limit, dry_run, progress=progress, stages=stages)


def _print_follow_up(report: Any, ws: Any) -> None:
    from breadcrumbs.plain_print import Printer

    console = Printer()  # rich's output, without rich when it would be plain text
    for note in report.notes:
        console.print(note)
    shown = 40  # a long batch gets its first rows and a count, not ten thousand lines
    if report.outcomes:
        rows = [
            # A delivered row's reason is its file name or provider id: the folder is
            # printed once below, so only a row that did not go gets a why.
            (o.to, o.kind, o.subject, o.state, _why(o))
            for o in report.outcomes[:shown]
        ]
        console.table(
            f"Follow-up ({report.mode}{', dry run' if report.dry_run else ''})",
            [("to", "fold"), *((c, "ellipsis") for c in ("kind", "subject", "state", "why"))],
            rows,
        )
        if len(report.outcomes) > shown:
            console.print(
                f"... and {len(report.outcomes) - shown} more: `{_command(ws, 'status')}`"
            )
        states = Counter(o.state for o in report.outcomes)
        console.print(", ".join(f"{n} {state}" for state, n in states.most_common()))
    else:
        console.print("Nothing is due right now.")
    if report.mode == "outbox" and any(o.state == "written" for o in report.outcomes):
        console.print(f"Emails are in {ws.outbox}: open one in your mail program to send it.")
    if report.waiting:
        console.print(f"{len(report.waiting)} waiting or skipped: see `{_command(ws, 'due')}`.")
    if report.cold:
        names = ", ".join(c.name for c in report.cold[:8])
        more = f" and {len(report.cold) - 8} more" if len(report.cold) > 8 else ""
        console.print(f"Call these people (going cold): {names}{more}")


@app.command()
def digest(
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (default: this month, your time zone)")
    ] = None,
    mode: ModeOpt = Mode.outbox,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Deliver at most this many updates now")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would get this month's update and why")
    ] = False,
    no_sync: NoSyncOpt = False,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = None,
    prefect: PrefectOpt = None,
) -> None:
    """Sync, then this month's update to everyone you have talked with, once each.

    The month's first run decides who gets it; later runs deliver only what the daily cap
    or a failure held back.
    """
    if mode is Mode.send and not dry_run and not yes:
        if not sys.stdin.isatty():
            _fail(BreadcrumbsError("--mode send sends real email: add --yes to confirm"))
        typer.confirm("Send this month's updates through Gmail now?", abort=True)
    try:
        ws = _workspace(workspace)
        if _use_prefect(prefect):
            _resume_collector()
            from breadcrumbs.flows.digest_flow import monthly_digest

            report = monthly_digest(
                workspace=str(ws.root),
                month=month,
                mode=mode.value,
                limit=limit,
                dry_run=dry_run,
                sync=not no_sync,
            )
        else:
            from breadcrumbs.digest import DigestStages, compose_stage, detect_stage, run_digest
            from breadcrumbs.store.database import one_opening
            from breadcrumbs.sync import run_sync

            _resume_collector()
            # One opening from the sync's look at the sheet to the end of delivery: compose
            # holds the store throughout already (the month's shared part, then the ledger's
            # rows), so detection keeps what an update only shows in it, read as updates are
            # built (detect.py, issue 11), and delivery goes on in the same opening, one
            # checkpoint of the month's rows instead of two. Not for the Gmail modes (they
            # read the mailbox first), nor a workspace with no database yet (the look would
            # create one): compose opens it then.
            opening = contextlib.ExitStack()
            held = mode is Mode.outbox and ws.db_path.exists()
            if held:
                opening.enter_context(one_opening(ws))
            with opening:
                if not no_sync:
                    _print_sync(run_sync(ws, skip_unchanged=True), ws)

                def compose(workspace: Any, *args: Any) -> Any:
                    if mode is Mode.outbox and not held:
                        opening.enter_context(one_opening(workspace))
                    return compose_stage(workspace, *args)

                stages = DigestStages(detect=detect_stage, compose=compose)
                report = run_digest(ws, month, mode.value, limit, dry_run, stages=stages)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_digest(report, ws)


def _why(outcome: Any) -> Any:
    return "" if outcome.state in ("written", "drafted", "sent") else outcome.reason


def _print_digest(report: Any, ws: Any) -> None:
    from breadcrumbs.plain_print import Printer

    console = Printer()  # rich's output, without rich when it would be plain text
    for note in report.notes:
        console.print(note)
    label = "decided now" if report.first_run else "decided earlier"
    console.print(f"Monthly update {report.month}: {report.listed} on the list ({label})")
    if report.outcomes:
        console.table(
            f"Updates ({report.mode}{', dry run' if report.dry_run else ''})",
            [("to", "fold"), ("name", "ellipsis"), ("state", "ellipsis"), ("why", "ellipsis")],
            [(o.to, o.name, o.state, _why(o)) for o in report.outcomes[:40]],
        )
        if len(report.outcomes) > 40:
            console.print(f"... and {len(report.outcomes) - 40} more: `breadcrumbs status`")
    elif not report.notes:
        console.print("No update to deliver now.")
    quiet = [w.due.name for w in report.waiting if "quiet period" in w.reason]
    if quiet:
        more = f" and {len(quiet) - 12} more" if len(quiet) > 12 else ""
        console.print(
            f"In the quiet period, so no update this month ({len(quiet)}): "
            f"{', '.join(quiet[:12])}{more}"
        )
    held = [w for w in report.waiting if "quiet period" not in w.reason]
    for w in held[:40]:
        console.print(f"  waits: {w.due.name}: {w.reason}")
    if len(held) > 40:
        console.print(f"  ... and {len(held) - 40} more waiting: `breadcrumbs due`")
    if report.states:
        console.print(
            "This month so far: " + ", ".join(f"{n} {s}" for s, n in sorted(report.states.items()))
        )
    if report.mode == "outbox" and any(o.state == "written" for o in report.outcomes):
        console.print(f"Updates are in {ws.outbox}: open one in your mail program to send it.")


@app.command()
def due(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List the emails due now and why, those waiting and why, and who is going cold."""
    from breadcrumbs import clock
    from breadcrumbs.digest import detect_stage as detect_monthly
    from breadcrumbs.digest import parse_month
    from breadcrumbs.follow_up import call_list, cold_stage, detect_stage, load_checked_profile

    try:
        ws = _workspace(workspace)
        profile = load_checked_profile(ws)
        detection = detect_stage(ws, profile)
        monthly = detect_monthly(ws, profile, parse_month(None), record=False)
        cold = call_list(cold_stage(ws, profile), detection.due)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    today = clock.today()
    data = {
        "due": [
            {"key": d.key, "kind": d.kind, "to": d.email, "name": d.name, "why": d.reason}
            for d in detection.due
        ],
        "waiting": [
            {
                "key": w.due.key,
                "kind": w.due.kind,
                "to": w.due.email,
                "name": w.due.name,
                "why": w.reason,
            }
            for w in detection.waiting
        ],
        "monthly": {
            "month": monthly.month,
            "decided_on": monthly.decided,
            "on_the_list": monthly.listed,
            "not_delivered_yet": monthly.open_rows,
            "due": [{"key": d.key, "to": d.email, "name": d.name} for d in monthly.due],
            "waiting": [
                {"key": w.due.key, "to": w.due.email, "name": w.due.name, "why": w.reason}
                for w in monthly.waiting
            ],
        },
        "going_cold": [
            {
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "last_touch": c.last_touch,
                "days": c.days(today),
            }
            for c in cold
        ],
    }
    if as_json:
        typer.echo(_json(data))
        return
    typer.echo(f"Due now ({len(detection.due)}):")
    for d in detection.due:
        typer.echo(f"  {d.kind:9} {d.name} <{d.email}>: {d.reason}   [{d.key}]")
    typer.echo(f"Waiting or skipped ({len(detection.waiting)}):")
    for w in detection.waiting:
        typer.echo(f"  {w.due.kind:9} {w.due.name}: {w.reason}")
    _print_monthly_due(monthly)
    typer.echo(f"Going cold: call these people ({len(cold)}):")
    for c in cold:
        days = c.days(today)
        reach = c.phone or c.email
        typer.echo(
            f"  {c.name}{f' {reach}' if reach else ''}: "
            f"{'never contacted' if days is None else f'{days} days since last touch'}"
        )


def _print_monthly_due(monthly: Any) -> None:
    if monthly.decided:
        typer.echo(
            f"Monthly update {monthly.month}: list decided on {monthly.decided}, "
            f"{monthly.listed} on it, {monthly.open_rows} not delivered yet"
        )
    else:
        typer.echo(
            f"Monthly update {monthly.month}: not decided yet; the month's first "
            f"`breadcrumbs digest` lists these {monthly.listed}"
        )
    typer.echo(f"  due now ({len(monthly.due)}):")
    for d in monthly.due:
        typer.echo(f"    {d.name} <{d.email}>   [{d.key}]")
    typer.echo(f"  waiting ({len(monthly.waiting)}):")
    for w in monthly.waiting:
        typer.echo(f"    {w.due.name}: {w.reason}")


@app.command()
def stats(
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (default: this month)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Your networking funnel: people, conversations, referrals per talk, intros, replies."""
    from breadcrumbs import clock
    from breadcrumbs.digest import parse_month
    from breadcrumbs.profile import load_profile
    from breadcrumbs.stats import funnel_markdown, read_funnel
    from breadcrumbs.store.database import open_store

    try:
        ws = _workspace(workspace)
        profile = load_profile(ws.profile_path)
        with open_store(ws) as con:
            funnel = read_funnel(
                con,
                parse_month(month),
                clock.today(),
                profile.me.email,
                profile.etiquette.thank_you_days,
            )
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(_json(funnel.as_dict()))
        return
    typer.echo(funnel_markdown(funnel).replace("**", ""))


@app.command()
def preview(
    key: Annotated[str, typer.Argument(help="A key from `breadcrumbs due` or the ledger")],
    html: Annotated[bool, typer.Option("--html", help="Show the HTML part")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show one email as its recipient would read it."""
    from breadcrumbs import clock
    from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
    from breadcrumbs.follow_up import detect_stage, load_checked_profile
    from breadcrumbs.store.database import open_store

    try:
        ws = _workspace(workspace)
        profile = load_checked_profile(ws)
        with open_store(ws) as con:
            row = con.execute(
                "SELECT raw, provider_id, due, planned_at FROM messages WHERE key = ? "
                "AND (raw IS NOT NULL OR (mode = 'outbox' AND due IS NOT NULL))",
                [key],
            ).fetchone()
        if row is not None and row[0] is not None:
            typer.echo(_readable(bytes(row[0]), html))
            return
        if row is not None:  # an outbox row keeps no message (ledger.plan): its file has it
            typer.echo(_readable(_outbox_message(ws, profile, row), html))
            return
        if key.startswith("monthly:"):
            from breadcrumbs.digest import preview_monthly

            typer.echo(_readable(preview_monthly(ws, profile, key).email.raw, html))
            return
        detection = detect_stage(ws, profile)
        found = [d for d in detection.due + [w.due for w in detection.waiting] if d.key == key]
        if not found:
            raise BreadcrumbsError(f"no email {key!r} is due or recorded; see `breadcrumbs due`")
        composer = Composer(profile, clock.today(), (ws.templates, DEFAULT_TEMPLATES))
        composed = composer.compose(found[0], clock.now())
        typer.echo(_readable(composed.email.raw, html))
    except BreadcrumbsError as exc:
        _fail(exc)


def _outbox_message(ws: Any, profile: Any, row: tuple[Any, ...]) -> bytes:
    """The message of an outbox row: its file while it is there, else composed again from
    the Due the ledger kept, as of its planned_at (the same bytes, templates unchanged)."""
    from breadcrumbs import clock
    from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
    from breadcrumbs.deliver.outbox import OutboxMailer
    from breadcrumbs.store.ledger import due_from_json

    if row[1]:
        with contextlib.suppress(OSError):  # the file is gone: compose it again below
            return OutboxMailer(ws.outbox).message_in(row[1])
    composer = Composer(profile, clock.today(), (ws.templates, DEFAULT_TEMPLATES))
    return composer.compose(due_from_json(row[2]), row[3]).email.raw


def _readable(raw: bytes, html: bool) -> str:
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    lines = [f"{h}: {message[h]}" for h in ("From", "To", "Subject", "Date") if message[h]]
    body = message.get_body(("html",) if html else ("plain",))
    text = body.get_content() if body is not None else ""
    attachments = [p.get_filename() for p in message.iter_attachments()]
    extra = [f"Attached: {', '.join(a for a in attachments if a)}"] if attachments else []
    return "\n".join(lines + extra + ["", text])


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every email, not only the newest 50")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the ledger: how many emails in each state, then every email, newest first."""
    from breadcrumbs import clock
    from breadcrumbs.store.database import open_store
    from breadcrumbs.store.ledger import status as ledger_status

    try:
        with open_store(_workspace(workspace)) as con:
            data = ledger_status(con, None if show_all else 50)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(_json(data))
        return
    counts = cast(dict[str, int], data["counts"])
    emails = cast(list[dict[str, Any]], data["emails"])
    total = cast(int, data["total"])
    if not counts:
        typer.echo("The ledger is empty: no email has been planned yet.")
    else:
        by_state = ", ".join(f"{n} {state}" for state, n in counts.items())
        typer.echo(f"{_plural(total, 'email')}: {by_state}")
        for e in emails:
            day = clock.local(e["planned_at"]).date().isoformat() if e["planned_at"] else ""
            who = f"{e['name']} <{e['to']}>" if e["name"] else e["to"]
            why = f": {e['reason']}" if e["reason"] and e["state"] not in DELIVERED_STATES else ""
            typer.echo(f"  {day} {e['state']:9} {e['kind']:9} {who}  {e['subject']}{why}")
        if len(emails) < total:
            typer.echo(f"the newest {len(emails)} of {total}: `--all` shows every one")
    if os.environ.get("PREFECT_API_URL"):
        _print_prefect_runs()


# A delivered email's reason is its file name or provider id: not worth a line.
DELIVERED_STATES = ("sent", "drafted", "written")


def _print_prefect_runs() -> None:
    """The last runs of each deployment: a failed scheduled run shows here, no UI needed."""
    from breadcrumbs.watch import last_runs

    try:
        runs = last_runs()
    except Exception as exc:  # a server that is down must not hide the ledger above
        url = os.environ["PREFECT_API_URL"]
        typer.echo(f"Prefect runs: the server at {url} did not answer ({exc})")
        return
    typer.echo("Prefect runs (latest first):")
    if not runs:
        typer.echo("  none yet: see `breadcrumbs serve` or prefect.yaml")
    for run in runs:
        start = run.start.strftime("%Y-%m-%d %H:%M %Z") if run.start else "not started"
        typer.echo(f"  {run.deployment:40} {run.state:10} {start}  {run.name}")


@app.command("opt-out")
def opt_out(
    email: Annotated[str, typer.Argument(help="The address that must never get email")],
    undo: Annotated[bool, typer.Option("--undo", help="Take an opt-out back")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Never email this address again, whatever the spreadsheet says."""
    from breadcrumbs.store.database import open_store
    from breadcrumbs.store.ledger import opt_out as record

    try:
        with open_store(_workspace(workspace)) as con:
            record(con, email, undo)
    except BreadcrumbsError as exc:
        _fail(exc)
    typer.echo(f"{email}: {'may be emailed again' if undo else 'opted out for good'}")


@app.command()
def unbounce(
    email: Annotated[str, typer.Argument(help="The address a bounce made unmailable")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Email this address again: a bounce you know is wrong, or an address fixed since."""
    from breadcrumbs.google.mailbox import unbounce as take_back
    from breadcrumbs.store.database import open_store

    try:
        with open_store(_workspace(workspace)) as con:
            was_marked = take_back(con, email)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    if was_marked:
        typer.echo(f"{email}: may be emailed again; only a newer bounce stops it")
    else:
        typer.echo(f"{email}: had no bounce; a bounce already in the mailbox will not count")


@app.command()
def skip(
    key: Annotated[str, typer.Argument(help="A key from `breadcrumbs due`")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Drop one due email for good."""
    from breadcrumbs.store.database import open_store
    from breadcrumbs.store.ledger import skip as record

    try:
        with open_store(_workspace(workspace)) as con:
            record(con, key)
    except BreadcrumbsError as exc:
        _fail(exc)
    typer.echo(f"{key}: skipped; it will not be due again")


profile_app = typer.Typer(
    cls=Commands, help="Check the profile that signs your emails.", no_args_is_help=True
)
app.add_typer(profile_app, name="profile")


@profile_app.command("check")
def profile_check(workspace: WorkspaceOpt = None) -> None:
    """Check profile.toml: required keys, your pitch, and prefect.yaml's time zone."""
    from breadcrumbs.pitch import check_pitch
    from breadcrumbs.profile import load_profile, require_sender

    ws = _workspace(workspace)
    try:
        profile = load_profile(ws.profile_path)
        require_sender(profile, ws.profile_path)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    from breadcrumbs.schedule import find_prefect_yaml, zone_mismatches

    warnings = check_pitch(profile.me.pitch)
    deployments = find_prefect_yaml()
    if deployments is not None:
        warnings += zone_mismatches(profile.me.timezone, deployments)
    for warning in warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
    if not warnings:
        typer.echo("profile.toml looks good: the pitch is short and plain.")


@app.command()
def auth(
    mode: Annotated[
        GmailMode, typer.Option("--mode", "-m", help="What you will do: drafts or send")
    ] = GmailMode.drafts,
    sheets: Annotated[bool, typer.Option("--sheets", help="Also read a Google Sheet")] = False,
    sheets_write: Annotated[
        bool,
        typer.Option(
            "--sheets-write", help="Also write the status column (source.write_back in the profile)"
        ),
    ] = False,
    touches: Annotated[
        bool, typer.Option("--touches/--no-touches", help="Also read recent mail (touches)")
    ] = True,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the URL; listen on a fixed port for ssh -L"),
    ] = False,
    port: Annotated[int | None, typer.Option("--port", help="The local port to listen on")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Connect your Gmail (and Google Sheets): saves <workspace>/token.json, mode 0600."""
    from breadcrumbs.google.api import build_gmail, check_account
    from breadcrumbs.google.auth import DEFAULT_AUTH_PORT, Needs, run_auth, scopes_for
    from breadcrumbs.profile import load_profile

    try:
        ws = _workspace(workspace)
        needs = Needs(
            mode=mode.value,
            mailbox_touches=touches,
            sheets=sheets or sheets_write,
            sheets_write_back=sheets_write,
        )
        if no_browser:
            chosen = port or DEFAULT_AUTH_PORT
            typer.echo(
                f"On a machine you reach over SSH, forward the port first:\n"
                f"  ssh -L {chosen}:localhost:{chosen} THIS-HOST\n"
            )
        typer.echo(
            "Asking Google for: " + ", ".join(s.rsplit("/", 1)[-1] for s in scopes_for(needs))
        )
        creds = run_auth(ws.root, needs, open_browser=not no_browser, port=port)
        profile = load_profile(ws.profile_path)
        if profile.me.email:
            account = check_account(build_gmail(creds), profile.me.email)
            typer.echo(f"Connected as {account}; token saved to {ws.token_path}")
        else:
            typer.echo(f"Connected; token saved to {ws.token_path}. Fill in [me] email.")
    except BreadcrumbsError as exc:
        _fail(exc)


@app.command()
def touches(
    days: Annotated[int, typer.Option("--days", help="How far back to read")] = 60,
    workspace: WorkspaceOpt = None,
) -> None:
    """Read recent Gmail to and from your contacts: replies count as touches, bounces stop mail."""
    from breadcrumbs import clock
    from breadcrumbs.follow_up import load_checked_profile
    from breadcrumbs.google.mailbox import run_mailbox_touches

    try:
        ws = _workspace(workspace)
        profile = load_checked_profile(ws)
        new_touches, new_bounces = run_mailbox_touches(ws, profile.me.email, days, clock.today())
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    typer.echo(f"{new_touches} new touches, {new_bounces} new bounced addresses")


@app.command()
def serve(
    workspaces: Annotated[
        list[Path] | None,
        typer.Option(
            "--workspace",
            "-w",
            help="A workspace to serve; repeat for several (default: the usual workspace)",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    mode: ModeOpt = Mode.outbox,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Allow --mode send")] = False,
) -> None:
    """Keep running: every flow on its schedule (profile's time zone), watched in Prefect."""
    from breadcrumbs import serve as service

    if mode is Mode.send and not yes:
        _fail(BreadcrumbsError("--mode send sends real email every day: add --yes to confirm"))
    try:
        url = service.require_server()
        chosen = [_workspace(w) for w in workspaces] if workspaces else [_workspace(None)]
        served = service.plan(chosen, mode.value)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    typer.echo(f"Serving on {url}:")
    for s in served:
        typer.echo(f"  {s.describe()}   [{s.workspace.root}]")
    typer.echo("Ctrl-C or SIGTERM stops; the schedules are then paused on the server.")
    service.serve(served)
    typer.echo(service.STOP_MESSAGE)


def main() -> None:
    """Entry point of the `breadcrumbs` console script."""
    _start_up.enter_context(collector_paused())
    try:
        app()
    except BreadcrumbsError as exc:  # raised outside a command's own handling
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    finally:  # a command that failed before resuming it (or --help): as it was
        _resume_collector()


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)
