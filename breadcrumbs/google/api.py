"""Gmail and Sheets clients, and the read calls other stages share.

Built with google-api-python-client from its bundled (static) discovery documents: no network
fetch of a discovery document, and the same method set in every run and in tests.

Env `BREADCRUMBS_GOOGLE_API_ENDPOINT` (e.g. `http://127.0.0.1:8080/`) points both APIs at
another server; the tests' fake Google uses it. Only https://, or http:// to this machine:
every request carries the OAuth token.

Reads may retry (`execute(num_retries=...)`: 5xx, 429, 403 rate limits, connection errors):
repeating a read changes nothing. Writes that must happen at most once (a send, a draft)
never go through here: see breadcrumbs/deliver/gmail.py.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from breadcrumbs.errors import AuthError
from breadcrumbs.google.auth import refresh_failed
from breadcrumbs.settings import trusted_endpoint

log = logging.getLogger(__name__)

API_ENDPOINT_ENV = "BREADCRUMBS_GOOGLE_API_ENDPOINT"
DEFAULT_TIMEOUT = 30.0  # seconds per HTTP request; a send that outlives it is "unknown"
READ_RETRIES = 3

# Gmail's per-user quota units (developers.google.com/gmail/api/reference/quota).
UNITS_SEND = 100
UNITS_DRAFT_CREATE = 10
UNITS_READ = 5  # messages.get/list, drafts.get/list
GMAIL_UNITS_PER_MINUTE = 6000  # the current per-user limit; older projects: 250 units/s


def api_endpoint() -> str | None:
    value = os.environ.get(API_ENDPOINT_ENV, "").strip()
    if not value:
        return None
    trusted_endpoint(value, API_ENDPOINT_ENV)
    return value if value.endswith("/") else value + "/"


def _build(api: str, version: str, creds: Any, timeout: float) -> Any:
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    # `build` takes credentials or an http object, not both; an AuthorizedHttp over our own
    # httplib2.Http is how the timeout gets in (build_http() would read the global socket
    # default instead). 308 is a resumable-upload status, not a redirect, as build_http sets.
    http = httplib2.Http(timeout=timeout)
    http.redirect_codes = http.redirect_codes - {308}
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    endpoint = api_endpoint()
    options = {"api_endpoint": endpoint} if endpoint else None
    return build(
        api,
        version,
        http=authed,
        static_discovery=True,
        cache_discovery=False,
        client_options=options,
    )


def build_gmail(creds: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    return _build("gmail", "v1", creds, timeout)


def build_sheets(creds: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    return _build("sheets", "v4", creds, timeout)


# ----- pacing ---------------------------------------------------------------------------------
class Pacer:
    """A token bucket that keeps a batch under Gmail's per-user units-per-minute quota.

    The bucket holds at most `burst` units and refills at (units_per_minute - burst) per
    minute, so in ANY 60-second window at most burst + (units_per_minute - burst) =
    units_per_minute units are spent: the quota can never be exceeded, not merely on average.
    `burst` must cover the dearest single call (a send, 100 units).
    Clock and sleep are injectable so tests can play minutes instantly.
    """

    def __init__(
        self,
        units_per_minute: float = GMAIL_UNITS_PER_MINUTE,
        *,
        burst: float = UNITS_SEND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if units_per_minute <= burst:
            raise ValueError("units_per_minute must exceed burst")
        self.burst = burst
        self.rate = (units_per_minute - burst) / 60.0  # units per second
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self, units: float) -> float:
        """Wait until `units` may be spent, spend them; returns the seconds waited."""
        if units > self.burst:
            raise ValueError(f"a call of {units} units exceeds the burst of {self.burst}")
        waited = 0.0
        with self._lock:
            self._refill()
            # The epsilon: float rounding can leave the bucket a hair short after the exact
            # wait, and a sleep of 1e-15 s may not move the clock at all: never spin on it.
            while self._tokens < units - 1e-6:
                wait = (units - self._tokens) / self.rate
                self._sleep(wait)
                waited += wait
                self._refill()
            self._tokens -= units
        return waited

    def drain(self) -> None:
        """After a rate-limit reply: start the next call from an empty bucket."""
        with self._lock:
            self._refill()
            self._tokens = 0.0


# ----- reads ----------------------------------------------------------------------------------
def execute_read(request: Any, *, num_retries: int = READ_RETRIES) -> Any:
    """Execute a read, retrying what is safe to retry; auth failures become AuthError."""
    import google.auth.exceptions
    from googleapiclient.errors import HttpError

    try:
        return request.execute(num_retries=num_retries)
    except google.auth.exceptions.RefreshError as exc:
        # Raised by the refresh after a 401: nothing was accepted.
        raise refresh_failed(exc) from None
    except HttpError as exc:
        status = int(exc.resp.status)
        if status == 401:
            raise AuthError(
                "Google rejected the saved sign-in: run `breadcrumbs auth` again."
            ) from None
        if status == 403 and error_reason(exc.content) in ("insufficientPermissions", "forbidden"):
            raise AuthError(
                "The saved sign-in lacks a permission this mode needs: run `breadcrumbs auth` "
                "again with the modes you use."
            ) from None
        raise


def error_reason(content: bytes | str | None) -> str:
    """The first `errors[].reason` (or `error.status`) of a Google JSON error body."""
    import json

    try:
        data = json.loads(content or b"{}")
        err = data.get("error") or {}
        errors = err.get("errors") or []
        if errors and isinstance(errors[0], dict) and errors[0].get("reason"):
            return str(errors[0]["reason"])
        return str(err.get("status") or "")
    except (ValueError, AttributeError):
        return ""


def account_address(gmail: Any) -> str:
    """The Gmail account's address (users.getProfile)."""
    profile = execute_read(gmail.users().getProfile(userId="me"))
    return str(profile["emailAddress"])


