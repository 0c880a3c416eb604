"""The workspace folder named by env `BREADCRUMBS_HOME` is read as pydantic-settings read it
before settings.py stopped importing it (issue 11: 30 ms of every command's start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from breadcrumbs.settings import default_home, load_settings

# Each case: the environment's BREADCRUMBS_HOME-like variables, in the order they were set.
CASES = [
    {},
    {"BREADCRUMBS_HOME": "/srv/jobs"},
    {"BREADCRUMBS_HOME": ""},
    {"BREADCRUMBS_HOME": "  spaced  "},
    {"BREADCRUMBS_HOME": "~/networking"},
    {"breadcrumbs_home": "lower"},
    {"BREADCRUMBS_HOME": "first", "Breadcrumbs_Home": "second"},
    {"Breadcrumbs_Home": "second", "BREADCRUMBS_HOME": "first"},
    {"BREADCRUMBS_HOME": "null"},
    {"BREADCRUMBS_HOME": '{"home": "x"}'},
    {"BREADCRUMBS_HOMES": "not it"},
]

# The class settings.py had, run in a child so the environment's order is exactly the case's.
REFERENCE = """
import json, os, sys
from pathlib import Path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from breadcrumbs.settings import default_home, load_settings

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BREADCRUMBS_", extra="ignore")
    home: Path = Field(default_factory=default_home)

print(json.dumps([str(Settings().home), str(load_settings().home)]))
"""


@pytest.mark.parametrize("case", CASES, ids=[repr(c) for c in CASES])
def test_breadcrumbs_home_is_read_as_pydantic_settings_read_it(case: dict[str, str]) -> None:
    """In any case of its name, the last one set winning, "" the current folder."""
    pytest.importorskip("pydantic_settings")
    env = {k: v for k, v in os.environ.items() if k.lower() != "breadcrumbs_home"}
    env.update(case)
    out = subprocess.run(
        [sys.executable, "-c", REFERENCE], env=env, capture_output=True, text=True, check=True
    )
    reference, ours = json.loads(out.stdout.strip().splitlines()[-1])
    assert ours == reference


def test_without_breadcrumbs_home_the_default_folder_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No variable: the checkout's data/ (or the user data folder)."""
    for name in list(os.environ):
        if name.lower() == "breadcrumbs_home":
            monkeypatch.delenv(name)
    assert load_settings().home == default_home()
    monkeypatch.setenv("BREADCRUMBS_HOME", "/srv/jobs")
    assert load_settings().home == Path("/srv/jobs")
