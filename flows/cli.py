"""The `breadcrumbs` command: thin wrappers over the plain-Python stages.

Heavy imports (Prefect takes about 2 s, DuckDB, Google's clients) happen inside the commands
that need them, so `breadcrumbs --help` answers at once.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.errors import BreadcrumbsError

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
        help="Workspace folder [env BREADCRUMBS_HOME; default: data/]",
        show_default=False,
    ),
]
PrefectOpt = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--no-prefect",
        help="Run as a Prefect flow, watched in the UI [default: when PREFECT_API_URL is set]",
        show_default=False,
    ),
]


def _workspace(path: Path | None) -> Any:
    from flows.settings import resolve_workspace

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
        Path | None, typer.Argument(help="Where to create it [default: data/]")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a workspace with a commented profile.toml to fill in."""
    from flows.workspace import init_workspace

    ws = _workspace(folder or workspace)
    created = init_workspace(ws)
    for path in created:
        typer.echo(f"created {path}")
    if not created:
        typer.echo(f"{ws.root} is already a workspace; nothing changed")
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
            from flows.workspace import install_sample

            source = str(install_sample(ws))
        report = _run_sync(ws, source, _use_prefect(prefect))
    except BreadcrumbsError as exc:
        _fail(exc)
        return
    _print_sync(report)


def _run_sync(ws: Any, source: str | None, prefect: bool) -> Any:
    if prefect:
        from flows.sync_flow import sync_contacts

        return sync_contacts(workspace=str(ws.root), source=source)
    from flows.sync import run_sync

    return run_sync(ws, source)


def _print_sync(report: Any) -> None:
    c = report.counts
    typer.echo(f"synced {report.source}")
    typer.echo(
        f"  loaded: {c.contacts} contacts ({c.created} created from referrals), "
        f"{c.interactions} conversations, {c.referrals} referrals, {c.prospects} prospects"
    )
    typer.echo(f"  merged: {c.merged} duplicate rows")
    typer.echo(f"  rejected: {c.rejected}")
    for reason, count in report.reasons.most_common():
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
    from flows.store import open_store

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
    from flows.store import find_contact, open_store
    from flows.store import trail as walk

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


def main() -> None:
    """Entry point of the `breadcrumbs` console script."""
    try:
        app()
    except BreadcrumbsError as exc:  # raised outside a command's own handling
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)
