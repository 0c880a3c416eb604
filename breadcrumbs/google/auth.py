"""Google OAuth for Breadcrumbs: the installed-app flow, the token file, refreshing it.

Plain Python, no Prefect (except, lazily, `load_token_from_prefect_secret`).

Files in the workspace:
- `credentials.json`: the OAuth client ("Desktop app") the user downloads from Google Cloud.
- `token.json`: the user's refresh and access tokens, mode 0600, replaced atomically.

Where a refresh goes: env `BREADCRUMBS_GOOGLE_TOKEN_URI` if set (https://, or http:// to
this machine only), else Google's endpoint.
Never the `token_uri` written in token.json or credentials.json: a tampered file would
otherwise hand the refresh token and client secret to whoever it names. google-auth's
`Credentials.from_authorized_user_info` already ignores the file's value; we keep that and
set the endpoint only from the explicit setting.

Secrets (tokens, client secret) never go into a log line or an exception message: errors
from google-auth can carry the token endpoint's response, so they are reported by kind
only, and chained with `from None`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from breadcrumbs.errors import AuthError
from breadcrumbs.settings import trusted_endpoint

log = logging.getLogger(__name__)

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
TOKEN_URI_ENV = "BREADCRUMBS_GOOGLE_TOKEN_URI"
CREDENTIALS_FILE = "credentials.json"
TOKEN_FILE = "token.json"
DEFAULT_AUTH_PORT = 8765  # fixed for --no-browser, so `ssh -L 8765:localhost:8765` can reach it
# Refresh a little before the access token runs out, so a send never starts with a token
# that expires mid-request (a 401 on a send would be retried by google-auth, which is safe,
# but a refresh that fails then is a send we cannot finish).
REFRESH_MARGIN = timedelta(minutes=5)

_SCOPE = "https://www.googleapis.com/auth/"
GMAIL_SEND = _SCOPE + "gmail.send"
GMAIL_COMPOSE = _SCOPE + "gmail.compose"
GMAIL_READONLY = _SCOPE + "gmail.readonly"
SHEETS_READONLY = _SCOPE + "spreadsheets.readonly"
SHEETS = _SCOPE + "spreadsheets"

GmailMode = Literal["outbox", "drafts", "send"]


@dataclass(frozen=True)
class Needs:
    """What the chosen modes do with Google; `scopes_for` turns it into the fewest scopes."""

    mode: GmailMode = "outbox"
    mailbox_touches: bool = False  # read recent mail to and from contacts
    sheets: bool = False  # a Google Sheet is a source
    sheets_write_back: bool = False  # write each contact's email state back to the sheet


def scopes_for(needs: Needs) -> list[str]:
    """The fewest scopes `needs` requires, in a stable order.

    - send: gmail.send to send, plus gmail.readonly, because sending exactly once needs the
      mailbox: reading back the stored Message-ID (messages.get) and reconciling an
      uncertain send (messages.list with `q`, which the narrower gmail.metadata refuses).
    - drafts: gmail.compose creates drafts, reads them back (drafts.get) and finds an
      uncertain one among the drafts (drafts.list with `q`), plus gmail.readonly, because a
      draft whose answer was lost may have been sent by the user since: only a mailbox
      search (messages.list with `q`) finds it, and gmail.compose cannot search.
      gmail.compose also covers sending, so gmail.send is never asked for beside it.
    - mailbox touches: gmail.readonly.
    - sheets: spreadsheets.readonly, or spreadsheets when the status write-back is on.
    """
    scopes: list[str] = []
    if needs.mode == "send":
        scopes += [GMAIL_SEND, GMAIL_READONLY]
    elif needs.mode == "drafts":
        scopes += [GMAIL_COMPOSE, GMAIL_READONLY]
    if needs.mailbox_touches and GMAIL_READONLY not in scopes:
        scopes.append(GMAIL_READONLY)
    if needs.sheets_write_back:
        scopes.append(SHEETS)
    elif needs.sheets:
        scopes.append(SHEETS_READONLY)
    return scopes


def token_uri() -> str:
    """The token endpoint: the explicit setting, or Google's. Never a file's."""
    value = os.environ.get(TOKEN_URI_ENV, "").strip()
    return trusted_endpoint(value, TOKEN_URI_ENV) if value else GOOGLE_TOKEN_URI


# ----- client secrets and the installed-app flow ------------------------------------------
def load_client_config(workspace: Path) -> dict[str, Any]:
    """Read credentials.json; its token endpoint is replaced by `token_uri()`."""
    path = workspace / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError(
            f"{path} is missing: create an OAuth client of type 'Desktop app' in Google Cloud "
            "and save its JSON there (README, 'Connect your Gmail')."
        ) from None
    except (OSError, ValueError):
        raise AuthError(f"{path} is not a readable OAuth client JSON file.") from None
    kind = "installed" if "installed" in data else "web" if "web" in data else None
    section = data.get(kind) if kind else None
    if not isinstance(section, dict) or not section.get("client_id"):
        raise AuthError(
            f"{path} is not an OAuth client file: download the JSON of a 'Desktop app' client."
        )
    if kind != "installed":
        raise AuthError(f"{path} is a 'Web application' client: create a 'Desktop app' client.")
    section = dict(section)
    # Same protection as for token.json: the authorization code and the client secret go
    # only to the endpoint the program trusts.
    section["token_uri"] = token_uri()
    section.setdefault("auth_uri", GOOGLE_AUTH_URI)
    return {"installed": section}


def run_auth(
    workspace: Path,
    needs: Needs,
    *,
    open_browser: bool = True,
    port: int | None = None,
    login_hint: str | None = None,
    timeout_seconds: int | None = 300,
) -> Any:
    """Run the installed-app OAuth flow and save token.json (0600). Returns the credentials.

    With `open_browser=False` (`--no-browser`) the URL is printed and the redirect listener
    uses a fixed port (default DEFAULT_AUTH_PORT), so a user on SSH can forward it with
    `ssh -L PORT:localhost:PORT host` and open the URL on their own machine.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    scopes = scopes_for(needs)
    if not scopes:
        raise AuthError("The outbox mode needs no Google account: nothing to authorise.")
    flow = InstalledAppFlow.from_client_config(load_client_config(workspace), scopes=scopes)
    if port is None:
        port = 0 if open_browser else DEFAULT_AUTH_PORT
    extra: dict[str, str] = {"prompt": "consent"}  # consent again → a fresh refresh token
    if login_hint:
        extra["login_hint"] = login_hint
    try:
        creds = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=open_browser,
            authorization_prompt_message="Open this URL in a browser to connect Breadcrumbs "
            "to your Google account:\n\n{url}\n",
            success_message="Breadcrumbs is connected. You may close this window.",
            timeout_seconds=timeout_seconds,
            **extra,
        )
    except Exception as exc:  # oauthlib and wsgiref errors may quote the token response
        raise AuthError(
            f"Google sign-in did not finish ({type(exc).__name__}): run `breadcrumbs auth` again."
        ) from None
    save_token(workspace, creds)
    log.info("Saved Google token for scopes %s", " ".join(scopes))
    return creds


