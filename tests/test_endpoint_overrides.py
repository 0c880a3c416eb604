"""The endpoint overrides (there for the tests' fake Google) never carry the OAuth token in
the clear to another machine: https://, or http:// to a loopback address only (issue #8, 11).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breadcrumbs.errors import AuthError
from breadcrumbs.google.api import api_endpoint, build_gmail
from breadcrumbs.google.auth import load_client_config, load_credentials, token_uri
from breadcrumbs.settings import trusted_endpoint
from tests.fake_google import FakeGoogle, authorized_user_info, client_secrets

TRUSTED = [
    "https://gmail.googleapis.com/",
    "https://oauth2.example.org/token",
    "http://127.0.0.1:8080/",
    "http://127.5.6.7/token",
    "http://[::1]:9000/",
    "http://localhost:8765/",
    "http://LOCALHOST/",
]
REFUSED = [
    "http://example.com/",
    "http://10.0.0.1:8080/",
    "http://192.168.1.5/token",
    "http://127.0.0.1.evil.example/",
    "http://localhost.evil.example/",
    "http://127.0.0.1@evil.example/",
    "http://[::2]/",
    "ftp://127.0.0.1/",
    "127.0.0.1:8080",
    "https://",
    "file:///tmp/token",
]


@pytest.mark.parametrize("url", TRUSTED)
def test_https_or_plain_http_to_this_machine_is_accepted(url: str) -> None:
    """The fake on 127.0.0.1 and any https server are fine places for a token."""
    assert trusted_endpoint(url, "BREADCRUMBS_GOOGLE_API_ENDPOINT") == url


@pytest.mark.parametrize("url", REFUSED)
def test_plain_http_elsewhere_is_refused_with_what_is_allowed(url: str) -> None:
    """The error names the setting and says what it accepts."""
    with pytest.raises(AuthError) as refused:
        trusted_endpoint(url, "BREADCRUMBS_GOOGLE_TOKEN_URI")
    message = str(refused.value)
    assert "BREADCRUMBS_GOOGLE_TOKEN_URI" in message
    assert "https://" in message and "127.0.0.1" in message and "::1" in message


def test_a_plain_http_token_uri_elsewhere_stops_before_any_token_is_read_or_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeGoogle
) -> None:
    """Loading the token or the client file refuses the endpoint: no refresh can go there."""
    monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", "http://tokens.example.net/token")
    (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(fake)))
    (tmp_path / "credentials.json").write_text(json.dumps(client_secrets(fake)))
    with pytest.raises(AuthError, match="BREADCRUMBS_GOOGLE_TOKEN_URI"):
        token_uri()
    with pytest.raises(AuthError, match="https://"):
        load_credentials(tmp_path)
    with pytest.raises(AuthError, match="https://"):
        load_client_config(tmp_path)


def test_a_plain_http_api_endpoint_elsewhere_builds_no_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeGoogle
) -> None:
    """Every Gmail and Sheets request carries the token: no client is built for such a host."""
    (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(fake)))
    creds = load_credentials(tmp_path)
    monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", "http://10.1.2.3:8080/")
    with pytest.raises(AuthError, match="BREADCRUMBS_GOOGLE_API_ENDPOINT"):
        api_endpoint()
    with pytest.raises(AuthError, match=r"127\.0\.0\.1"):
        build_gmail(creds)
    monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", fake.url)
    assert build_gmail(creds) is not None
