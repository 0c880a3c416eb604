"""A fake of the Google HTTP APIs Breadcrumbs calls, speaking real HTTP on 127.0.0.1.

Why a server and not mocks: the duplicate-send hazards live in the transport (httplib2
re-sends a POST when a connection closes without a reply; `execute(num_retries=N)` retries
5xx and 429), so only the real google-api-python-client talking over a real socket shows them.

What it serves, at the paths the client builds from its static discovery documents when
`client_options={"api_endpoint": fake.url}`:

- Gmail v1: users.getProfile, users.messages.send (JSON `{"raw": ...}`, and the media-upload
  forms `/upload/...?uploadType=media|multipart`), users.messages.get (format metadata /
  minimal / raw / full), users.messages.list (a subset of Gmail search, below),
  users.drafts.create, users.drafts.get, users.drafts.list.
- Sheets v4: spreadsheets.get, spreadsheets.values.batchGet, spreadsheets.values.update.
- OAuth: `POST /token` (refresh_token and authorization_code grants) and `GET /o/oauth2/auth`,
  which redirects straight back to the app's redirect_uri with a code, as a consenting user
  would.

Search (`q`) supports `rfc822msgid:`, `in:sent|inbox|drafts|spam|trash|anywhere`, `label:`,
`to:`, `from:`, `subject:` (word, "quoted phrase" or (words)), `after:`/`before:` (epoch
seconds, or YYYY/MM/DD read in Pacific time as Gmail does), `is:unread`, and bare words
(matched against subject and body). An operator it does not know is a 400, so a test never
silently passes on a query the fake ignored.

Every API call needs `Authorization: Bearer <token>` with a token the fake issued (or the
seeded `initial_access_token`); anything else is a 401, as from Google.

Faults (`inject(endpoint, kind, count=1, skip=0, delay=...)`), per endpoint name in
`ENDPOINTS`, applied to the next `count` calls after `skip` calls have passed: see `FAULTS`.
A per-user quota (`set_quota`) charges Gmail's units per call (send 100, drafts.create 10,
get/list 5) in a sliding window and answers 429 when a call would exceed it; its clock is
injectable so a test can play minutes in milliseconds. `set_daily_send_limit(n)` answers
the "(Mail sending)" limit once n messages were sent.

Inspection: `accepted_sends()` lists every send and draft-create the fake *accepted*
(stored), in order, whatever the client later heard: the exactly-once assertions use it.

In-process use (pytest): `with FakeGoogle() as fake: ...` or the `fake_google` fixture
below. Across processes (crash tests): run

    python -m tests.fake_google --port 0 --state /tmp/fake-state.json

It prints one line `FAKE_GOOGLE_READY http://127.0.0.1:PORT/` when listening. Control and
inspect it over HTTP with `RemoteFakeGoogle(url)` (same inject/seed/inspect methods, through
`/_fake/...` endpoints that need no token). With `--state FILE` the whole state (mailbox,
drafts, sheets, accepted sends) is written atomically to FILE after every change and loaded
from it at start, so it survives a restart of the fake and can be read after it is gone.
`start_subprocess(state_file)` does the launch and waits for the ready line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email
import email.policy
import email.utils
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CLIENT_ID = "fake-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret-DO-NOT-LOG"
REFRESH_TOKEN = "1//fake-refresh-token-DO-NOT-LOG"
ACCESS_TOKEN = "ya29.fake-initial-access-token-DO-NOT-LOG"
USER = "seeker@example.com"

# Gmail's per-user quota units per method (developers.google.com/gmail/api/reference/quota).
COSTS: dict[str, int] = {
    "getProfile": 1,
    "messages.send": 100,
    "drafts.create": 10,
    "messages.get": 5,
    "messages.list": 5,
    "drafts.get": 5,
    "drafts.list": 5,
}
ENDPOINTS = (
    "getProfile",
    "messages.send",
    "messages.get",
    "messages.list",
    "drafts.create",
    "drafts.get",
    "drafts.list",
    "spreadsheets.get",
    "values.batchGet",
    "values.update",
    "token",
)
# Endpoints that store something: "after accepting" faults act on them after the store.
ACCEPTING = {"messages.send", "drafts.create", "values.update"}
FAULTS = {
    "500": "500 backendError before accepting (nothing stored)",
    "503_after": "store, then 503 backendError",
    "drop_before": "close the socket with no reply, before accepting",
    "drop_after": "store, then close the socket with no reply",
    "slow_after": "store, then wait `delay` seconds before a 200 reply",
    "429": "429 rateLimitExceeded before accepting",
    "403_user_rate": "403 userRateLimitExceeded before accepting",
    "403_rate": "403 rateLimitExceeded before accepting",
    "daily_limit": "403 dailyLimitExceeded before accepting",
    "mail_sending": '429 "User-rate limit exceeded. Retry after ... (Mail sending)"',
    "400_invalid_to": "400 invalidArgument: Invalid To header",
    "401": "401 authError",
    "403_forbidden": "403 PERMISSION_DENIED, as Sheets answers for a sheet not shared with you",
    "invalid_grant": "token endpoint only: 400 invalid_grant",
}
PACIFIC_OFFSET = timedelta(hours=-8)  # fallback when zoneinfo has no tz database


@dataclass
class Fault:
    endpoint: str
    kind: str
    count: int = 1
    skip: int = 0
    delay: float = 0.0


@dataclass
class Quota:
    units: int
    window_seconds: float
    spent: deque[tuple[float, int]] = field(default_factory=deque)


class FakeState:
    """Everything the fake knows; all methods are called under `lock`."""

    def __init__(
        self,
        *,
        user: str = USER,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
        initial_access_token: str | None = ACCESS_TOKEN,
        access_token_lifetime: int = 3599,
        clock: Callable[[], float] = time.monotonic,
        rewrite_message_id: bool = False,
        state_file: Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.user = user
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = {refresh_token}
        self.access_tokens: set[str] = {initial_access_token} if initial_access_token else set()
        self.access_token_lifetime = access_token_lifetime
        self.clock = clock
        # Gmail is not documented to keep the client's Message-ID (in practice it does);
        # a test can make the fake replace it to prove the mailer reads the stored one back.
        self.rewrite_message_id = rewrite_message_id
        self.state_file = state_file
        self.messages: dict[str, dict[str, Any]] = {}
        self.drafts: dict[str, dict[str, Any]] = {}
        self.sheets: dict[str, dict[str, Any]] = {}
        self.accepted: list[dict[str, Any]] = []  # every stored send / draft, in order
        self.sheet_updates: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.token_requests: list[dict[str, str]] = []  # grant types and outcomes, no secrets
        self.faults: list[Fault] = []
        self.quota: Quota | None = None
        self.daily_send_limit: int | None = None
        self.auth_codes: dict[str, list[str]] = {}
        self._seq = 0
        if state_file is not None and state_file.exists():
            self._load(json.loads(state_file.read_text()))

    # ----- ids and persistence -------------------------------------------------------
    def new_id(self) -> str:
        self._seq += 1
        return f"{0x18C0000000000000 + self._seq:x}"

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self._seq,
            "messages": self.messages,
            "drafts": self.drafts,
            "sheets": {k: _encode_sheet(v) for k, v in self.sheets.items()},
            "accepted": self.accepted,
            "sheet_updates": self.sheet_updates,
            "calls": self.calls,
            "token_requests": self.token_requests,
        }

    def _load(self, data: dict[str, Any]) -> None:
        self._seq = data["seq"]
        self.messages = data["messages"]
        self.drafts = data["drafts"]
        self.sheets = {k: _decode_sheet(v) for k, v in data["sheets"].items()}
        self.accepted = data["accepted"]
        self.sheet_updates = data["sheet_updates"]
        self.calls = data["calls"]
        self.token_requests = data["token_requests"]

    def persist(self) -> None:
        if self.state_file is None:
            return
        # Atomic replace, so a reader (or a restarted fake) never sees half a file.
        tmp = self.state_file.with_name(self.state_file.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.snapshot()))
        os.replace(tmp, self.state_file)

    # ----- seeding -------------------------------------------------------------------
    def add_message(
        self,
        *,
        from_addr: str,
        to_addr: str,
        subject: str = "",
        body: str = "",
        when: datetime | None = None,
        labels: list[str] | None = None,
        message_id: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> str:
        """Seed a mailbox message (a reply, a bounce, a mail the user sent by hand)."""
        when = when or datetime.now(UTC)
        msg = EmailMessage()
        msg["From"] = from_addr
        msg["To"] = to_addr
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(when)
        msg["Message-ID"] = message_id or email.utils.make_msgid(domain="mail.example.net")
        for name, value in (extra_headers or {}).items():
            msg[name] = value
        msg.set_content(body)
        if labels is None:
            labels = ["SENT"] if _addr(from_addr) == self.user.lower() else ["INBOX", "UNREAD"]
        return self._store(msg.as_bytes(policy=email.policy.SMTP), labels, when)["id"]

    def add_bounce(self, failed_addr: str, *, when: datetime | None = None) -> str:
        """Seed a mailer-daemon delivery failure naming `failed_addr`."""
        return self.add_message(
            from_addr="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            to_addr=self.user,
            subject="Delivery Status Notification (Failure)",
            body=(
                f"Address not found\n\nYour message wasn't delivered to {failed_addr} "
                "because the address couldn't be found, or is unable to receive mail.\n"
            ),
            when=when,
            extra_headers={"X-Failed-Recipients": failed_addr},
        )

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        tabs: dict[str, list[list[Any]]],
        *,
        title: str = "Networking",
        date_format: str = "%Y-%m-%d",
    ) -> None:
        """Seed a spreadsheet: tab title → rows of cells (str, int, float, bool, date)."""
        self.sheets[spreadsheet_id] = {
            "title": title,
            "date_format": date_format,
            "tabs": {name: [list(r) for r in rows] for name, rows in tabs.items()},
        }

    # ----- faults and quota ----------------------------------------------------------
    def inject(
        self, endpoint: str, kind: str, count: int = 1, skip: int = 0, delay: float = 0.0
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULTS)}")
        self.faults.append(Fault(endpoint, kind, count, skip, delay))

    def set_quota(self, units: int | None, window_seconds: float = 60.0) -> None:
        self.quota = Quota(units, window_seconds) if units else None

    def take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint != endpoint:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def charge(self, endpoint: str) -> bool:
        """Spend the call's quota units; False if that would exceed the window's limit."""
        if self.quota is None or endpoint not in COSTS:
            return True
        now = self.clock()
        spent = self.quota.spent
        while spent and spent[0][0] <= now - self.quota.window_seconds:
            spent.popleft()
        cost = COSTS[endpoint]
        if sum(units for _, units in spent) + cost > self.quota.units:
            return False
        spent.append((now, cost))
        return True

    # ----- mailbox -------------------------------------------------------------------
    def _store(self, raw: bytes, labels: list[str], when: datetime | None = None) -> dict[str, Any]:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        if self.rewrite_message_id or not parsed.get("Message-ID"):
            del parsed["Message-ID"]
            parsed["Message-ID"] = f"<{secrets.token_hex(12)}@mail.gmail.com>"
            raw = parsed.as_bytes(policy=email.policy.SMTP)
        when = when or datetime.now(UTC)
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
        body = parsed.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        mid = self.new_id()
        record = {
            "id": mid,
            "threadId": mid,
            "labelIds": labels,
            "internalDate": str(int(when.timestamp() * 1000)),
            "headers": headers,
            "raw": base64.urlsafe_b64encode(raw).decode(),
            "text": text,
        }
        self.messages[mid] = record
        return record

    def accept_send(self, raw: bytes, endpoint: str) -> dict[str, Any]:
        record = self._store(raw, ["SENT"])
        self.accepted.append(
            {"endpoint": endpoint, "id": record["id"], **_summary(record), "at": time.time()}
        )
        self.persist()
        return {"id": record["id"], "threadId": record["threadId"], "labelIds": ["SENT"]}

    def accept_draft(self, raw: bytes) -> dict[str, Any]:
        record = self._store(raw, ["DRAFT"])
        draft_id = "r" + self.new_id()
        self.drafts[draft_id] = {"id": draft_id, "message_id": record["id"]}
        self.accepted.append(
            {"endpoint": "drafts.create", "id": draft_id, **_summary(record), "at": time.time()}
        )
        self.persist()
        return {
            "id": draft_id,
            "message": {"id": record["id"], "threadId": record["threadId"], "labelIds": ["DRAFT"]},
        }

    def sent_count(self) -> int:
        return sum(1 for a in self.accepted if a["endpoint"] == "messages.send")

    def search(self, q: str, include_spam_trash: bool, pool: list[str] | None = None) -> list[str]:
        ids = pool if pool is not None else list(self.messages)
        terms = _parse_query(q)
        found = []
        for mid in ids:
            m = self.messages[mid]
            labels = set(m["labelIds"])
            explicit_in = any(op in ("in", "label") for op, _ in terms)
            if not include_spam_trash and not explicit_in and labels & {"SPAM", "TRASH"}:
                continue
            if all(
                not _matches(m, op[4:], value) if op.startswith("not:") else _matches(m, op, value)
                for op, value in terms
            ):
                found.append(mid)
        found.sort(key=lambda i: int(self.messages[i]["internalDate"]), reverse=True)
        return found


# ----- query parsing ---------------------------------------------------------------------
_OPERATORS = {"rfc822msgid", "in", "label", "to", "from", "subject", "after", "before", "is"}


def _parse_query(q: str) -> list[tuple[str, str]]:
    # Gmail allows subject:(a b); turn the parentheses into a quoted phrase for shlex.
    q = re.sub(r":\(([^)]*)\)", lambda m: ':"' + m.group(1) + '"', q)
    terms = []
    for token in shlex.split(q):
        negate = token.startswith("-") and ":" in token
        op, sep, value = token.removeprefix("-").partition(":") if negate else token.partition(":")
        if sep and op.lower() in _OPERATORS:
            # Gmail's "-in:drafts": the term must not match. Kept as "not:in".
            terms.append((("not:" if negate else "") + op.lower(), value))
        elif sep and re.fullmatch(r"[A-Za-z_]+", op):
            raise QueryError(f"the fake does not support the search operator {op}:")
        else:
            terms.append(("text", token))
    return terms


class QueryError(ValueError):
    """A search the fake cannot answer truthfully."""


def _header(m: dict[str, Any], name: str) -> str:
    return " ".join(h["value"] for h in m["headers"] if h["name"].lower() == name.lower())


def _addr(value: str) -> str:
    return email.utils.parseaddr(value)[1].lower()


def _epoch(value: str) -> float:
    if value.isdigit():
        return float(value)
    day = datetime.strptime(value.replace("-", "/"), "%Y/%m/%d")
    try:
        from zoneinfo import ZoneInfo

        return day.replace(tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    except Exception:  # no tz database: Pacific standard time is close enough for a fake
        return (day - PACIFIC_OFFSET).replace(tzinfo=UTC).timestamp()


def _matches(m: dict[str, Any], op: str, value: str) -> bool:
    labels = set(m["labelIds"])
    value_l = value.lower()
    if op == "rfc822msgid":
        return _header(m, "Message-ID").strip().strip("<>").lower() == value_l.strip("<>")
    if op in ("in", "label"):
        if value_l == "anywhere":
            return True
        wanted = {"drafts": "DRAFT", "draft": "DRAFT"}.get(value_l, value.upper())
        return wanted in labels
    if op in ("to", "from"):
        names = ("To", "Cc", "Bcc") if op == "to" else ("From",)
        addrs = email.utils.getaddresses([_header(m, n) for n in names])
        return any(value_l in a.lower() or value_l in n.lower() for n, a in addrs)
    if op == "subject":
        return value_l in _header(m, "Subject").lower()
    if op == "after":
        return int(m["internalDate"]) / 1000 > _epoch(value)
    if op == "before":
        return int(m["internalDate"]) / 1000 < _epoch(value)
    if op == "is":
        return value.upper() in labels
    haystack = (_header(m, "Subject") + " " + m["text"]).lower()
    return value_l in haystack


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": _header(record, "Message-ID"),
        "to": _header(record, "To"),
        "subject": _header(record, "Subject"),
    }


# ----- sheets helpers --------------------------------------------------------------------
def _encode_cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"datetime": v.isoformat()}
    if isinstance(v, date):
        return {"date": v.isoformat()}
    return v


def _decode_cell(v: Any) -> Any:
    if isinstance(v, dict) and "datetime" in v:
        return datetime.fromisoformat(v["datetime"])
    if isinstance(v, dict) and "date" in v:
        return date.fromisoformat(v["date"])
    return v


def _encode_sheet(s: dict[str, Any]) -> dict[str, Any]:
    tabs = {t: [[_encode_cell(c) for c in r] for r in rows] for t, rows in s["tabs"].items()}
    return {**s, "tabs": tabs}


def _decode_sheet(s: dict[str, Any]) -> dict[str, Any]:
    tabs = {t: [[_decode_cell(c) for c in r] for r in rows] for t, rows in s["tabs"].items()}
    return {**s, "tabs": tabs}


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _col_letters(index: int) -> str:
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


def _parse_range(a1: str) -> tuple[str, int, int, int | None, int | None]:
    """'Tab'!A2:C → (tab, first_row, first_col, last_row, last_col), 0-based, ends inclusive."""
    tab, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
    tab = tab.strip("'").replace("''", "'")
    if not cells:
        return tab, 0, 0, None, None
    start, _, end = cells.partition(":")
    m1 = re.fullmatch(r"([A-Za-z]*)(\d*)", start)
    m2 = re.fullmatch(r"([A-Za-z]*)(\d*)", end or start)
    if not m1 or not m2:
        raise ValueError(a1)
    r0 = int(m1.group(2)) - 1 if m1.group(2) else 0
    c0 = _col_index(m1.group(1)) if m1.group(1) else 0
    r1 = int(m2.group(2)) - 1 if m2.group(2) else None
    c1 = _col_index(m2.group(1)) if m2.group(1) else None
    return tab, r0, c0, r1, c1


def _serial(v: date) -> float:
    base = datetime(1899, 12, 30)
    if isinstance(v, datetime):
        return (v.replace(tzinfo=None) - base).total_seconds() / 86400
    return float((v - base.date()).days)


def _render(v: Any, value_render: str, datetime_render: str, date_format: str) -> Any:
    if isinstance(v, date):
        if value_render == "FORMATTED_VALUE" or datetime_render == "FORMATTED_STRING":
            return v.strftime(
                date_format if not isinstance(v, datetime) else date_format + " %H:%M:%S"
            )
        return _serial(v)
    if value_render == "FORMATTED_VALUE":
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return "" if v is None else str(v)
    if isinstance(v, str) and value_render == "UNFORMATTED_VALUE" and v.startswith("="):
        return v  # the fake does not evaluate formulas
    return v


# ----- HTTP --------------------------------------------------------------------------------
def _error(code: int, reason: str, message: str, status: str) -> tuple[int, dict[str, Any]]:
    domain = "usageLimits" if "imit" in reason else "global"
    return code, {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status,
        }
    }


def _fault_reply(kind: str) -> tuple[int, dict[str, Any]]:
    retry_at = (datetime.now(UTC) + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    replies = {
        "500": _error(500, "backendError", "Backend Error", "INTERNAL"),
        "503_after": _error(
            503, "backendError", "The service is currently unavailable.", "UNAVAILABLE"
        ),
        "429": _error(
            429,
            "rateLimitExceeded",
            "Resource has been exhausted (e.g. check quota).",
            "RESOURCE_EXHAUSTED",
        ),
        "403_user_rate": _error(
            403, "userRateLimitExceeded", "User Rate Limit Exceeded", "PERMISSION_DENIED"
        ),
        "403_rate": _error(403, "rateLimitExceeded", "Rate Limit Exceeded", "PERMISSION_DENIED"),
        "daily_limit": _error(
            403, "dailyLimitExceeded", "Daily Limit Exceeded", "PERMISSION_DENIED"
        ),
        "mail_sending": _error(
            429,
            "rateLimitExceeded",
            f"User-rate limit exceeded.  Retry after {retry_at} (Mail sending)",
            "RESOURCE_EXHAUSTED",
        ),
        "400_invalid_to": _error(400, "invalidArgument", "Invalid To header", "INVALID_ARGUMENT"),
        "401": _error(401, "authError", "Invalid Credentials", "UNAUTHENTICATED"),
        # Sheets v4's error body for a sheet the account may not open: no `errors` list.
        "403_forbidden": (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "The caller does not have permission",
                    "status": "PERMISSION_DENIED",
                }
            },
        ),
    }
    return replies[kind]


class _Drop(Exception):
    """Close the connection without any reply."""


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/gmail/v1/users/([^/]+)/profile"), "getProfile"),
    ("POST", re.compile(r"(?:/upload)?/gmail/v1/users/([^/]+)/messages/send"), "messages.send"),
    ("GET", re.compile(r"/gmail/v1/users/([^/]+)/messages/([^/]+)"), "messages.get"),
    ("GET", re.compile(r"/gmail/v1/users/([^/]+)/messages"), "messages.list"),
    ("POST", re.compile(r"(?:/upload)?/gmail/v1/users/([^/]+)/drafts"), "drafts.create"),
    ("GET", re.compile(r"/gmail/v1/users/([^/]+)/drafts/([^/]+)"), "drafts.get"),
    ("GET", re.compile(r"/gmail/v1/users/([^/]+)/drafts"), "drafts.list"),
    ("GET", re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchGet"), "values.batchGet"),
    ("PUT", re.compile(r"/v4/spreadsheets/([^/:]+)/values/([^/]+)"), "values.update"),
    ("GET", re.compile(r"/v4/spreadsheets/([^/:]+)"), "spreadsheets.get"),
]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as Google serves: httplib2's stale-connection re-send only shows
    # on a reused connection, and the fake must be able to show it.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    @property
    def state(self) -> FakeState:
        return self.server.state

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # ----- plumbing ----------------------------------------------------------------------
    def _reply(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        # No status line, no headers: the client sees the connection close mid-request.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = self._body()
        try:
            if url.path.startswith("/_fake/"):
                code, payload = _control(self.state, method, url.path, body)
                return self._reply(code, payload)
            if url.path == "/token" and method == "POST":
                return self._token(body)
            if url.path == "/o/oauth2/auth" and method == "GET":
                return self._authorize(query)
            for route_method, pattern, endpoint in _ROUTES:
                match = pattern.fullmatch(url.path)
                if match and route_method == method:
                    args = [urllib.parse.unquote(g) for g in match.groups()]
                    return self._api(endpoint, args, query, body)
            self._reply(
                404, _error(404, "notFound", f"No route {method} {url.path}", "NOT_FOUND")[1]
            )
        except _Drop:
            self._drop()

    def _api(
        self, endpoint: str, args: list[str], query: dict[str, list[str]], body: bytes
    ) -> None:
        state = self.state
        auth = self.headers.get("Authorization", "")
        with state.lock:
            state.calls[endpoint] = state.calls.get(endpoint, 0) + 1
            if not auth.startswith("Bearer ") or auth[7:] not in state.access_tokens:
                code, payload = _fault_reply("401")
                return self._reply(code, payload, {"WWW-Authenticate": 'Bearer realm="fake"'})
            fault = state.take_fault(endpoint)
            if fault is not None and fault.kind == "drop_before":
                raise _Drop
            if fault is not None and not fault.kind.endswith("_after"):
                return self._reply(*_fault_reply(fault.kind))
            if not state.charge(endpoint):
                return self._reply(
                    *_error(
                        429,
                        "rateLimitExceeded",
                        "Quota exceeded for quota metric 'Queries' and limit 'Queries per "
                        "minute per user' of service 'gmail.googleapis.com'.",
                        "RESOURCE_EXHAUSTED",
                    )
                )
            if (
                endpoint == "messages.send"
                and state.daily_send_limit is not None
                and state.sent_count() >= state.daily_send_limit
            ):
                return self._reply(*_fault_reply("mail_sending"))
            try:
                code, payload = self._handle(endpoint, args, query, body)
            except QueryError as exc:
                code, payload = _error(400, "invalidArgument", str(exc), "INVALID_ARGUMENT")
        # Faults after accepting act outside the lock so a slow reply does not stall others.
        if fault is not None and code == 200:
            if fault.kind == "drop_after":
                raise _Drop
            if fault.kind == "503_after":
                return self._reply(*_fault_reply("503_after"))
            if fault.kind == "slow_after":
                time.sleep(fault.delay)
        self._reply(code, payload)

    # ----- OAuth -------------------------------------------------------------------------
    def _token(self, body: bytes) -> None:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            # requests-oauthlib sends the client id and secret as HTTP Basic auth (RFC 6749
            # 2.3.1); google-auth sends them in the form. Google takes both.
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", urllib.parse.unquote_plus(user))
            form.setdefault("client_secret", urllib.parse.unquote_plus(password))
        state = self.state
        grant = form.get("grant_type", "")
        with state.lock:
            state.calls["token"] = state.calls.get("token", 0) + 1
            fault = state.take_fault("token")
            outcome = "ok"
            code = 200
            payload: dict[str, Any] = {}
            if (
                form.get("client_id") != state.client_id
                or form.get("client_secret") != state.client_secret
            ):
                outcome, code, payload = (
                    "invalid_client",
                    401,
                    {"error": "invalid_client", "error_description": "Unauthorized"},
                )
            elif fault is not None and fault.kind == "invalid_grant":
                outcome = "invalid_grant"
            elif fault is not None:
                outcome = fault.kind
                code, payload = _fault_reply(fault.kind)
            elif (
                grant == "refresh_token" and form.get("refresh_token") not in state.refresh_tokens
            ) or (grant == "authorization_code" and form.get("code") not in state.auth_codes):
                outcome = "invalid_grant"
            elif grant not in ("refresh_token", "authorization_code"):
                outcome, code, payload = "unsupported", 400, {"error": "unsupported_grant_type"}
            if outcome == "invalid_grant":
                code, payload = (
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            elif outcome == "ok":
                access = "ya29.fake-" + secrets.token_urlsafe(16)
                state.access_tokens.add(access)
                payload = {
                    "access_token": access,
                    "expires_in": state.access_token_lifetime,
                    "token_type": "Bearer",
                }
                if grant == "authorization_code":
                    refresh = "1//fake-" + secrets.token_urlsafe(16)
                    state.refresh_tokens.add(refresh)
                    payload["refresh_token"] = refresh
                    payload["scope"] = " ".join(state.auth_codes.pop(form["code"]))
                elif "scope" in form:
                    payload["scope"] = form["scope"]
            state.token_requests.append(
                {"grant_type": grant, "outcome": outcome, "scope": form.get("scope", "")}
            )
            state.persist()
        self._reply(code, payload)

    def _authorize(self, query: dict[str, list[str]]) -> None:
        # Plays the consenting user: straight back to the app with a one-time code.
        state = self.state
        code = "4/fake-code-" + secrets.token_urlsafe(8)
        with state.lock:
            state.auth_codes[code] = query.get("scope", [""])[0].split()
        target = (
            query["redirect_uri"][0]
            + "?"
            + urllib.parse.urlencode(
                {
                    "state": query.get("state", [""])[0],
                    "code": code,
                    "scope": query.get("scope", [""])[0],
                }
            )
        )
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ----- the APIs --------------------------------------------------------------------------
    def _handle(
        self, endpoint: str, args: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        state = self.state
        one = {k: v[0] for k, v in query.items()}
        if endpoint.startswith(("messages", "drafts", "getProfile")) and args[0] not in (
            "me",
            state.user,
        ):
            return _error(403, "forbidden", "Delegation denied", "PERMISSION_DENIED")
        if endpoint == "getProfile":
            return 200, {
                "emailAddress": state.user,
                "messagesTotal": len(state.messages),
                "threadsTotal": len(state.messages),
                "historyId": str(state._seq),
            }
        if endpoint in ("messages.send", "drafts.create"):
            raw = self._raw_message(body, one, endpoint)
            if raw is None:
                return _error(
                    400,
                    "invalidArgument",
                    "'raw' RFC822 payload message string or uploading message via "
                    "/upload/* URL required",
                    "INVALID_ARGUMENT",
                )
            to = email.message_from_bytes(raw, policy=email.policy.default).get("To")
            if not to or "@" not in str(to):
                return _error(400, "invalidArgument", "Invalid To header", "INVALID_ARGUMENT")
            if endpoint == "messages.send":
                return 200, state.accept_send(raw, endpoint)
            return 200, state.accept_draft(raw)
        if endpoint == "messages.get":
            m = state.messages.get(args[1])
            if m is None:
                return _error(404, "notFound", "Requested entity was not found.", "NOT_FOUND")
            return 200, _message_resource(
                m, one.get("format", "full"), query.get("metadataHeaders", [])
            )
        if endpoint == "messages.list":
            ids = state.search(one.get("q", ""), one.get("includeSpamTrash") == "true")
            page, token = _page(ids, one)
            payload: dict[str, Any] = {"resultSizeEstimate": len(ids)}
            if page:
                payload["messages"] = [
                    {"id": i, "threadId": state.messages[i]["threadId"]} for i in page
                ]
            if token:
                payload["nextPageToken"] = token
            return 200, payload
        if endpoint == "drafts.get":
            d = state.drafts.get(args[1])
            if d is None:
                return _error(404, "notFound", "Requested entity was not found.", "NOT_FOUND")
            m = state.messages[d["message_id"]]
            return 200, {
                "id": d["id"],
                "message": _message_resource(m, one.get("format", "full"), []),
            }
        if endpoint == "drafts.list":
            by_message = {d["message_id"]: d["id"] for d in state.drafts.values()}
            ids = state.search(
                one.get("q", ""), one.get("includeSpamTrash") == "true", list(by_message)
            )
            page, token = _page(ids, one)
            payload = {"resultSizeEstimate": len(ids)}
            if page:
                payload["drafts"] = [
                    {
                        "id": by_message[i],
                        "message": {"id": i, "threadId": state.messages[i]["threadId"]},
                    }
                    for i in page
                ]
            if token:
                payload["nextPageToken"] = token
            return 200, payload
        return self._sheets(endpoint, args, query, body)

    def _raw_message(self, body: bytes, one: dict[str, str], endpoint: str) -> bytes | None:
        upload = one.get("uploadType")
        if upload == "media":
            return body
        if upload == "multipart":
            # multipart/related: part 1 JSON metadata, part 2 the message/rfc822 media. Split
            # by hand: the email package would re-serialise the inner message.
            match = re.search(r'boundary="?([^";]+)"?', self.headers.get("Content-Type", ""))
            if not match:
                return None
            parts = body.split(b"--" + match.group(1).encode())
            if len(parts) < 4:
                return None
            _, _, media = parts[2].partition(b"\r\n\r\n")
            return media[:-2] if media.endswith(b"\r\n") else media
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None
        if endpoint == "drafts.create":
            data = data.get("message") or {}
        raw = data.get("raw")
        if not isinstance(raw, str):
            return None
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))

    def _sheets(
        self, endpoint: str, args: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        state = self.state
        one = {k: v[0] for k, v in query.items()}
        sheet = state.sheets.get(args[0])
        if sheet is None:
            return _error(404, "notFound", "Requested entity was not found.", "NOT_FOUND")
        tabs: dict[str, list[list[Any]]] = sheet["tabs"]
        if endpoint == "spreadsheets.get":
            return 200, {
                "spreadsheetId": args[0],
                "properties": {
                    "title": sheet["title"],
                    "locale": "en_US",
                    "timeZone": "America/Los_Angeles",
                },
                "sheets": [
                    {
                        "properties": {
                            "sheetId": i,
                            "title": name,
                            "index": i,
                            "sheetType": "GRID",
                            "gridProperties": {
                                "rowCount": max(1000, len(rows)),
                                "columnCount": max(26, *(len(r) for r in rows), 0),
                            },
                        }
                    }
                    for i, (name, rows) in enumerate(tabs.items())
                ],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{args[0]}/edit",
            }
        if endpoint == "values.batchGet":
            value_render = one.get("valueRenderOption", "FORMATTED_VALUE")
            datetime_render = one.get("dateTimeRenderOption", "SERIAL_NUMBER")
            out = []
            for a1 in query.get("ranges", []):
                try:
                    tab, r0, c0, r1, c1 = _parse_range(a1)
                except ValueError:
                    return _error(
                        400, "badRequest", f"Unable to parse range: {a1}", "INVALID_ARGUMENT"
                    )
                if tab not in tabs:
                    # A missing tab fails the whole batch, as in Sheets.
                    return _error(
                        400, "badRequest", f"Unable to parse range: {a1}", "INVALID_ARGUMENT"
                    )
                rows = tabs[tab][r0 : None if r1 is None else r1 + 1]
                values = []
                for row in rows:
                    cells = row[c0 : None if c1 is None else c1 + 1]
                    rendered = [
                        _render(c, value_render, datetime_render, sheet["date_format"])
                        for c in cells
                    ]
                    while rendered and rendered[-1] in ("", None):  # Sheets drops trailing blanks
                        rendered.pop()
                    values.append(rendered)
                while values and not values[-1]:
                    values.pop()
                last_col = _col_letters(
                    c1 if c1 is not None else max([len(r) for r in tabs[tab]] + [26]) - 1
                )
                last_row = r1 + 1 if r1 is not None else max(1000, len(tabs[tab]))
                vr: dict[str, Any] = {
                    "range": f"{_quote_tab(tab)}!{_col_letters(c0)}{r0 + 1}:{last_col}{last_row}",
                    "majorDimension": "ROWS",
                }
                if values:
                    vr["values"] = values
                out.append(vr)
            return 200, {"spreadsheetId": args[0], "valueRanges": out}
        # values.update
        input_option = one.get("valueInputOption")
        if input_option not in ("RAW", "USER_ENTERED"):
            return _error(400, "badRequest", "Invalid valueInputOption", "INVALID_ARGUMENT")
        tab, r0, c0, _, _ = _parse_range(args[1])
        if tab not in tabs:
            return _error(
                400, "badRequest", f"Unable to parse range: {args[1]}", "INVALID_ARGUMENT"
            )
        values = json.loads(body or b"{}").get("values", [])
        grid = tabs[tab]
        for i, row in enumerate(values):
            while len(grid) <= r0 + i:
                grid.append([])
            target = grid[r0 + i]
            for j, cell in enumerate(row):
                while len(target) <= c0 + j:
                    target.append("")
                target[c0 + j] = cell
        cols = max((len(r) for r in values), default=0)
        state.sheet_updates.append(
            {"spreadsheet": args[0], "range": args[1], "input": input_option, "values": values}
        )
        state.persist()
        return 200, {
            "spreadsheetId": args[0],
            "updatedRange": args[1],
            "updatedRows": len(values),
            "updatedColumns": cols,
            "updatedCells": sum(len(r) for r in values),
        }


def _quote_tab(tab: str) -> str:
    return tab if re.fullmatch(r"[A-Za-z0-9_]+", tab) else "'" + tab.replace("'", "''") + "'"


def _page(ids: list[str], one: dict[str, str]) -> tuple[list[str], str | None]:
    size = min(int(one.get("maxResults", 100)), 500)
    start = int(one.get("pageToken") or 0)
    end = start + size
    return ids[start:end], (str(end) if end < len(ids) else None)


def _message_resource(m: dict[str, Any], fmt: str, wanted: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m["id"],
        "threadId": m["threadId"],
        "labelIds": m["labelIds"],
        "snippet": m["text"][:100],
        "internalDate": m["internalDate"],
        "historyId": "1",
        "sizeEstimate": len(m["raw"]) * 3 // 4,
    }
    if fmt == "raw":
        out["raw"] = m["raw"]
    elif fmt in ("metadata", "full"):
        headers = m["headers"]
        if fmt == "metadata" and wanted:
            names = {w.lower() for w in wanted}
            headers = [h for h in headers if h["name"].lower() in names]
        out["payload"] = {"mimeType": "text/plain", "headers": headers}
        if fmt == "full":
            data = base64.urlsafe_b64encode(m["text"].encode()).decode()
            out["payload"]["body"] = {"size": len(m["text"]), "data": data}
    return out


def _control(state: FakeState, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """The `/_fake/...` endpoints RemoteFakeGoogle uses; no token needed."""
    data = json.loads(body or b"{}")
    with state.lock:
        if path == "/_fake/state" and method == "GET":
            return 200, state.snapshot()
        if path == "/_fake/faults" and method == "POST":
            state.inject(**data)
        elif path == "/_fake/quota" and method == "POST":
            state.set_quota(data.get("units"), data.get("window_seconds", 60.0))
        elif path == "/_fake/daily_send_limit" and method == "POST":
            state.daily_send_limit = data.get("limit")
        elif path == "/_fake/messages" and method == "POST":
            if "when" in data and data["when"] is not None:
                data["when"] = datetime.fromisoformat(data["when"])
            return 200, {"id": state.add_message(**data)}
        elif path == "/_fake/bounces" and method == "POST":
            when = datetime.fromisoformat(data["when"]) if data.get("when") else None
            return 200, {"id": state.add_bounce(data["failed_addr"], when=when)}
        elif path == "/_fake/sheets" and method == "POST":
            tabs = {
                t: [[_decode_cell(c) for c in r] for r in rows] for t, rows in data["tabs"].items()
            }
            state.add_spreadsheet(
                data["spreadsheet_id"], tabs, title=data.get("title", "Networking")
            )
        else:
            return 404, {"error": f"no control endpoint {method} {path}"}
        state.persist()
    return 200, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: FakeState) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up first (a timeout test, a SIGKILLed run) closed its end before
        # a slow reply: expected, and not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


# ----- the two ways to drive it --------------------------------------------------------------
class FakeGoogle:
    """The fake, run in a thread of this process. Use as a context manager."""

    def __init__(self, port: int = 0, **state_options: Any) -> None:
        self.state = FakeState(**state_options)
        self._server = _Server(port, self.state)
        # A short poll interval makes shutdown() (each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    def start(self) -> FakeGoogle:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Convenience pass-throughs, each under the state lock.
    def inject(
        self, endpoint: str, kind: str, count: int = 1, skip: int = 0, delay: float = 0.0
    ) -> None:
        with self.state.lock:
            self.state.inject(endpoint, kind, count, skip, delay)

    def set_quota(self, units: int | None, window_seconds: float = 60.0) -> None:
        with self.state.lock:
            self.state.set_quota(units, window_seconds)

    def set_daily_send_limit(self, limit: int | None) -> None:
        with self.state.lock:
            self.state.daily_send_limit = limit

    def add_message(self, **kwargs: Any) -> str:
        with self.state.lock:
            return self.state.add_message(**kwargs)

    def add_bounce(self, failed_addr: str, *, when: datetime | None = None) -> str:
        with self.state.lock:
            return self.state.add_bounce(failed_addr, when=when)

    def add_spreadsheet(
        self, spreadsheet_id: str, tabs: dict[str, list[list[Any]]], **kw: Any
    ) -> None:
        with self.state.lock:
            self.state.add_spreadsheet(spreadsheet_id, tabs, **kw)

    def accepted_sends(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(a) for a in self.state.accepted if endpoint in (None, a["endpoint"])]

    def calls(self, endpoint: str) -> int:
        with self.state.lock:
            return self.state.calls.get(endpoint, 0)

    def token_requests(self) -> list[dict[str, str]]:
        with self.state.lock:
            return list(self.state.token_requests)


class RemoteFakeGoogle:
    """Drives a fake running in another process, through its `/_fake/...` endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.token_uri = self.url + "token"

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + "_fake/" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def inject(
        self, endpoint: str, kind: str, count: int = 1, skip: int = 0, delay: float = 0.0
    ) -> None:
        self._call(
            "POST",
            "faults",
            {"endpoint": endpoint, "kind": kind, "count": count, "skip": skip, "delay": delay},
        )

    def set_quota(self, units: int | None, window_seconds: float = 60.0) -> None:
        self._call("POST", "quota", {"units": units, "window_seconds": window_seconds})

    def set_daily_send_limit(self, limit: int | None) -> None:
        self._call("POST", "daily_send_limit", {"limit": limit})

    def add_message(self, *, when: datetime | None = None, **kwargs: Any) -> str:
        payload = {**kwargs, "when": when.isoformat() if when else None}
        return str(self._call("POST", "messages", payload)["id"])

    def add_bounce(self, failed_addr: str, *, when: datetime | None = None) -> str:
        payload = {"failed_addr": failed_addr, "when": when.isoformat() if when else None}
        return str(self._call("POST", "bounces", payload)["id"])

    def add_spreadsheet(
        self, spreadsheet_id: str, tabs: dict[str, list[list[Any]]], title: str = "Networking"
    ) -> None:
        encoded = {t: [[_encode_cell(c) for c in r] for r in rows] for t, rows in tabs.items()}
        self._call(
            "POST", "sheets", {"spreadsheet_id": spreadsheet_id, "tabs": encoded, "title": title}
        )

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "state"))

    def accepted_sends(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.state()["accepted"] if endpoint in (None, a["endpoint"])]


