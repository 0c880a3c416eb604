"""The fake Google itself, and the read helpers: search, Sheets, uploads, a shared subprocess."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.auth.transport.requests import AuthorizedSession
from googleapiclient.errors import HttpError

from breadcrumbs.deliver.gmail import gmail_mailer
from breadcrumbs.errors import AuthError, BreadcrumbsError
from breadcrumbs.google import api as google_api
from breadcrumbs.google.auth import credentials_from_info
from breadcrumbs.records import OutgoingEmail
from breadcrumbs.sources.read import sheet_id_of
from tests.fake_google import (
    USER,
    FakeGoogle,
    RemoteFakeGoogle,
    authorized_user_info,
    start_subprocess,
)

SHEET = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.fixture
def creds(fake: FakeGoogle) -> Any:
    return credentials_from_info(authorized_user_info(fake))


def ids(gmail: Any, q: str, **kwargs: Any) -> list[str]:
    return list(google_api.list_message_ids(gmail, q, **kwargs))


def test_search_supports_the_operators_reconcile_and_touches_use(
    fake: FakeGoogle, creds: Any
) -> None:
    """from:, to:, after: (epoch), subject:, in:, rfc822msgid: and bare words all filter."""
    now = datetime.now(UTC)
    old = fake.add_message(
        from_addr="Ann <ann@example.org>",
        to_addr=USER,
        subject="Re: coffee",
        when=now - timedelta(days=9),
    )
    new = fake.add_message(from_addr="Ann <ann@example.org>", to_addr=USER, subject="Re: intro")
    mine = fake.add_message(
        from_addr=USER,
        to_addr="bob@example.net",
        subject="Thanks, Bob",
        message_id="<t1@bc.example>",
    )
    gmail = google_api.build_gmail(creds, timeout=5)
    since = int((now - timedelta(days=2)).timestamp())
    assert ids(gmail, "from:ann@example.org") == [new, old]
    assert ids(gmail, f"from:ann@example.org after:{since}") == [new]
    assert ids(gmail, "in:sent to:bob@example.net") == [mine]
    assert ids(gmail, "rfc822msgid:t1@bc.example") == [mine]
    assert ids(gmail, 'subject:"re: coffee"') == [old]
    assert ids(gmail, "intro in:inbox") == [new]
    headers = google_api.message_headers(gmail, mine, ["From", "To", "Date"])
    assert headers["To"] == "bob@example.net" and headers["From"] == USER


def test_spam_and_trash_are_hidden_unless_asked_for(fake: FakeGoogle, creds: Any) -> None:
    """includeSpamTrash decides, as in Gmail."""
    trashed = fake.add_message(from_addr=USER, to_addr="c@example.org", labels=["SENT", "TRASH"])
    gmail = google_api.build_gmail(creds, timeout=5)
    assert ids(gmail, "to:c@example.org") == []
    assert ids(gmail, "to:c@example.org", include_spam_trash=True) == [trashed]


def test_a_bounce_names_the_failed_address(fake: FakeGoogle, creds: Any) -> None:
    """Seeded mailer-daemon failures are found by sender and carry the address."""
    fake.add_bounce("gone@example.org")
    gmail = google_api.build_gmail(creds, timeout=5)
    [bounce] = ids(gmail, "from:mailer-daemon")
    assert google_api.message_headers(gmail, bounce, ["X-Failed-Recipients"]) == {
        "X-Failed-Recipients": "gone@example.org",
        "internalDate": google_api.message_headers(gmail, bounce, [])["internalDate"],
    }


def test_results_come_in_pages(fake: FakeGoogle, creds: Any) -> None:
    """pageToken pagination returns every message once."""
    made = [
        fake.add_message(from_addr="d@example.org", to_addr=USER, subject=f"m{i}") for i in range(7)
    ]
    gmail = google_api.build_gmail(creds, timeout=5)
    assert sorted(ids(gmail, "from:d@example.org", page_size=3)) == sorted(made)
    assert fake.calls("messages.list") == 3


def test_an_operator_the_fake_does_not_know_is_a_400(fake: FakeGoogle, creds: Any) -> None:
    """The fake refuses rather than silently ignoring part of a query."""
    gmail = google_api.build_gmail(creds, timeout=5)
    with pytest.raises(HttpError) as info:
        ids(gmail, "has:attachment", num_retries=0)
    assert info.value.resp.status == 400


def test_reads_retry_a_rate_limit(
    fake: FakeGoogle, creds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read may be repeated: 429 then success."""
    monkeypatch.setattr("googleapiclient.http.time.sleep", lambda s: None)
    fake.inject("messages.list", "429")
    assert ids(google_api.build_gmail(creds, timeout=5), "in:inbox") == []
    assert fake.calls("messages.list") == 2


def test_the_account_check_compares_the_profile_address(fake: FakeGoogle, creds: Any) -> None:
    """getProfile must name the profile's From address."""
    gmail = google_api.build_gmail(creds, timeout=5)
    assert google_api.check_account(gmail, USER.upper()) == USER
    with pytest.raises(AuthError, match="signed in to Google as"):
        google_api.check_account(gmail, "someone.else@example.com")


def test_an_unknown_bearer_token_is_refused(fake: FakeGoogle) -> None:
    """The fake checks the token: a made-up one gets 401 and an AuthError."""
    bogus = credentials_from_info(
        authorized_user_info(fake, token="ya29.not-issued", refresh_token="1//nope")
    )
    fake.inject("token", "invalid_grant")
    with pytest.raises(AuthError):
        google_api.account_address(google_api.build_gmail(bogus, timeout=5))


