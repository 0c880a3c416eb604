"""`breadcrumbs serve`: one long-running process that runs every flow on its schedule.

For a person who keeps one laptop or small server on: `prefect.serve` registers one deployment
per flow and workspace on the Prefect server, and runs them in this process, so a run always
happens on the machine that holds the workspace's folder. Schedules are in the time zone of
each workspace's profile ([me] timezone).

The plan (which deployments, named how, on which schedule) is plain Python; only `serve`
imports Prefect, and only the `serve` command imports this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from breadcrumbs import clock
from breadcrumbs.errors import BreadcrumbsError
from breadcrumbs.profile import load_profile
from breadcrumbs.settings import Workspace

# When each flow runs, as cron in the profile's time zone. None: on demand only (from the UI
# or `prefect deployment run`). The mailbox is read before the follow-up so that a reply
# received overnight counts as a touch; the follow-up syncs the sheet itself first.
SCHEDULES: dict[str, str | None] = {
    "sync-contacts": None,
    "mailbox-touches": "30 8 * * *",
    "follow-up": "0 9 * * *",
    # As in prefect.yaml, every weekday: the month's first run decides and sends, the later
    # ones only what was held back. A quarter past, so it does not wait on the follow-up.
    "monthly-digest": "15 9 * * 1-5",
}
DESCRIPTIONS = {
    "sync-contacts": "Re-read the spreadsheet into the database (on demand).",
    "mailbox-touches": "Read recent Gmail: replies count as touches, bounces stop mail.",
    "follow-up": "Sync, then the thank-yous and intros due now, each delivered once.",
    "monthly-digest": "This month's update to everyone you have talked with.",
}

STOP_MESSAGE = (
    "Stopped. The schedules of these deployments are now paused on the Prefect server: "
    "no run is made while nothing serves them, and none is made up for later. "
    "`breadcrumbs serve` again resumes them; a run stopped halfway is finished by the next "
    "one, since the ledger remembers every email."
)


@dataclass(frozen=True)
class Served:
    """One deployment `serve` registers: a flow, for one workspace, maybe on a schedule."""

    flow: str
    name: str
    workspace: Workspace
    cron: str | None
    timezone: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        when = f"{self.cron} ({self.timezone})" if self.cron else "on demand"
        return f"{self.flow}/{self.name}: {when}"


def served_name(workspace: Workspace) -> str:
    """`served-ann-1a2b3c4d`: never a name in prefect.yaml (`follow-up`, `sync-contacts`...),
    so `serve` and `prefect deploy` never overwrite each other's deployment; one per
    workspace (its folder's name and a hash of its path), as its artifact keys are."""
    from breadcrumbs.flows.artifacts import artifact_key

    return artifact_key(workspace, "served")


def has_gmail(workspace: Workspace) -> bool:
    """Reading the mailbox needs a token; without one a daily run would fail every day."""
    return workspace.token_path.exists() or bool(os.environ.get("BREADCRUMBS_GOOGLE_TOKEN_SECRET"))


def plan(workspaces: list[Workspace], mode: str = "outbox") -> list[Served]:
    """Every flow for every workspace, each on its schedule in that workspace's time zone."""
    served = []
    for ws in workspaces:
        if not ws.profile_path.exists():
            raise BreadcrumbsError(f"{ws.root} is not a workspace: run `breadcrumbs init` first")
        # An empty [me] timezone means the machine's zone, as it does for the user's today.
        timezone = load_profile(ws.profile_path).me.timezone or clock.machine_timezone() or "UTC"
        for flow, cron in SCHEDULES.items():
            if flow == "mailbox-touches" and not has_gmail(ws):
                cron = None
            parameters: dict[str, Any] = {"workspace": str(ws.root)}
            if flow in ("follow-up", "monthly-digest"):
                parameters["mode"] = mode
            served.append(Served(flow, served_name(ws), ws, cron, timezone, parameters))
    return served


def require_server() -> str:
    """Served schedules need a server whose scheduler outlives this process: Prefect's
    temporary server runs no scheduler and dies with the process."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        from prefect.settings import PREFECT_API_URL

        url = PREFECT_API_URL.value()
    if not url:
        raise BreadcrumbsError(
            "serve needs a Prefect server: run `prefect server start` (or point at yours) and "
            "set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api"
        )
    return str(url)


def _flows() -> dict[str, Any]:
    from breadcrumbs.flows.digest_flow import monthly_digest
    from breadcrumbs.flows.follow_up_flow import follow_up
    from breadcrumbs.flows.mailbox_flow import mailbox_touches
    from breadcrumbs.flows.sync_flow import sync_contacts

    return {
        "sync-contacts": sync_contacts,
        "mailbox-touches": mailbox_touches,
        "follow-up": follow_up,
        "monthly-digest": monthly_digest,
    }


def to_deployments(served: list[Served]) -> list[Any]:
    """The Prefect deployments of a plan, tagged `breadcrumbs` and `served`."""
    from prefect.schedules import Cron

    flows = _flows()
    return [
        flows[s.flow].to_deployment(
            name=s.name,
            description=DESCRIPTIONS[s.flow],
            parameters=s.parameters,
            schedules=[Cron(s.cron, timezone=s.timezone)] if s.cron else [],
            paused=False,  # a restart resumes what the last stop paused
            tags=["breadcrumbs", "served"],
        )
        for s in served
    ]


def serve(served: list[Served]) -> None:
    """Run until Ctrl-C or SIGTERM; then Prefect pauses the schedules (see STOP_MESSAGE)."""
    from prefect import serve as prefect_serve

    prefect_serve(*to_deployments(served), pause_on_shutdown=True, print_starting_message=False)
