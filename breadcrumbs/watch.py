"""Knowing how the scheduled runs went without opening the Prefect UI.

`last_runs` feeds the runs section of `breadcrumbs status`; `alert_on_failure` creates the
Prefect automation that notifies the user when a Breadcrumbs run fails or crashes. Both talk
to the Prefect server named by PREFECT_API_URL; only the commands that use them import this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

# Deployments from prefect.yaml and from `breadcrumbs serve` carry this tag, and so do their
# runs: it is how the runs section and the automation tell Breadcrumbs' runs from others.
TAG = "breadcrumbs"
ALERT_NAME = "breadcrumbs-run-failed"


@dataclass(frozen=True)
class Run:
    deployment: str  # flow/deployment, as `prefect deployment ls` names it
    name: str
    state: str
    start: datetime | None


def last_runs(per_deployment: int = 3) -> list[Run]:
    """The latest runs of each Breadcrumbs deployment, newest first within each."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    runs: list[Run] = []
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[TAG]))
        )
        flows = {f.id: f.name for f in client.read_flows()}
        for d in sorted(deployments, key=lambda d: (flows.get(d.flow_id, ""), d.name)):
            found = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[d.id])),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=per_deployment * 3,
            )
            # Runs scheduled for later have not happened: the section is about what did.
            happened = [r for r in found if r.state_type is None or r.state_type != "SCHEDULED"]
            for r in happened[:per_deployment]:
                runs.append(
                    Run(
                        deployment=f"{flows.get(d.flow_id, '?')}/{d.name}",
                        name=r.name,
                        state=r.state_name or "?",
                        start=r.start_time or r.expected_start_time,
                    )
                )
    return runs


def alert_on_failure(block: str, name: str = ALERT_NAME) -> UUID:
    """Create (or replace) an automation: when a run tagged `breadcrumbs` fails or crashes,
    send a notification through the block named `block` ("block-type/name", e.g.
    "slack-webhook/me" or "custom-webhook/phone"). Returns the automation's id."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    block_type, _, block_name = block.partition("/")
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(block_name, block_type)
        for old in client.read_automations_by_name(name):
            client.delete_automation(old.id)
    automation: Any = Automation(
        name=name,
        description="Tell me when a Breadcrumbs run fails or crashes.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match_related={"prefect.resource.id": f"prefect.tag.{TAG}"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=document.id,
                subject="Breadcrumbs: {{ flow_run.name }} {{ flow_run.state.name }}",
                body=(
                    "The run {{ flow_run.name }} of {{ flow.name }} ended "
                    "{{ flow_run.state.name }}: {{ flow_run.state.message }}\n"
                    "See {{ flow_run|ui_url }}"
                ),
            )
        ],
    ).create()
    return UUID(str(automation.id))