# ----- the token file -----------------------------------------------------------------------
def _to_info(creds: Any) -> dict[str, Any]:
    # token_uri is left out on purpose: it is never read back (see module docstring).
    return dict(json.loads(creds.to_json(strip=["token_uri"])))


def save_token(workspace: Path, creds: Any) -> Path:
    """Write token.json with mode 0600, atomically: a crash leaves the old or the new file."""
    path = workspace / TOKEN_FILE
    data = json.dumps(_to_info(creds), indent=2).encode()
    tmp = workspace / f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # Created 0600 from the first byte (O_EXCL: never through someone else's file), then
    # renamed over token.json, so no reader ever sees a half-written or world-readable token.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits, but be explicit
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def credentials_from_info(info: Mapping[str, Any], scopes: Iterable[str] | None = None) -> Any:
    """Credentials from token JSON; the refresh endpoint is `token_uri()`, whatever `info` says."""
    from google.oauth2.credentials import Credentials

    try:
        creds = Credentials.from_authorized_user_info(
            dict(info), scopes=list(scopes) if scopes else None
        )
    except (ValueError, KeyError, TypeError):
        # The message names missing fields only, but keep to a fixed text anyway.
        raise AuthError(
            "The saved Google token is incomplete or damaged: run `breadcrumbs auth` again."
        ) from None
    # from_authorized_user_info pinned Google's endpoint; only the explicit setting moves it.
    # with_token_uri returns a copy without the expiry (google-auth 2.63): carry it over, or
    # a valid token would look expired and be refreshed on every load.
    moved = creds.with_token_uri(token_uri())
    moved.expiry = creds.expiry
    return moved


