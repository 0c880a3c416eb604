"""Google sign-in: scopes, the token file, refreshing through the right endpoint, no leaks."""

from __future__ import annotations

import json
import logging
import re
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from breadcrumbs.errors import AuthError
from breadcrumbs.google import auth as google_auth
from breadcrumbs.google.auth import (
    GMAIL_COMPOSE,
    GMAIL_READONLY,
    GMAIL_SEND,
    GOOGLE_TOKEN_URI,
    SHEETS,
    SHEETS_READONLY,
    Needs,
    scopes_for,
)
from tests.fake_google import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeGoogle,
    authorized_user_info,
    client_secrets,
)

EXPIRED = "2020-01-01T00:00:00Z"


@pytest.fixture
def evil() -> Iterator[FakeGoogle]:
    """A second server a tampered file might name: it must never hear from us."""
    with FakeGoogle() as server:
        yield server


def write_token(workspace: Path, info: dict[str, Any]) -> Path:
    path = workspace / "token.json"
    path.write_text(json.dumps(info))
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_send_mode_asks_for_gmail_send_and_readonly_only() -> None:
    """Send needs gmail.send, and gmail.readonly to read back and reconcile; nothing else."""
    assert scopes_for(Needs(mode="send")) == [GMAIL_SEND, GMAIL_READONLY]


def test_drafts_mode_asks_for_gmail_compose_and_readonly() -> None:
    """gmail.compose creates, reads and lists drafts; reconciling a draft the user may have
    sent since searches the mailbox, which needs gmail.readonly (issue #8)."""
    assert scopes_for(Needs(mode="drafts")) == [GMAIL_COMPOSE, GMAIL_READONLY]


def test_sheets_scope_is_readonly_unless_write_back_is_on() -> None:
    """A sheet source reads only; the status write-back is what needs spreadsheets."""
    assert scopes_for(Needs(sheets=True)) == [SHEETS_READONLY]
    assert scopes_for(Needs(sheets=True, sheets_write_back=True)) == [SHEETS]
    assert scopes_for(Needs(mode="drafts", mailbox_touches=True)) == [GMAIL_COMPOSE, GMAIL_READONLY]
    assert scopes_for(Needs()) == []


def test_expired_token_is_refreshed_through_the_configured_endpoint_and_saved_0600(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """An expired token goes to BREADCRUMBS_GOOGLE_TOKEN_URI, and the new one is saved 0600."""
    path = write_token(tmp_path, authorized_user_info(fake, expiry=EXPIRED))
    path.chmod(0o644)
    creds = google_auth.load_credentials(tmp_path)
    assert google_auth.ensure_fresh(creds, tmp_path) is True
    assert [r["grant_type"] for r in fake.token_requests()] == ["refresh_token"]
    saved = json.loads(path.read_text())
    assert saved["token"] == creds.token != ACCESS_TOKEN
    assert saved["refresh_token"] == REFRESH_TOKEN
    assert "token_uri" not in saved
    assert mode_of(path) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != "token.json"]  # no temp file left


def test_a_token_uri_written_in_the_token_file_is_never_used(
    fake: FakeGoogle, evil: FakeGoogle, tmp_path: Path
) -> None:
    """A tampered token.json naming another endpoint refreshes through the setting anyway."""
    write_token(tmp_path, authorized_user_info(fake, expiry=EXPIRED, token_uri=evil.token_uri))
    creds = google_auth.load_credentials(tmp_path)
    google_auth.ensure_fresh(creds, tmp_path)
    assert evil.token_requests() == []
    assert len(fake.token_requests()) == 1