def test_the_media_upload_forms_of_send_are_accepted(fake: FakeGoogle, creds: Any) -> None:
    """uploadType=media and multipart carry the same message as the raw JSON form.

    Posted directly: the client keeps https for /upload/ URLs when api_endpoint is http (it
    swaps only the host), so it cannot reach a plain-http fake that way. The mailers send the
    JSON `raw` form, which needs no upload URL.
    """
    session = AuthorizedSession(creds)
    raw = b"From: seeker@example.com\r\nTo: e@example.org\r\nSubject: up\r\n\r\nhello\r\n"
    url = fake.url + "upload/gmail/v1/users/me/messages/send"
    media = session.post(
        url + "?uploadType=media", data=raw, headers={"Content-Type": "message/rfc822"}
    )
    boundary = "===============7330845974216740156=="
    multipart = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode()
        + raw
        + f"\r\n--{boundary}--".encode()
    )
    both = session.post(
        url + "?uploadType=multipart",
        data=multipart,
        headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
    )
    assert (media.status_code, both.status_code) == (200, 200)
    assert [a["to"] for a in fake.accepted_sends()] == ["e@example.org", "e@example.org"]


def test_sheet_tabs_and_values_render_as_asked(fake: FakeGoogle, creds: Any) -> None:
    """spreadsheets.get lists tabs; batchGet renders numbers and dates per the options."""
    fake.add_spreadsheet(
        SHEET,
        {
            "Contacts": [
                ["Name", "Email", "Met", "Calls"],
                ["Ann", "ann@example.org", date(2026, 11, 3), 2],
            ],
            "Interactions": [["Contact", "Date"]],
        },
        date_format="%m/%d/%Y",
    )
    sheets = google_api.build_sheets(creds, timeout=5)
    assert google_api.sheet_tabs(sheets, SHEET) == ["Contacts", "Interactions"]
    values = google_api.read_tabs(sheets, SHEET, ["Contacts", "Prospects"])
    assert values == {
        "Contacts": [["Name", "Email", "Met", "Calls"], ["Ann", "ann@example.org", "11/03/2026", 2]]
    }
    serial = google_api.read_tabs(sheets, SHEET, ["Contacts"], datetime_render="SERIAL_NUMBER")
    assert serial["Contacts"][1][2] == 46329.0
    formatted = google_api.read_tabs(sheets, SHEET, ["Contacts"], value_render="FORMATTED_VALUE")
    assert formatted["Contacts"][1][3] == "2"


def test_a_missing_tab_fails_a_whole_batch_get(fake: FakeGoogle, creds: Any) -> None:
    """Why read_tabs lists tabs first: batchGet answers 400 for one missing range."""
    fake.add_spreadsheet(SHEET, {"Contacts": [["Name"]]})
    sheets = google_api.build_sheets(creds, timeout=5)
    request = (
        sheets.spreadsheets()
        .values()
        .batchGet(spreadsheetId=SHEET, ranges=["Contacts", "Prospects"])
    )
    with pytest.raises(HttpError) as info:
        request.execute()
    assert info.value.resp.status == 400


def test_write_back_is_raw_so_nothing_becomes_a_formula(fake: FakeGoogle, creds: Any) -> None:
    """values.update with valueInputOption RAW, recorded by the fake."""
    fake.add_spreadsheet(SHEET, {"Contacts": [["Name", "Status"], ["Ann", ""]]})
    sheets = google_api.build_sheets(creds, timeout=5)
    google_api.write_values(sheets, SHEET, "Contacts!B2", [["=sent 2026-11-03"]])
    [update] = fake.state.sheet_updates
    assert update["input"] == "RAW" and update["values"] == [["=sent 2026-11-03"]]
    assert google_api.read_tabs(sheets, SHEET, ["Contacts"])["Contacts"][1] == [
        "Ann",
        "=sent 2026-11-03",
    ]


def test_a_sheet_url_yields_its_id() -> None:
    """Both a full URL and a bare id name a sheet; a file name does not."""
    url = f"https://docs.google.com/spreadsheets/d/{SHEET}/edit#gid=0"
    assert sheet_id_of(url) == SHEET
    assert sheet_id_of(SHEET) == SHEET
    assert sheet_id_of("contacts.csv") is None


def test_the_fake_runs_as_a_subprocess_shared_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started with `python -m tests.fake_google`, driven remotely, its state kept in a file."""
    state_file = tmp_path / "fake.json"
    proc, url = start_subprocess(state_file)
    try:
        remote = RemoteFakeGoogle(url)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", remote.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", url)
        workspace = tmp_path / "ws"
        workspace.mkdir()
        (workspace / "token.json").write_text(json.dumps(authorized_user_info(remote)))
        remote.inject("messages.send", "drop_after")
        raw = (
            b"From: seeker@example.com\r\nTo: f@example.org\r\nSubject: Hi\r\n"
            b"Message-ID: <s1@bc>\r\n\r\nx\r\n"
        )
        email = OutgoingEmail("k", "f@example.org", "Hi", "<s1@bc>", raw, datetime.now(UTC))
        mailer = gmail_mailer("send", workspace, timeout=2.0)
        with pytest.raises(BreadcrumbsError):
            mailer.deliver(email)
        assert mailer.find_delivered(email) is not None
        assert len(remote.accepted_sends("messages.send")) == 1
    finally:
        proc.kill()
        proc.wait(5)
    saved = json.loads(state_file.read_text())
    assert [a["message_id"] for a in saved["accepted"]] == ["<s1@bc>"]
    decoded = base64.urlsafe_b64decode(next(iter(saved["messages"].values()))["raw"])
    assert b"Subject: Hi" in decoded