def check_account(gmail: Any, from_addr: str) -> str:
    """Raise AuthError unless the profile's From address is the signed-in account's."""
    actual = account_address(gmail)
    if actual.strip().lower() != from_addr.strip().lower():
        raise AuthError(
            f"You are signed in to Google as {actual}, but profile.toml sends from "
            f"{from_addr}: run `breadcrumbs auth` with the right account, or fix the profile."
        )
    return actual


def list_message_ids(
    gmail: Any,
    q: str,
    *,
    include_spam_trash: bool = False,
    limit: int | None = None,
    pacer: Pacer | None = None,
    page_size: int = 100,
    num_retries: int = READ_RETRIES,
) -> Iterator[str]:
    """Message ids matching the Gmail search `q`, newest first, across pages."""
    token: str | None = None
    seen = 0
    while True:
        if pacer is not None:
            pacer.take(UNITS_READ)
        kwargs: dict[str, Any] = {
            "userId": "me",
            "q": q,
            "includeSpamTrash": include_spam_trash,
            "maxResults": page_size,
        }
        if token:
            kwargs["pageToken"] = token
        page = execute_read(gmail.users().messages().list(**kwargs), num_retries=num_retries)
        for item in page.get("messages", []):
            yield str(item["id"])
            seen += 1
            if limit is not None and seen >= limit:
                return
        token = page.get("nextPageToken")
        if not token:
            return


def message_headers(
    gmail: Any,
    message_id: str,
    names: list[str],
    *,
    pacer: Pacer | None = None,
    num_retries: int = READ_RETRIES,
    with_snippet: bool = False,
) -> dict[str, str]:
    """The named headers of one message (format=metadata), keyed by the names asked for."""
    if pacer is not None:
        pacer.take(UNITS_READ)
    msg = execute_read(
        gmail.users()
        .messages()
        .get(userId="me", id=message_id, format="metadata", metadataHeaders=names),
        num_retries=num_retries,
    )
    out = headers_of(msg, names) | {"internalDate": str(msg.get("internalDate", ""))}
    if with_snippet:
        # The metadata format carries the snippet too: a bounce without X-Failed-Recipients
        # names the failed address only in its text (mailbox.classify reads it there).
        out["snippet"] = str(msg.get("snippet", ""))
    return out


def message_raw(
    gmail: Any, message_id: str, *, pacer: Pacer | None = None, num_retries: int = READ_RETRIES
) -> bytes:
    """The whole RFC 5322 message (format=raw): for the rare mail whose body decides."""
    import base64

    if pacer is not None:
        pacer.take(UNITS_READ)
    msg = execute_read(
        gmail.users().messages().get(userId="me", id=message_id, format="raw"),
        num_retries=num_retries,
    )
    return base64.urlsafe_b64decode(str(msg.get("raw", "")) + "==")


def headers_of(message: dict[str, Any], names: list[str]) -> dict[str, str]:
    wanted = {n.lower(): n for n in names}
    out: dict[str, str] = {}
    for h in (message.get("payload") or {}).get("headers", []):
        key = wanted.get(str(h.get("name", "")).lower())
        if key and key not in out:
            out[key] = str(h.get("value", ""))
    return out


# ----- Sheets ---------------------------------------------------------------------------------
def sheet_tabs(sheets: Any, sheet_id: str) -> list[str]:
    """Tab titles (spreadsheets.get): batchGet fails whole on a missing tab, so look first."""
    meta = execute_read(
        sheets.spreadsheets().get(spreadsheetId=sheet_id, fields="sheets.properties.title")
    )
    return [str(s["properties"]["title"]) for s in meta.get("sheets", [])]


def read_tabs(
    sheets: Any,
    sheet_id: str,
    tabs: list[str],
    *,
    value_render: str = "UNFORMATTED_VALUE",
    datetime_render: str = "FORMATTED_STRING",
) -> dict[str, list[list[Any]]]:
    """The values of whole tabs in one batchGet; tabs absent from the sheet are skipped.

    Defaults: numbers arrive as numbers and dates as the sheet's display string (not a
    locale-free serial number), which is what a CSV export of the same sheet would hold, so
    the same validation applies.
    """
    present = set(sheet_tabs(sheets, sheet_id))
    wanted = [t for t in tabs if t in present]
    if not wanted:
        return {}
    ranges = ["'" + t.replace("'", "''") + "'" for t in wanted]
    result = execute_read(
        sheets.spreadsheets()
        .values()
        .batchGet(
            spreadsheetId=sheet_id,
            ranges=ranges,
            valueRenderOption=value_render,
            dateTimeRenderOption=datetime_render,
            majorDimension="ROWS",
        )
    )
    out: dict[str, list[list[Any]]] = {}
    for tab, vr in zip(wanted, result.get("valueRanges", []), strict=False):
        out[tab] = vr.get("values", [])
    return out


def write_values(sheets: Any, sheet_id: str, a1_range: str, values: list[list[Any]]) -> Any:
    """values.update with RAW input, so nothing written is parsed as a formula or a date."""
    return execute_read(
        sheets.spreadsheets()
        .values()
        .update(
            spreadsheetId=sheet_id,
            range=a1_range,
            valueInputOption="RAW",
            body={"range": a1_range, "majorDimension": "ROWS", "values": values},
        ),
        # An idempotent overwrite of the same cells: retrying it is harmless.
        num_retries=READ_RETRIES,
    )
