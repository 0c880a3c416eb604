"""The README's "Your own network, step by step", played as written (issue 10): the commands
are read out of the README's code block, so the two cannot drift. After the demo of
`make run` (its commands read out of the Makefile), from a fresh clone's empty `data/` to a
first email of one's own, with the suite's `breadcrumbs`; the demo's data never appears."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from breadcrumbs.settings import Workspace
from tests.conftest import write_csv
from tests.follow_up_support import outbox, read_message, sql, text_of
from tests.test_follow_up import BREADCRUMBS, make_run_commands

README = Path(__file__).parents[1] / "README.md"
SAMPLE_PEOPLE = Path(__file__).parents[1] / "data" / "sample" / "contacts.csv"
ME = {"name": "Sam Okafor", "email": "sam.okafor@example.net", "looking_for": "a QA lead role"}


def walkthrough() -> list[str]:
    """The command lines of the code block under "Your own network, step by step"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Your own network, step by step", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line for line in block[1].splitlines() if line.strip()]


def write_my_sheet(folder: Path) -> Path:
    """The new user's own network, where the README says `~/networking/`."""
    write_csv(
        folder / "contacts.csv",
        """
        email,name,company
        priya@example.org,Priya Natarajan,Fabrikam
        not-an-address,Olu Bello,Contoso
        """,
    )
    write_csv(
        folder / "interactions.csv",
        """
        date,contact,kind,topic,notes,referrals
        2026-11-24,priya@example.org,coffee,test automation,private,Dee Park <dee@example.org>
        """,
    )
    return folder


def fill_in_me(profile: Path) -> None:
    """What the user does after `breadcrumbs init`: fill in [me]."""
    text = profile.read_text(encoding="utf-8")
    for key, value in ME.items():
        text = text.replace(f'\n{key} = ""\n', f'\n{key} = "{value}"\n', 1)
    profile.write_text(text, encoding="utf-8")


@pytest.mark.timeout(600)
def test_the_readme_walkthrough_takes_a_new_user_to_a_first_email_of_their_own(
    tmp_path: Path,
) -> None:
    """Each README command succeeds, in a fresh clone's `data/` after `make run`; the user's
    workspace ends with their own emails only, none of the demo's people or profile."""
    home = tmp_path / "data"  # a fresh clone's data/: the default workspace
    env = {**os.environ, "BREADCRUMBS_HOME": str(home), "BREADCRUMBS_TODAY": "2026-11-25"}
    env["COLUMNS"] = "250"
    env.pop("PREFECT_API_URL", None)

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done

    for command in make_run_commands():  # what the README says to do first
        run(command)
    assert (home / "demo" / "outbox").is_dir()

    sheet = write_my_sheet(tmp_path / "networking")
    played: dict[str, subprocess.CompletedProcess[str]] = {}
    for line in walkthrough():
        words = shlex.split(line, comments=True)
        if words[0] == ".":  # activating the venv: the suite's `breadcrumbs` is used instead
            continue
        assert words[0] == "breadcrumbs", line
        if words[1] == "touches":  # Gmail only
            continue
        words = [str(sheet) if w == "~/networking/" else w for w in words]
        if any(w.startswith("thank-you:i:") for w in words):
            due = json.loads(run([str(BREADCRUMBS), "due", "--json"]).stdout)["due"]
            key = next(d["key"] for d in due if d["kind"] == "thank-you")
            words = [key if w.startswith("thank-you:i:") else w for w in words]
        done = run([str(BREADCRUMBS), *words[1:]])
        assert f"workspace: {home}\n" in done.stderr, line
        played[" ".join(words[1:3])] = done
        if words[1] == "init":
            fill_in_me(home / "profile.toml")

    assert {"init", "rejects", "due", "status"} <= set(played)
    # Olu's invalid address: refused, Olu kept (to call), with a warning.
    assert "'not-an-address': invalid email" in played["rejects"].stdout
    assert "would write" in played["follow-up --dry-run"].stdout
    preview = next(v for k, v in played.items() if k.startswith("preview"))
    assert "From: Sam Okafor <sam.okafor@example.net>" in preview.stdout
    assert "Thanks for the coffee, Priya" in preview.stdout

    mine = Workspace(home)
    letters = [read_message(p) for p in outbox(mine)]
    assert sorted(m["To"].addresses[0].addr_spec for m in letters) == [
        "dee@example.org",
        "priya@example.org",
    ]
    assert all("Sam Okafor" in m["From"] and "Jordan Rivera" not in text_of(m) for m in letters)
    assert "2 emails: 2 written" in played["status"].stdout

    # Nothing of the demo's: no sample person, no sample profile, no sample email.
    demo_people = [
        line.split(",")[0].lower() for line in SAMPLE_PEOPLE.read_text().splitlines()[1:]
    ]
    mine_people = {r[0] for r in sql(mine, "SELECT lower(email) FROM contacts WHERE email <> ''")}
    assert mine_people == {"priya@example.org", "dee@example.org"}
    assert not mine_people & set(demo_people)
    assert "Jordan Rivera" not in (home / "profile.toml").read_text(encoding="utf-8")
    assert sql(
        mine, "SELECT count(*) FROM messages WHERE email NOT IN (SELECT email FROM contacts)"
    ) == [(0,)]
    assert not (home / "sample").exists()