def authorized_user_info(fake: FakeGoogle | RemoteFakeGoogle, **overrides: Any) -> dict[str, Any]:
    """A token.json body the fake accepts, as `breadcrumbs auth` would have written it."""
    info: dict[str, Any] = {
        "token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["https://www.googleapis.com/auth/gmail.send"],
        "expiry": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    info.update(overrides)
    return info


def client_secrets(fake: FakeGoogle | RemoteFakeGoogle) -> dict[str, Any]:
    """A credentials.json body (Desktop app client) pointing at the fake's OAuth pages."""
    return {
        "installed": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "project_id": "breadcrumbs-fake",
            "auth_uri": fake.url + "o/oauth2/auth",
            "token_uri": fake.token_uri,
            "redirect_uris": ["http://localhost"],
        }
    }


def start_subprocess(
    state_file: Path, port: int = 0, timeout: float = 15.0
) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m tests.fake_google` and return (process, base URL) once it listens."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_google",
            "--port",
            str(port),
            "--state",
            str(state_file),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("FAKE_GOOGLE_READY "):
            return proc, line.split()[1]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the fake Google server did not start")


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """A fresh fake per test. Import it into a test module to use it."""
    with FakeGoogle() as fake:
        yield fake


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, help="JSON file the state is kept in")
    parser.add_argument("--user", default=USER)
    parser.add_argument("--rewrite-message-id", action="store_true")
    args = parser.parse_args(argv)
    state = FakeState(
        user=args.user, state_file=args.state, rewrite_message_id=args.rewrite_message_id
    )
    server = _Server(args.port, state)
    print(f"FAKE_GOOGLE_READY http://127.0.0.1:{server.server_address[1]}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
