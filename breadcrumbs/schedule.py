"""The profile's `[me] timezone` is the one truth for time: `prefect.yaml` must say the same.

`prefect deploy` reads its schedules' zones from prefect.yaml, which cannot read the
profile; so `breadcrumbs profile check` compares the two and says which schedule differs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from breadcrumbs.clock import machine_timezone
from breadcrumbs.settings import CHECKOUT


def find_prefect_yaml() -> Path | None:
    """The prefect.yaml `prefect deploy` would read: the current folder's, else the checkout's."""
    for folder in (Path.cwd(), CHECKOUT):
        if folder is not None and (folder / "prefect.yaml").is_file():
            return folder / "prefect.yaml"
    return None


def zone_mismatches(profile_zone: str, path: Path) -> list[str]:
    """One warning per scheduled deployment whose time zone is not the profile's."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        return [f"{path}: could not read it ({exc})"]
    # An empty [me] timezone means the machine's own zone (clock.use_timezone).
    wanted = profile_zone or machine_timezone() or "UTC"
    warnings = []
    for deployment in spec.get("deployments") or []:
        for schedule in deployment.get("schedules") or []:
            zone = schedule.get("timezone") or "UTC"
            if zone != wanted:
                warnings.append(
                    f"{path}: deployment {deployment.get('name')!r} runs on {zone} time, but "
                    f"[me] timezone is {wanted!r}: put timezone: {wanted} in its schedule, "
                    "then `prefect deploy --all` again"
                )
    return warnings
