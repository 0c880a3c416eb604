"""The Prefect layer: one module per flow, wiring the stages of `breadcrumbs` as tasks.

Installed as `breadcrumbs.flows` (see pyproject.toml), never as a top-level `flows`."""
