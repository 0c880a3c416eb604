"""Gmail mailers: `drafts` (users.drafts.create) and `send` (users.messages.send).

Exactly once is the whole point, so the one request that creates a message goes out over a
transport that makes exactly ONE attempt:

- `request.execute(num_retries=N)` retries 5xx, 429 and connection errors: a 503 after
  Gmail stored the message, retried, is a second email.
- Even with num_retries=0, httplib2 re-sends a POST once when the server closes the
  connection without a reply (its stale-connection rule in `Http._conn_request`, which
  ignores `httplib2.RETRIES`): the fake Google recorded two sends for one call.

So the client only *builds* the request (`service.users().messages().send(...)` returns an
HttpRequest with method, URI, headers and body), and google-auth's `AuthorizedSession` (a
requests Session: urllib3 with no retries; it re-sends only after a 401, which Gmail answers
before accepting anything) executes it once. Redirects are not followed, since a 307/308
would re-post. What happens then:

- 2xx: sent/drafted. The Message-ID Gmail stored is read back (messages.get / drafts.get,
  format metadata) because Gmail is not documented to keep the client's.
- timeout, dropped connection, any 5xx, an unreadable 2xx: DeliveryUnknown. The mail may have
  left; the next run calls `find_delivered` before anything is sent again.
- 429, or 403 userRateLimitExceeded / rateLimitExceeded: a rate-limit reply is Google's
  front end turning the request away before the method runs (it is the reply instead of
  the method's result, and quota is checked before the work), so nothing was stored and the
  SAME request may be sent again after a back-off. That is the only retry here. After
  `rate_limit_retries` back-offs the batch is deferred with QuotaExhausted.
- "(Mail sending)" in the message, dailyLimitExceeded or quotaExceeded: the account's
  sending limit: QuotaExhausted, the rest of the batch waits for the next run.
- 401 after google-auth's own refresh, 403 for a missing permission: AuthError (not sent).
- other 4xx (400 invalid To header, 413 too large, ...): DeliveryFailed with Gmail's reason.

Before every create the access token is refreshed if it expires within a few minutes (and
saved back), so a send never leans on a refresh-and-retry in the middle.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, Literal

from breadcrumbs.deliver.mailer import Mailer
from breadcrumbs.errors import AuthError, DeliveryFailed, DeliveryUnknown, QuotaExhausted
from breadcrumbs.google.api import (
    DEFAULT_TIMEOUT,
    READ_RETRIES,
    UNITS_DRAFT_CREATE,
    UNITS_READ,
    UNITS_SEND,
    Pacer,
    build_gmail,
    error_reason,
    execute_read,
    headers_of,
    list_message_ids,
    message_headers,
)
from breadcrumbs.google.auth import ensure_fresh, load_credentials, refresh_failed, save_token
from breadcrumbs.records import Delivery, Mode, OutgoingEmail

__all__ = [
    "GmailDraftsMailer",
    "GmailSendMailer",
    "Pacer",
    "gmail_mailer",
]

log = logging.getLogger(__name__)

RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
SENDING_LIMIT_REASONS = {"dailyLimitExceeded", "quotaExceeded"}
PERMISSION_REASONS = {"insufficientPermissions", "forbidden", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
# How far before the ledger row's creation a search for the sent mail starts: covers clock
# skew between this machine and Google (and `after:` counting whole seconds).
SEARCH_MARGIN = timedelta(hours=2)
FALLBACK_SEARCH_LIMIT = 50


class _GmailMailer:
    mode: Mode

    def __init__(
        self,
        gmail: Any,
        creds: Any,
        *,
        workspace: Path | None = None,
        pacer: Pacer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        rate_limit_retries: int = 5,
        backoff_base: float = 2.0,
        backoff_max: float = 64.0,
        sleep: Callable[[float], None] = time.sleep,
        read_retries: int = READ_RETRIES,
        search_margin: timedelta = SEARCH_MARGIN,
    ) -> None:
        from google.auth.transport.requests import AuthorizedSession
        from requests.adapters import HTTPAdapter

        self.gmail = gmail
        self.creds = creds
        self.workspace = workspace  # where a refreshed token is saved back; None: in memory
        self.pacer = pacer or Pacer()
        self.timeout = timeout
        self.rate_limit_retries = rate_limit_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.read_retries = read_retries
        self.search_margin = search_margin
        self._session = AuthorizedSession(creds)
        # Explicitly no retries at the urllib3 level, for every scheme: one attempt per call.
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=0))

    def close(self) -> None:
        self._session.close()

    # ----- the one-attempt POST --------------------------------------------------------------
    def _create(self, build_request: Callable[[], Any], units: int, what: str) -> dict[str, Any]:
        """Send the create request once per attempt; retry only on a rate-limit reply."""
        import google.auth.exceptions
        import requests

        for attempt in range(self.rate_limit_retries + 1):
            self.pacer.take(units)
            # Inside the loop: back-offs can outlast a token's last minutes.
            ensure_fresh(self.creds, self.workspace)
            token_before = self.creds.token
            req = build_request()  # the client builds method, URI, headers and JSON body
            headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
            body = req.body.encode() if isinstance(req.body, str) else req.body
            try:
                resp = self._session.request(
                    req.method,
                    req.uri,
                    data=body,
                    headers=headers,
                    timeout=(self.timeout, self.timeout),
                    allow_redirects=False,
                )
            except google.auth.exceptions.RefreshError as exc:
                # Raised by the refresh after a 401: nothing was accepted.
                raise refresh_failed(exc) from None
            except google.auth.exceptions.TransportError:
                # The token endpoint was unreachable during that refresh: still nothing sent.
                raise AuthError(
                    "Could not reach Google's token endpoint to refresh the sign-in; the "
                    f"{what} was not made. Try again later."
                ) from None
            except requests.exceptions.RequestException as exc:
                # Timeout, dropped connection, reset: the request may have been processed.
                raise DeliveryUnknown(
                    f"Gmail {what} outcome unknown ({type(exc).__name__}): it will be looked "
                    "up in the mailbox before anything is sent again."
                ) from None
            if self.workspace is not None and self.creds.token != token_before:
                save_token(self.workspace, self.creds)  # google-auth refreshed it on a 401
            status = resp.status_code
            if 200 <= status < 300:
                try:
                    data = resp.json()
                    if not isinstance(data, dict) or "id" not in data:
                        raise ValueError("no id")
                except ValueError:
                    raise DeliveryUnknown(
                        f"Gmail accepted the {what} but its reply was unreadable: it will be "
                        "looked up in the mailbox."
                    ) from None
                return data
            reason, message = _error_details(resp.content)
            if status >= 500 or 300 <= status < 400 or status < 200:
                raise DeliveryUnknown(
                    f"Gmail answered {status} to the {what}: it may have been stored; it will "
                    "be looked up in the mailbox before anything is sent again."
                )
            if "(Mail sending)" in message or reason in SENDING_LIMIT_REASONS:
                raise QuotaExhausted(
                    f"Gmail's sending limit is reached ({_short(message) or reason}): the rest "
                    "of the batch waits for the next run."
                )
            if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
                # Rejected before processing (see module docstring): safe to try again.
                if attempt == self.rate_limit_retries:
                    break
                delay = self._backoff(attempt, resp.headers.get("Retry-After"))
                log.info("Gmail rate limit (%s); retrying the %s in %.1f s", status, what, delay)
                self.pacer.drain()
                self._sleep(delay)
                continue
            if status == 401 or (status == 403 and reason in PERMISSION_REASONS):
                raise AuthError(
                    f"Gmail refused the {what} ({status} {reason}): run `breadcrumbs auth` "
                    "again, for the mode you use."
                )
            raise DeliveryFailed(f"Gmail refused the {what}: {status} {_short(message) or reason}")
        raise QuotaExhausted(
            f"Gmail kept answering 'rate limit' after {self.rate_limit_retries} back-offs: "
            "the rest of the batch waits for the next run."
        )

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.backoff_max)
        delay = min(self.backoff_base * 2**attempt, self.backoff_max)
        return float(delay * (0.5 + random.random() / 2))  # jitter, so parallel runs spread

    # ----- reconcile helpers ------------------------------------------------------------------
    def _since(self, email: OutgoingEmail) -> int:
        planned = email.planned_at
        if planned.tzinfo is None:
            planned = planned.replace(tzinfo=UTC)  # the ledger writes UTC
        # Epoch seconds: Gmail reads `after:YYYY/MM/DD` in Pacific time.
        return int((planned - self.search_margin).timestamp())

    def _read(self, request: Any) -> Any:
        self.pacer.take(UNITS_READ)
        ensure_fresh(self.creds, self.workspace)  # else httplib2 refreshes and never saves
        return execute_read(request, num_retries=self.read_retries)

    def _lookup(self, fn: Callable[[], Delivery | None], email: OutgoingEmail) -> Delivery | None:
        """Run a lookup; any failure stays 'unknown' (None would mean 'certainly not sent')."""
        try:
            return fn()
        except AuthError:
            raise
        except Exception as exc:
            raise DeliveryUnknown(
                f"Could not look {email.key} up in Gmail ({type(exc).__name__}); "
                "it stays unknown until a later run can."
            ) from None

    def _find_sent_message(self, email: OutgoingEmail) -> tuple[str, str] | None:
        """(gmail id, stored Message-ID) of the mail in the mailbox, or None."""
        ensure_fresh(self.creds, self.workspace)
        ids = list(
            list_message_ids(
                self.gmail,
                f"rfc822msgid:{_bare(email.message_id)}",
                include_spam_trash=True,
                limit=5,
                pacer=self.pacer,
                num_retries=self.read_retries,
            )
        )
        if ids:
            return ids[0], email.message_id
        # Gmail may have replaced the Message-ID: the sent mail to this address since the
        # row was planned, with the same subject.
        q = f"in:sent to:{email.to_addr} after:{self._since(email)}"
        for mid in list_message_ids(
            self.gmail,
            q,
            include_spam_trash=True,
            limit=FALLBACK_SEARCH_LIMIT,
            pacer=self.pacer,
            num_retries=self.read_retries,
        ):
            headers = message_headers(
                self.gmail,
                mid,
                ["Subject", "Message-ID"],
                pacer=self.pacer,
                num_retries=self.read_retries,
            )
            if _same_subject(headers.get("Subject", ""), email.subject):
                return mid, headers.get("Message-ID", "") or email.message_id
        return None


class GmailSendMailer(_GmailMailer):
    """Sends with users.messages.send; the message goes out at the moment of the call."""

    mode: Mode = "send"

    def deliver(self, email: OutgoingEmail) -> Delivery:
        raw = base64.urlsafe_b64encode(email.raw).decode("ascii")
        sent = self._create(
            lambda: self.gmail.users().messages().send(userId="me", body={"raw": raw}),
            UNITS_SEND,
            "send",
        )
        gmail_id = str(sent["id"])
        return Delivery("sent", gmail_id, self._stored_message_id(gmail_id))

    def _stored_message_id(self, gmail_id: str) -> str | None:
        # The mail has certainly left now: a failed read-back must not turn it into an error.
        try:
            msg = self._read(
                self.gmail.users()
                .messages()
                .get(userId="me", id=gmail_id, format="metadata", metadataHeaders=["Message-ID"])
            )
        except Exception as exc:
            log.warning(
                "Sent, but could not read the stored Message-ID back (%s)", type(exc).__name__
            )
            return None
        return headers_of(msg, ["Message-ID"]).get("Message-ID")

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        def lookup() -> Delivery | None:
            found = self._find_sent_message(email)
            return Delivery("sent", found[0], found[1]) if found else None

        return self._lookup(lookup, email)


class GmailDraftsMailer(_GmailMailer):
    """Creates drafts with users.drafts.create, for the user to review and send from Gmail.

    Reconciling an uncertain draft looks in Drafts and in the mailbox: a draft whose answer
    was lost may have been sent by the user since, and is then gone from Drafts (issue #8).
    Searching the mailbox needs gmail.readonly beside gmail.compose (see auth.scopes_for).
    """

    mode: Mode = "drafts"

    def deliver(self, email: OutgoingEmail) -> Delivery:
        raw = base64.urlsafe_b64encode(email.raw).decode("ascii")
        draft = self._create(
            lambda: self.gmail.users().drafts().create(userId="me", body={"message": {"raw": raw}}),
            UNITS_DRAFT_CREATE,
            "draft",
        )
        draft_id = str(draft["id"])
        return Delivery("drafted", draft_id, self._stored_message_id(draft_id))

    def _stored_message_id(self, draft_id: str) -> str | None:
        try:
            draft = self._read(
                self.gmail.users().drafts().get(userId="me", id=draft_id, format="metadata")
            )
        except Exception as exc:
            log.warning(
                "Drafted, but could not read the stored Message-ID back (%s)", type(exc).__name__
            )
            return None
        return headers_of(draft.get("message") or {}, ["Message-ID"]).get("Message-ID")

    def _list_drafts(self, q: str, limit: int) -> list[tuple[str, str]]:
        """(draft id, message id) of drafts matching q, newest first."""
        out: list[tuple[str, str]] = []
        token: str | None = None
        while len(out) < limit:
            kwargs: dict[str, Any] = {"userId": "me", "q": q, "maxResults": 100}
            if token:
                kwargs["pageToken"] = token
            page = self._read(self.gmail.users().drafts().list(**kwargs))
            out += [(str(d["id"]), str(d["message"]["id"])) for d in page.get("drafts", [])]
            token = page.get("nextPageToken")
            if not token:
                break
        return out[:limit]

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        def lookup() -> Delivery | None:
            hits = self._list_drafts(f"rfc822msgid:{_bare(email.message_id)}", 5)
            if hits:
                return Delivery("drafted", hits[0][0], email.message_id)
            found = self._find_sent_message(email)
            if found:  # the user already sent our draft from Gmail
                return Delivery("drafted", found[0], found[1])
            q = f"to:{email.to_addr} after:{self._since(email)}"
            for draft_id, _ in self._list_drafts(q, FALLBACK_SEARCH_LIMIT):
                draft = self._read(
                    self.gmail.users().drafts().get(userId="me", id=draft_id, format="metadata")
                )
                headers = headers_of(draft.get("message") or {}, ["Subject", "Message-ID"])
                if _same_subject(headers.get("Subject", ""), email.subject):
                    return Delivery(
                        "drafted", draft_id, headers.get("Message-ID") or email.message_id
                    )
            return None

        return self._lookup(lookup, email)


def gmail_mailer(
    mode: Literal["drafts", "send"],
    workspace: Path,
    *,
    creds: Any = None,
    pacer: Pacer | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> Mailer:
    """A Gmail mailer for `mode`, with the token from `<workspace>/token.json` unless given.

    A refreshed token is saved back to token.json when it came from there; `creds` passed in
    (e.g. from a Prefect Secret block) are refreshed in memory only.
    """
    save_to: Path | None = workspace if creds is None else None
    if creds is None:
        creds = load_credentials(workspace)
    ensure_fresh(creds, save_to)  # the service's own http would refresh too; do it once, here
    gmail = build_gmail(creds, timeout=timeout)
    common: dict[str, Any] = {"workspace": save_to, "pacer": pacer, "timeout": timeout, **kwargs}
    if mode == "send":
        return GmailSendMailer(gmail, creds, **common)
    return GmailDraftsMailer(gmail, creds, **common)


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def _same_subject(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _error_details(content: bytes) -> tuple[str, str]:
    try:
        err = json.loads(content or b"{}").get("error") or {}
        message = str(err.get("message") or "") if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        message = ""
    return error_reason(content), message


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
