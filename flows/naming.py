"""Whose run is this: run and deployment names that carry the workspace.

One Prefect server may serve many workspaces (a career coach keeps one per client), so a run's
name says whose it is, and `breadcrumbs serve` names each deployment after its workspace.
"""

from __future__ import annotations

import hashlib
import re

from breadcrumbs.settings import Workspace, resolve_workspace


def workspace_label(workspace: Workspace) -> str:
    """The workspace's folder name, plus a short hash of its path: two clients' folders may
    share a name (`data`), their paths do not. Lowercase letters, digits and dashes
    only, safe in any Prefect name."""
    name = re.sub(r"[^a-z0-9]+", "-", workspace.root.name.lower()).strip("-") or "workspace"
    digest = hashlib.sha1(str(workspace.root).encode("utf-8")).hexdigest()[:6]
    return f"{name}-{digest}"


def run_name() -> str:
    """A flow run's name: the flow and the workspace's folder, e.g. `follow-up · ann`.

    Given to `@flow(flow_run_name=...)`; Prefect calls it when the run starts, with the
    run's parameters available from `prefect.runtime`."""
    from prefect.runtime import flow_run

    workspace = resolve_workspace(flow_run.parameters.get("workspace"))
    return f"{flow_run.flow_name} · {workspace.root.name}"
