"""The newcomer's path (issue 10), through the `breadcrumbs` command as a new user types it:
words that say what happened, a profile mistake explained, a plain-text part without
Markdown's trailing spaces, and outbox files named after their recipient."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from breadcrumbs.cli import app
from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import blank_profile
from tests.follow_up_support import (
    INTERACTIONS_HEADER,
    outbox,
    read_message,
    sql,
    text_of,
    write_profile,
    write_sheet,
)

runner = CliRunner()

PEOPLE = """
    email,name,company,phone
    ann@example.com,Ann Lee,Acme,
    not-an-email,Nora Noemail,Initech,
    renee@example.com,Renée Lefèvre,Globex,
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,Carla Gómez
    2026-11-24,Nobody Known,call,,,
"""


@pytest.fixture(autouse=True)
def plain_path(monkeypatch: pytest.MonkeyPatch, today: str) -> None:
    """The plain path (no Prefect server), on 2026-11-25."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


def breadcrumbs(workspace: Workspace, *args: str) -> Result:
    # A wide terminal, so that rich neither wraps paths nor cuts cells short.
    return runner.invoke(app, [*args, "--workspace", str(workspace.root)], env={"COLUMNS": "250"})


@pytest.fixture
def network(workspace: Workspace) -> Workspace:
    """Ann (coffee yesterday, referred Carla, who has no address or phone yet), Nora (an
    invalid email: kept, never mailed), Renée, and a conversation with nobody known."""
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)
    return workspace


def synced(workspace: Workspace) -> Result:
    result = breadcrumbs(workspace, "sync", str(workspace.root / "sheet"))
    assert result.exit_code == 0, result.output
    return result


def test_sync_counts_refused_rows_apart_from_people_kept_with_a_warning(
    network: Workspace,
) -> None:
    """Nora, kept with an invalid email, is a warning; only the unknown contact's row is
    refused; and one of a thing is not "1 referrals"."""
    out = synced(network).stdout
    assert "loaded: 4 contacts (1 created from referrals), 1 conversation, 1 referral, " in out
    assert "0 prospects" in out
    assert "merged: 0 duplicate rows" in out
    assert "refused: 1 row\n    1 × unknown contact" in out
    assert "loaded with a warning: 1\n    1 × invalid email" in out
    assert "rejected" not in out


def test_rejects_says_in_words_what_became_of_each_row(network: Workspace) -> None:
    """No unexplained `[cell]`: the line says the row loaded without that value."""
    synced(network)
    lines = breadcrumbs(network, "rejects").stdout.splitlines()
    assert any(
        line.startswith("contacts.csv row 3, column email: 'not-an-email': invalid email")
        and line.endswith("(the row loaded without this value)")
        for line in lines
    ), lines
    assert any(
        line.startswith("interactions.csv row 3, column contact") and "(row not loaded)" in line
        for line in lines
    ), lines
    assert not any(line.endswith("]") for line in lines), lines


def test_a_dry_run_to_the_outbox_says_would_write(network: Workspace) -> None:
    """Nothing is ever sent in the outbox mode: the dry run says "would write"."""
    synced(network)
    result = breadcrumbs(network, "follow-up", "--dry-run", "--no-prefect")
    assert result.exit_code == 0, result.output
    assert "would write" in result.stdout
    assert "would send" not in result.stdout


def test_a_person_due_an_intro_is_not_also_on_the_call_list(workspace: Workspace) -> None:
    """Bob, referred and due an intro, is written to, not listed to call; Carla (no email,
    no phone) is listed to call, without a stray space before the colon."""
    write_profile(workspace)
    write_sheet(
        workspace,
        "email,name\nann@example.com,Ann Lee",
        "date,contact,kind,topic,notes,referrals\n"
        "2026-11-24,ann@example.com,coffee,,,Bob Stone <bob@example.com>; Carla Gómez",
    )
    synced(workspace)
    due = breadcrumbs(workspace, "due").stdout
    assert "intro     Bob Stone <bob@example.com>" in due
    calls = due.split("Going cold: call these people")[1]
    assert "Bob Stone" not in calls
    assert "  Carla Gómez: never contacted" in calls
    dry = breadcrumbs(workspace, "follow-up", "--dry-run", "--no-prefect", "--no-sync").stdout
    assert "Call these people (going cold): Carla Gómez" in dry
    assert "Bob Stone" not in dry.split("Call these people")[1]
    # Delivered for real, going cold is read as delivery closes (issue 11): the same list.
    run = breadcrumbs(workspace, "follow-up", "--no-prefect", "--no-sync").stdout
    assert "2 written" in run
    assert run.split("Call these people (going cold): ")[1].strip() == "Carla Gómez"