def load_credentials(workspace: Path) -> Any:
    path = workspace / TOKEN_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError(
            f"No Google token at {path}: run `breadcrumbs auth` to connect your Gmail."
        ) from None
    except (OSError, ValueError):
        raise AuthError(f"{path} is damaged: run `breadcrumbs auth` again.") from None
    if not isinstance(info, dict):
        raise AuthError(f"{path} is damaged: run `breadcrumbs auth` again.")
    return credentials_from_info(info)


def load_token_from_prefect_secret(block_name: str) -> Any:
    """Credentials from a Prefect Secret block holding token.json's text (for deployments)."""
    from prefect.blocks.system import Secret  # lazy: importing prefect costs ~2 s

    try:
        block: Any = Secret.load(block_name)  # sync call: returns the block, not a coroutine
        value = block.get()
    except Exception as exc:
        raise AuthError(
            f"Could not read the Prefect Secret block {block_name!r} ({type(exc).__name__})."
        ) from None
    info = json.loads(value) if isinstance(value, str) else value
    if not isinstance(info, dict):
        raise AuthError(f"The Prefect Secret block {block_name!r} does not hold token JSON.")
    return credentials_from_info(info)


def expires_soon(creds: Any, margin: timedelta = REFRESH_MARGIN) -> bool:
    if not creds.token or creds.expiry is None:
        return True
    # google-auth keeps expiry as a naive UTC datetime.
    now = datetime.now(UTC).replace(tzinfo=None)
    return bool(creds.expiry - margin <= now)


def refresh(creds: Any, *, timeout: float = 30.0) -> None:
    """Refresh through `creds.token_uri` (always `token_uri()`); errors carry no secrets."""
    import google.auth.exceptions
    import requests
    from google.auth.transport.requests import Request

    # Defence in depth: whoever built `creds`, the refresh goes where the setting says.
    if creds.token_uri != token_uri():
        creds._token_uri = token_uri()
    session = requests.Session()
    transport = Request(session=session)

    def bounded(**kwargs: Any) -> Any:
        # google-auth calls the transport without a timeout (its default is 120 s).
        kwargs.setdefault("timeout", timeout)
        return transport(**kwargs)

    try:
        creds.refresh(bounded)
    except google.auth.exceptions.RefreshError as exc:
        raise refresh_failed(exc) from None
    except google.auth.exceptions.TransportError:
        raise AuthError(
            "Could not reach Google's token endpoint to refresh the sign-in; try again later."
        ) from None
    finally:
        session.close()
    log.info("Refreshed the Google access token")


def refresh_failed(exc: Exception) -> AuthError:
    """The error to raise for a failed refresh, naming the fix but never the reply's text
    (a token endpoint's answer may quote what it was sent)."""
    if "invalid_grant" in str(exc):
        return AuthError(
            "Google no longer accepts the saved sign-in (invalid_grant: revoked, expired, "
            "or a Testing-status app's 7-day limit): run `breadcrumbs auth` again."
        )
    return AuthError("Google refused to refresh the sign-in: run `breadcrumbs auth` again.")


def ensure_fresh(creds: Any, workspace: Path | None, *, margin: timedelta = REFRESH_MARGIN) -> bool:
    """Refresh if expired or expiring within `margin`, and save back. True if refreshed.

    Called before every send, so a send never relies on google-auth's refresh-and-retry.
    `workspace=None` (a token from a Prefect Secret) refreshes in memory only.
    """
    if not expires_soon(creds, margin):
        return False
    refresh(creds)
    if workspace is not None:
        save_token(workspace, creds)
    return True


SECRET_BLOCK_ENV = "BREADCRUMBS_GOOGLE_TOKEN_SECRET"


def credentials_for(workspace: Path) -> tuple[Any, Path | None]:
    """The credentials to use, and where a refresh is saved back (None: keep in memory).

    A deployment may keep the token in a Prefect Secret block, named by env
    BREADCRUMBS_GOOGLE_TOKEN_SECRET, instead of token.json: then it is never written to disk.
    """
    block = os.environ.get(SECRET_BLOCK_ENV, "").strip()
    if block:
        return load_token_from_prefect_secret(block), None
    return load_credentials(workspace), workspace
