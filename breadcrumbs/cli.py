"""The `breadcrumbs` command: thin wrappers over the plain-Python stages.

Heavy imports (Prefect takes about 2 s, DuckDB, Google's clients) happen inside the commands
that need them, so `breadcrumbs --help` answers at once.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from breadcrumbs.errors import BreadcrumbsError

app = typer.Typer(
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

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (env BREADCRUMBS_HOME; default: data/ of the checkout)",
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


def _workspace(path: Path | None) -> Any:
    from breadcrumbs.settings import resolve_workspace

    return resolve_workspace(path)


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

    ws = _workspace(folder or workspace)
    created = init_workspace(ws)
    for path in created:
        typer.echo(f"created {path}")
    if not created:
        typer.echo(f"{ws.root} is already a workspace; nothing changed")
    elif ws.profile_path in created:
        from breadcrumbs.profile import load_profile

        zone = load_profile(ws.profile_path).me.timezone or "this machine's, whatever it is"
        typer.echo(f"time zone: {zone} ([me] timezone decides which day is today)")
    typer.echo(f"next: fill in {ws.profile_path}, then `breadcrumbs sync SOURCE`")


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
        ws = _workspace(workspace)
        if sample:
            from breadcrumbs.workspace import install_sample

            source = str(install_sample(ws))
        report = _run_sync(ws, source, _use_prefect(prefect))
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_sync(report)


def _run_sync(ws: Any, source: str | None, prefect: bool) -> Any:
    if prefect:
        from breadcrumbs.flows.sync_flow import sync_contacts

        return sync_contacts(workspace=str(ws.root), source=source)
    from breadcrumbs.sync import run_sync

    return run_sync(ws, source)


def _print_sync(report: Any) -> None:
    c = report.counts
    if report.unchanged:
        typer.echo(f"{report.source} is as the last sync read it: nothing new to load")
    else:
        typer.echo(f"synced {report.source}")
    typer.echo(
        f"  loaded: {c.contacts} contacts ({c.created} created from referrals), "
        f"{c.interactions} conversations, {c.referrals} referrals, {c.prospects} prospects"
    )
    typer.echo(f"  merged: {c.merged} duplicate rows")
    typer.echo(f"  rejected: {c.rejected}")
    for reason, count in report.reasons.most_common():
        typer.echo(f"    {count} × {reason}")
    notices = report.notices
    if notices:
        typer.echo(f"  loaded with a warning: {sum(notices.values())}")
        for reason, count in notices.most_common():
            typer.echo(f"    {count} × {reason}")
    if report.rejects:
        typer.echo("  see them with `breadcrumbs rejects`")


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
        typer.echo(f"{file} row {row}, column {column}: {shown}: {reason} [{severity}]")


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
                raise BreadcrumbsError(f"no single contact matches {name!r}; try their email")
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


ModeOpt = Annotated[
    str,
    typer.Option(
        "--mode",
        "-m",
        help="outbox: .eml files in <workspace>/outbox (no account needed); drafts: Gmail "
        "drafts to review; send: send through Gmail",
    ),
]


@app.command("follow-up")
def follow_up(
    mode: ModeOpt = "outbox",
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Deliver at most this many new emails")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Sync and show what is due; write and send nothing")
    ] = False,
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="Skip the sync; use the database as it is")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send without asking")] = False,
    workspace: WorkspaceOpt = None,
    prefect: PrefectOpt = None,
) -> None:
    """Sync, then write the thank-yous and intros due now, each exactly once."""
    if mode not in ("outbox", "drafts", "send"):
        _fail(BreadcrumbsError(f"unknown mode {mode!r}: choose outbox, drafts or send"))
    if mode == "send" and not dry_run and not yes:
        if not sys.stdin.isatty():
            _fail(BreadcrumbsError("--mode send sends real email: add --yes to confirm"))
        typer.confirm("Send the due emails through Gmail now?", abort=True)
    try:
        ws = _workspace(workspace)
        if _use_prefect(prefect):
            from breadcrumbs.flows.follow_up_flow import follow_up as flow

            report = flow(
                workspace=str(ws.root), mode=mode, limit=limit, dry_run=dry_run, sync=not no_sync
            )
        else:
            report = _follow_up_direct(ws, mode, limit, dry_run, no_sync)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_follow_up(report, ws)


def _follow_up_direct(ws: Any, mode: str, limit: int | None, dry_run: bool, no_sync: bool) -> Any:
    from breadcrumbs.follow_up import run_follow_up
    from breadcrumbs.sync import run_sync

    if not no_sync:
        _print_sync(run_sync(ws, skip_unchanged=True))
    bars: list[Any] = []

    def progress(done: int, total: int) -> None:
        # Only long batches get a bar; a handful of emails would just flicker.
        if total < 50:
            return
        if not bars:
            bars.append(typer.progressbar(length=total, label="delivering", file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)
        if done == total:
            bars[0].__exit__(None, None, None)

    return run_follow_up(ws, mode, limit, dry_run, progress=progress)


def _print_follow_up(report: Any, ws: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for note in report.notes:
        console.print(note)
    shown = 40  # a long batch gets its first rows and a count, not ten thousand lines
    if report.outcomes:
        table = Table(title=f"Follow-up ({report.mode}{', dry run' if report.dry_run else ''})")
        table.add_column("to", overflow="fold")
        for column in ("kind", "subject", "state", "why"):
            table.add_column(column)
        for o in report.outcomes[:shown]:
            # A delivered row's reason is its file name or provider id: the folder is
            # printed once below, so only a row that did not go gets a why.
            why = "" if o.state in ("written", "drafted", "sent") else o.reason
            table.add_row(o.to, o.kind, o.subject, o.state, why)
        console.print(table)
        if len(report.outcomes) > shown:
            console.print(f"... and {len(report.outcomes) - shown} more: `breadcrumbs status`")
        states = Counter(o.state for o in report.outcomes)
        console.print(", ".join(f"{n} {state}" for state, n in states.most_common()))
    else:
        console.print("Nothing is due right now.")
    if report.mode == "outbox" and any(o.state == "written" for o in report.outcomes):
        console.print(f"Emails are in {ws.outbox}: open one in your mail program to send it.")
    if report.waiting:
        console.print(f"{len(report.waiting)} waiting or skipped: see `breadcrumbs due`.")
    if report.cold:
        names = ", ".join(c.name for c in report.cold[:8])
        more = f" and {len(report.cold) - 8} more" if len(report.cold) > 8 else ""
        console.print(f"Call these people (going cold): {names}{more}")


@app.command()
def due(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List the emails due now and why, those waiting and why, and who is going cold."""
    from breadcrumbs import clock
    from breadcrumbs.follow_up import cold_stage, detect_stage, load_checked_profile

    try:
        ws = _workspace(workspace)
        profile = load_checked_profile(ws)
        detection = detect_stage(ws, profile)
        cold = cold_stage(ws, profile)
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
    typer.echo(f"Going cold: call these people ({len(cold)}):")
    for c in cold:
        days = c.days(today)
        typer.echo(
            f"  {c.name} {c.phone or c.email or ''}: "
            f"{'never contacted' if days is None else f'{days} days since last touch'}"
        )


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
            row = con.execute("SELECT raw FROM messages WHERE key = ?", [key]).fetchone()
        if row is not None:
            typer.echo(_readable(bytes(row[0]), html))
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
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the ledger: emails by state, and the failures with their reasons."""
    from breadcrumbs.store.database import open_store
    from breadcrumbs.store.ledger import status as ledger_status

    try:
        with open_store(_workspace(workspace)) as con:
            data = ledger_status(con)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(_json(data))
        return
    counts: dict[str, int] = data["counts"]  # type: ignore[assignment]
    if not counts:
        typer.echo("The ledger is empty: no email has been planned yet.")
    for state, count in counts.items():
        typer.echo(f"{state:10} {count}")
    for problem in data["problems"]:  # type: ignore[attr-defined]
        typer.echo(f"  {problem['state']}: {problem['to']} [{problem['key']}]: {problem['reason']}")


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


profile_app = typer.Typer(help="Check the profile that signs your emails.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")


@profile_app.command("check")
def profile_check(workspace: WorkspaceOpt = None) -> None:
    """Check profile.toml: required keys, and whether your pitch is short and plain."""
    from breadcrumbs.pitch import check_pitch
    from breadcrumbs.profile import load_profile, require_sender

    ws = _workspace(workspace)
    try:
        profile = load_profile(ws.profile_path)
        require_sender(profile, ws.profile_path)
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    warnings = check_pitch(profile.me.pitch)
    for warning in warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
    if not warnings:
        typer.echo("profile.toml looks good: the pitch is short and plain.")


@app.command()
def auth(
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="What you will do: drafts or send")
    ] = "drafts",
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

    if mode not in ("drafts", "send"):
        _fail(BreadcrumbsError(f"unknown mode {mode!r}: choose drafts or send"))
    try:
        ws = _workspace(workspace)
        needs = Needs(
            mode=mode,  # type: ignore[arg-type]
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


def main() -> None:
    """Entry point of the `breadcrumbs` console script."""
    try:
        app()
    except BreadcrumbsError as exc:  # raised outside a command's own handling
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)