@pytest.mark.parametrize("typed", ["Renee Lefevre", "renée LEFÈVRE", "renee"])
def test_trail_finds_a_name_whatever_its_accents_and_case(network: Workspace, typed: str) -> None:
    """ "Renee Lefevre" is Renée Lefèvre."""
    synced(network)
    result = breadcrumbs(network, "trail", typed)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Renée Lefèvre"


def test_trail_of_a_misspelt_name_suggests_the_closest(network: Workspace) -> None:
    """No one is called "Rene Lefebvre": say so, and suggest Renée Lefèvre."""
    synced(network)
    result = breadcrumbs(network, "trail", "Rene Lefebvre")
    assert result.exit_code == 1
    assert "no contact named 'Rene Lefebvre'; did you mean Renée Lefèvre?" in result.stderr


def test_trail_of_a_name_several_share_lists_them(workspace: Workspace) -> None:
    """ "Lee" is Ann Lee and Bo Lee: say which, rather than "no single contact matches"."""
    write_sheet(workspace, "email,name\nann@example.com,Ann Lee\nbo@example.com,Bo Lee")
    synced(workspace)
    result = breadcrumbs(workspace, "trail", "lee")
    assert result.exit_code == 1
    assert "2 contacts match 'lee': Ann Lee, Bo Lee; be more precise" in result.stderr


def test_the_text_part_has_no_trailing_spaces_but_the_html_keeps_its_line_breaks(
    network: Workspace,
) -> None:
    """Markdown's two-space line breaks in the signature: gone from the text part, <br />
    in the HTML part."""
    synced(network)
    assert breadcrumbs(network, "follow-up", "--no-prefect", "--no-sync").exit_code == 0
    (ann,) = [p for p in outbox(network) if "Ann Lee" in read_message(p)["To"]]
    text = text_of(read_message(ann))
    assert "Jordan Rivera\njordan@example.com\n614-555-0100" in text
    assert [line for line in text.splitlines() if line != line.rstrip()] == []
    preview = breadcrumbs(network, "preview", "--html", _key_of(network, "ann@example.com"))
    assert "Jordan Rivera<br />" in preview.stdout


def _key_of(workspace: Workspace, email: str) -> str:
    return str(sql(workspace, "SELECT key FROM messages WHERE email = ?", [email])[0][0])


def test_a_misspelt_profile_key_is_named_with_the_likely_one(workspace: Workspace) -> None:
    """`phnoe` in [me]: "unknown key `phnoe` in [me]; did you mean `phone`?"."""
    write_profile(workspace)
    text = workspace.profile_path.read_text(encoding="utf-8")
    workspace.profile_path.write_text(text.replace("phone =", "phnoe ="), encoding="utf-8")
    result = breadcrumbs(workspace, "profile", "check")
    assert result.exit_code == 1
    assert "unknown key `phnoe` in [me]; did you mean `phone`?" in result.stderr
    assert "Extra inputs" not in result.stderr


def test_an_unquoted_profile_value_gets_the_parsers_message_and_the_fix(
    workspace: Workspace,
) -> None:
    """`name = Jordan Rivera`: the parser's words, and the line written with quotes."""
    write_profile(workspace)
    text = workspace.profile_path.read_text(encoding="utf-8")
    workspace.profile_path.write_text(
        text.replace('name = "Jordan Rivera"', "name = Jordan Rivera"), encoding="utf-8"
    )
    result = breadcrumbs(workspace, "due")
    assert result.exit_code == 1
    assert "Invalid value (at line 2, column 8)" in result.stderr
    assert 'text needs quotes: write line 2 as name = "Jordan Rivera"' in result.stderr


def test_outbox_files_are_named_after_their_recipient_and_kind(workspace: Workspace) -> None:
    """`2026-11-25 thank-you Ann Lee (…).eml`, `2026-11-25 intro Bob Stone (…).eml`: the
    contact's name, whatever the key holds (a conversation's hash, an address)."""
    write_profile(workspace)
    write_sheet(
        workspace,
        "email,name\nann@example.com,Ann Lee\nrenee@example.com,Renée Lefèvre",
        "date,contact,kind,topic,notes,referrals\n"
        "2026-11-24,ann@example.com,coffee,,,Bob Stone <bob@example.com>\n"
        "2026-11-23,renee@example.com,call,,,",
    )
    synced(workspace)
    result = breadcrumbs(workspace, "follow-up", "--no-prefect", "--no-sync")
    assert result.exit_code == 0, result.output
    names = sorted(re.sub(r" \([0-9a-f]{8}\)\.eml$", "", p.name) for p in outbox(workspace))
    assert names == [
        "2026-11-25 intro Bob Stone",
        "2026-11-25 thank-you Ann Lee",
        "2026-11-25 thank-you Renée Lefèvre",
    ]


