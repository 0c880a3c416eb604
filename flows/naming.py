"""Whose run is this: a run's name carries its workspace.

One Prefect server may watch many workspaces (a career coach keeps one per client), so a run's
name says whose it is, as its artifacts' keys do (artifacts.py).
"""

from __future__ import annotations

from breadcrumbs.settings import resolve_workspace


def run_name() -> str:
    """A flow run's name: the flow and the workspace's folder, e.g. `follow-up · ann`.

    Given to `@flow(flow_run_name=...)`; Prefect calls it when the run starts, with the
    run's parameters available from `prefect.runtime`."""
    from prefect.runtime import flow_run

    workspace = resolve_workspace(flow_run.parameters.get("workspace"))
    return f"{flow_run.flow_name} · {workspace.root.name}"
