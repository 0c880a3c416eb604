"""What an outbox file is called: its day, kind and recipient, readable in a file manager.

A leaf beside records.py: the ledger records the name when it plans an outbox email
(store/ledger.py), and the outbox mailer writes under it (deliver/outbox.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from email.header import decode_header, make_header
from email.utils import parseaddr

from breadcrumbs import clock
from breadcrumbs.records import OutgoingEmail

# Characters some file system refuses (Windows' list is the longest), and control characters.
_NOT_IN_NAMES = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_TO = re.compile(rb"^To:(.*(?:\r\n[ \t].*)*)", re.MULTILINE)
_ENCODED_WORD = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", re.IGNORECASE)
_ENCODED_WORDS = re.compile(r"(?:\s*=\?utf-8\?b\?[A-Za-z0-9+/=]*\?=)+", re.IGNORECASE)
_QUOTED_PAIR = re.compile(r"\\(.)")
_LEGACY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(email: OutgoingEmail) -> str:
    """`2026-11-16 thank-you Ann Lee (786d4bfd).eml`: the day it was planned, its kind, and
    its recipient, so the folder reads as a list of who gets what; the hash of the key keeps
    two alike apart. The name comes from the message's own To, fixed when it was planned:
    a reconcile after a crash finds the file again even if the sheet has since renamed them.
    """
    if email.file_name:  # recorded by the ledger when it was planned (ledger.plan)
        return email.file_name
    kind = _safe_kind(email.key.split(":", 1)[0])
    day = clock.local_day(email.planned_at).isoformat()
    digest = hashlib.sha256(email.key.encode("utf-8")).hexdigest()[:8]
    return f"{day} {kind} {_safe(_recipient(email), 60)} ({digest}).eml"


# A batch has a few kinds of email: each kind's part of the name is worked out once.
_kinds: dict[str, str] = {}


def _safe_kind(kind: str) -> str:
    found = _kinds.get(kind)
    if found is None:
        found = _safe(kind, 20)
        if len(_kinds) < 32:  # the kinds a key starts with; any other stays uncached
            _kinds[kind] = found
    return found


def _recipient(email: OutgoingEmail) -> str:
    found = _TO.search(email.raw, 0, email.raw.find(b"\r\n\r\n"))
    value = found[1].replace(b"\r\n", b"").decode("ascii", "replace").strip() if found else ""
    return _display_name(value) or email.to_addr


def _display_name(value: str) -> str:
    """The name in a To that compose wrote (`Ann Lee <…>`, `"Lee, Ann" <…>`, or UTF-8
    encoded words). The email module's parser would cost about 70 µs an email, as much as
    writing the file; it stays for any other shape."""
    if not value.endswith(">") or "<" not in value:
        return ""
    display = value[: value.rindex("<")].strip()
    if display.startswith('"') and display.endswith('"'):
        return _QUOTED_PAIR.sub(r"\1", display[1:-1])
    if "=?" not in display:
        return display
    words = _ENCODED_WORDS.fullmatch(display)
    if words:
        try:
            data = b"".join(base64.b64decode(w) for w in _ENCODED_WORD.findall(display))
            return data.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            pass
    return parseaddr(str(make_header(decode_header(value))))[0]


def _safe(text: str, limit: int) -> str:
    plain = " ".join(_NOT_IN_NAMES.sub(" ", unicodedata.normalize("NFC", text)).split())
    return plain[:limit].strip(" .") or "someone"


def legacy_file_name(key: str) -> str:
    """The name an outbox file had before it named its recipient: a row left `sending` by
    an older version is found under it, so an upgrade never writes an email twice."""
    readable = _LEGACY_UNSAFE.sub("_", key).strip("._")[:80]
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}.eml"