def test_without_the_setting_the_endpoint_is_googles_not_the_files(
    evil: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no BREADCRUMBS_GOOGLE_TOKEN_URI the refresh endpoint is Google's own."""
    monkeypatch.delenv("BREADCRUMBS_GOOGLE_TOKEN_URI", raising=False)
    write_token(tmp_path, authorized_user_info(evil, token_uri=evil.token_uri))
    assert google_auth.load_credentials(tmp_path).token_uri == GOOGLE_TOKEN_URI


def test_a_fresh_token_is_not_refreshed(fake: FakeGoogle, tmp_path: Path) -> None:
    """A token valid for an hour is used as it is."""
    write_token(tmp_path, authorized_user_info(fake))
    assert google_auth.ensure_fresh(google_auth.load_credentials(tmp_path), tmp_path) is False
    assert fake.token_requests() == []


def test_a_token_expiring_within_minutes_is_refreshed_before_use(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """Two minutes left is too little for a send: refresh first."""
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    write_token(tmp_path, authorized_user_info(fake, expiry=soon))
    assert google_auth.ensure_fresh(google_auth.load_credentials(tmp_path), tmp_path) is True


def test_invalid_grant_says_run_auth_again_and_leaks_no_secret(
    fake: FakeGoogle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A revoked refresh token is an AuthError naming the fix, without token text anywhere."""
    caplog.set_level(logging.DEBUG)
    write_token(tmp_path, authorized_user_info(fake, expiry=EXPIRED))
    fake.inject("token", "invalid_grant")
    creds = google_auth.load_credentials(tmp_path)
    with pytest.raises(AuthError, match="run `breadcrumbs auth` again") as info:
        google_auth.ensure_fresh(creds, tmp_path)
    text = str(info.value) + repr(info.value.__cause__) + caplog.text
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in text
    assert info.value.__suppress_context__  # the library error (with the reply) is not chained


def test_no_token_text_reaches_the_logs_during_refresh_and_api_calls(
    fake: FakeGoogle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug logging of google-auth, httplib2, urllib3 and ours never shows a secret."""
    from breadcrumbs.google import api as google_api

    caplog.set_level(logging.DEBUG)
    write_token(tmp_path, authorized_user_info(fake, expiry=EXPIRED))
    creds = google_auth.load_credentials(tmp_path)
    google_auth.ensure_fresh(creds, tmp_path)
    google_api.account_address(google_api.build_gmail(creds, timeout=5))
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, creds.token):
        assert secret not in caplog.text


def test_a_missing_token_file_says_how_to_connect(tmp_path: Path) -> None:
    """No token.json yet: the error names `breadcrumbs auth`."""
    with pytest.raises(AuthError, match="breadcrumbs auth"):
        google_auth.load_credentials(tmp_path)


def test_a_damaged_token_file_is_an_auth_error_without_its_content(tmp_path: Path) -> None:
    """A token file missing fields is reported by kind, never by quoting it."""
    write_token(tmp_path, {"token": "ya29.SECRET-ACCESS", "client_id": "x"})
    with pytest.raises(AuthError) as info:
        google_auth.load_credentials(tmp_path)
    assert "SECRET" not in str(info.value)


def test_auth_flow_saves_a_0600_token_with_the_fewest_scopes(
    fake: FakeGoogle,
    evil: FakeGoogle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--no-browser`: the printed URL, opened elsewhere, completes the flow and saves the token."""
    # oauthlib refuses plain-http token endpoints unless told; the fake is http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    secrets_file = client_secrets(fake)
    secrets_file["installed"]["token_uri"] = evil.token_uri  # never used: the setting wins
    (tmp_path / "credentials.json").write_text(json.dumps(secrets_file))
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["creds"] = google_auth.run_auth(
                tmp_path, Needs(mode="drafts"), open_browser=False, port=0, timeout_seconds=10
            )
        except BaseException as exc:  # surfaced by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    printed = ""
    deadline = time.monotonic() + 10
    while "http" not in printed and time.monotonic() < deadline:
        time.sleep(0.05)
        printed += capsys.readouterr().out
    match = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\S+)", printed)
    assert match, printed
    # The user's browser: consent at the fake, redirected back to the local listener.
    assert requests.get(match.group(1), timeout=10).status_code == 200
    thread.join(10)
    assert "error" not in result, result.get("error")
    token = tmp_path / "token.json"
    assert mode_of(token) == 0o600
    saved = json.loads(token.read_text())
    assert saved["scopes"] == [GMAIL_COMPOSE, GMAIL_READONLY]
    assert saved["refresh_token"].startswith("1//fake-")
    assert evil.token_requests() == []
    assert [r["grant_type"] for r in fake.token_requests()] == ["authorization_code"]


def test_a_web_application_client_file_is_refused(tmp_path: Path) -> None:
    """Only a Desktop app client works with the installed-app flow."""
    (tmp_path / "credentials.json").write_text(json.dumps({"web": {"client_id": "x"}}))
    with pytest.raises(AuthError, match="Desktop app"):
        google_auth.load_client_config(tmp_path)