def home_invoke(home: Path, *args: str) -> Result:
    """`breadcrumbs ARGS` with BREADCRUMBS_HOME=home: the default workspace of a new user."""
    return runner.invoke(app, list(args), env={"BREADCRUMBS_HOME": str(home), "COLUMNS": "250"})


def test_the_demo_runs_in_a_workspace_of_its_own_and_init_then_starts_afresh(
    tmp_path: Path,
) -> None:
    """`sync --sample` with no workspace runs in <home>/demo and says so; `init` afterwards
    creates the default workspace with the blank profile, not the sample's."""
    home = tmp_path / "home"
    demo = home_invoke(home, "sync", "--sample")
    assert demo.exit_code == 0, demo.output
    assert f"workspace: {home / 'demo'}" in demo.stderr
    assert f"This demo has a workspace of its own, {home / 'demo'}" in demo.stdout
    assert f"`breadcrumbs follow-up --no-sync -w {home / 'demo'}`" in demo.stdout
    assert not (home / "breadcrumbs.duckdb").exists()
    assert not (home / "profile.toml").exists()

    init = home_invoke(home, "init")
    assert init.exit_code == 0, init.output
    assert f"created {home / 'profile.toml'}" in init.stdout
    assert (home / "profile.toml").read_text(encoding="utf-8") == blank_profile()
    assert "next: fill in" in init.stdout and "`breadcrumbs sync SOURCE`" in init.stdout


def test_sync_sample_refuses_a_workspace_that_holds_the_users_network(
    network: Workspace,
) -> None:
    """`sync --sample -w MINE` after MINE synced a sheet: refused, and nothing changes."""
    synced(network)
    before = sql(network, "SELECT name FROM contacts ORDER BY name")
    result = breadcrumbs(network, "sync", "--sample")
    assert result.exit_code == 1
    assert "holds your own network" in result.stderr
    assert "the demo runs in a workspace of its own" in result.stderr
    assert sql(network, "SELECT name FROM contacts ORDER BY name") == before
    assert not (network.root / "sample").exists()
    follow = breadcrumbs(network, "follow-up", "--dry-run", "--no-prefect")
    assert "Jordan Rivera" not in follow.stdout and "example.com" in follow.stdout


def test_sync_sample_refuses_a_workspace_with_the_users_own_profile(workspace: Workspace) -> None:
    """A profile the user filled in, before any sync: the demo would sign as them. Refused."""
    write_profile(workspace)
    result = breadcrumbs(workspace, "sync", "--sample")
    assert result.exit_code == 1
    assert "is your own profile" in result.stderr
    assert not workspace.db_path.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_workspace_option_works_before_and_after_the_command(
    network: Workspace, where: str
) -> None:
    """`breadcrumbs --workspace X sync` and `breadcrumbs sync -w X` sync the same workspace."""
    option = ["--workspace", str(network.root)]
    command = ["sync", str(network.root / "sheet")]
    args = option + command if where == "before" else [*command, "-w", str(network.root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"workspace: {network.root}" in result.stderr
    assert sql(network, "SELECT count(*) FROM contacts") == [(4,)]


COMMANDS = [
    ["init"],
    ["sync"],
    ["rejects"],
    ["trail", "Ann Lee"],
    ["follow-up", "--dry-run", "--no-prefect"],
    ["due"],
    ["preview", "intro:e:nobody@example.com"],
    ["status"],
    ["opt-out", "nobody@example.com", "--undo"],
    ["skip", "intro:e:nobody@example.com"],
    ["profile", "check"],
    ["auth", "--no-browser"],
    ["touches"],
    ["unbounce", "nobody@example.com"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_every_command_names_the_workspace_it_reads_or_writes(
    network: Workspace, args: list[str]
) -> None:
    """Whatever it does, and whether it succeeds or not, it says which workspace."""
    synced(network)
    result = breadcrumbs(network, *args)
    assert f"workspace: {network.root}\n" in result.stderr, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["init", "{a}", "-w", "{b}"],
        ["--workspace", "{a}", "init", "{b}"],
        ["--workspace", "{a}", "status", "-w", "{b}"],
        ["status", "-w", "{a}", "-w", "{b}"],
    ],
    ids=["init A -w B", "-w A init B", "-w A status -w B", "status -w A -w B"],
)
def test_two_different_workspaces_are_an_error(tmp_path: Path, args: list[str]) -> None:
    """Never silently one of them: exit 1, both named, neither created."""
    a, b = tmp_path / "a", tmp_path / "b"
    result = runner.invoke(app, [x.format(a=a, b=b) for x in args])
    assert result.exit_code == 1
    assert f"two workspaces given: {a} and {b}" in result.stderr
    assert not a.exists() and not b.exists()


def test_init_in_a_folder_ends_with_a_next_step_in_that_workspace(tmp_path: Path) -> None:
    """`init ~/mine` says `breadcrumbs sync SOURCE -w ~/mine`, never the default workspace."""
    mine = tmp_path / "my network"
    result = home_invoke(tmp_path / "home", "init", str(mine))
    assert result.exit_code == 0, result.output
    assert f"then `breadcrumbs sync SOURCE -w '{mine}'`" in result.stdout
    again = home_invoke(tmp_path / "home", "init", str(mine), "-w", str(mine))
    assert again.exit_code == 0, again.output
    assert "already a workspace" in again.stdout


def test_status_shows_every_email_newest_first_under_the_counts(workspace: Workspace) -> None:
    """55 thank-yous over two runs: the counts, then the newest 50 (the second run's), and
    how to see the rest; `--all` shows all 55, the first run's last; `--json` the same."""
    write_profile(workspace)
    people = "".join(f"p{n:02}@example.com,Person {n:02}\n" for n in range(55))
    talks = "".join(f"2026-11-24,p{n:02}@example.com,call,,,\n" for n in range(55))
    write_sheet(workspace, "email,name\n" + people, INTERACTIONS_HEADER + "\n" + talks)
    synced(workspace)
    run = ["follow-up", "--no-prefect", "--no-sync"]
    assert breadcrumbs(workspace, *run, "--limit", "5").exit_code == 0
    first_run = {f"Person {r[0][1:3]}" for r in sql(workspace, "SELECT email FROM messages")}
    assert breadcrumbs(workspace, *run).exit_code == 0

    lines = breadcrumbs(workspace, "status").stdout.splitlines()
    assert lines[0] == "55 emails: 55 written"
    shown = lines[1:-1]
    assert len(shown) == 50
    assert all(re.match(r"  2026-11-25 written   thank-you Person \d\d <p", s) for s in shown)
    assert not any(name in line for line in shown for name in first_run)
    assert lines[-1] == "the newest 50 of 55: `--all` shows every one"

    every = breadcrumbs(workspace, "status", "--all").stdout.splitlines()[1:]
    assert len(every) == 55
    assert {line.split(" <")[0][-9:] for line in every[-5:]} == first_run

    data = json.loads(breadcrumbs(workspace, "status", "--json", "--all").stdout)
    assert data["counts"] == {"written": 55} and len(data["emails"]) == 55
    stamps = [e["planned_at"] for e in data["emails"]]
    assert stamps == sorted(stamps, reverse=True)
    assert {e["name"] for e in data["emails"][-5:]} == first_run


TYPE_NOISE = re.compile(r"<(bool|str|int|float|path|Path|list\[[^\]]*\])>|\{\w+\}")


def test_help_shows_no_type_placeholders_and_lists_the_modes() -> None:
    """`--help` of the program and of every command: no `<bool>`, `<str>` or `{key}`;
    arguments in capitals; --mode lists outbox, drafts and send."""
    import typer

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    names = group.list_commands(typer.Context(group))
    pages = {
        name: runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "250"})
        for name in ["", *names, "profile check"]
    }
    for name, page in pages.items():
        assert page.exit_code == 0, (name, page.output)
        assert not TYPE_NOISE.search(page.stdout), (name, TYPE_NOISE.search(page.stdout))
    assert "outbox|drafts|send" in pages["follow-up"].stdout
    assert "drafts|send" in pages["auth"].stdout
    assert "Usage: breadcrumbs preview [OPTIONS] KEY" in pages["preview"].stdout
    assert "Usage: breadcrumbs init [OPTIONS] [FOLDER]" in pages["init"].stdout
