"""Serialising a composed email: the few MIME shapes Breadcrumbs sends, written directly.

The standard library's generator was half the cost of composing (about 0.7 ms a message,
most of it re-folding headers and compiling a boundary regex per part). Our messages have
one fixed shape, so we write it: every header value is checked by compose.py before it
gets here, bodies are quoted-printable (binascii's C encoder), and a boundary starts with
"=_", which quoted-printable output can never contain (RFC 2045 §6.7), so no part can
end one early. compose.verify_headers checks the result all the same.
"""

from __future__ import annotations

import binascii
import hashlib
from email.header import Header

CRLF = "\r\n"


def encode_header(value: str) -> str:
    """ASCII as it is; anything else as RFC 2047 encoded words (values are pre-checked)."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep=CRLF)


def qp(text: str) -> bytes:
    """Quoted-printable body with CRLF line ends (soft breaks keep lines under 76).

    Encoded a line at a time, each line's encoding kept for the next email: a batch's
    emails share most of their lines (the signature, a monthly update's news). The encoding
    of a line depends on that line alone, so lines cut after their line end and encoded
    apart join to the whole body's encoding (test_compose_shortcuts checks it); the last two
    go together, so that every piece holds a line end, from which the encoder takes the kind
    of line end it writes for its soft breaks."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if len(lines) < 3:
        return _qp(text)
    last = lines.pop()
    lines[-1] += "\n" + last
    seen = _ENCODED
    if len(seen) > 16384:
        seen.clear()
    out = []
    before_last = len(lines) - 1
    for index, line in enumerate(lines):
        if index < before_last:
            line += "\n"
        encoded = seen.get(line)
        if encoded is None:
            encoded = seen[line] = _qp(line)
        out.append(encoded)
    return b"".join(out)


_ENCODED: dict[str, bytes] = {}  # a line (with its line end) -> its encoding


def qp_line(line: str) -> bytes:
    """qp's encoding of one of its pieces (a line with its line end, or the last two)."""
    encoded = _ENCODED.get(line)
    if encoded is None:
        if len(_ENCODED) > 16384:
            _ENCODED.clear()
        encoded = _ENCODED[line] = _qp(line)
    return encoded


def _qp(text: str) -> bytes:
    data = text.replace("\n", CRLF).encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


def attachment_part(content_type: str, filename: str, body: bytes) -> bytes:
    head = (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}"
        f'Content-Disposition: attachment; filename="{filename}"{CRLF}{CRLF}'
    )
    return head.encode("ascii") + qp(body.decode("utf-8"))


# The parts' own headers: the same in every message, made once.
_PART_HEAD = f"{CRLF}Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
_TEXT_HEAD = f'{CRLF}Content-Type: text/plain; charset="utf-8"{_PART_HEAD}'.encode("ascii")
_HTML_HEAD = f'{CRLF}Content-Type: text/html; charset="utf-8"{_PART_HEAD}'.encode("ascii")
_ALTERNATIVE = b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="=_alt_'
_MIXED = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_mix_'
_MIXED_ALTERNATIVE = b'\r\nContent-Type: multipart/alternative; boundary="=_alt_'


def build(
    headers: list[tuple[str, str]],
    text: str,
    html: str,
    message_id: str,
    attachment: bytes | None = None,
    encoded: tuple[bytes, bytes] | None = None,
) -> bytes:
    """The whole message: headers, then multipart/alternative (text, HTML), and, when given,
    a pre-built attachment part inside multipart/mixed. Boundaries are the message's own
    (from its Message-ID); everything else but the values is constant bytes, joined once.
    `encoded`: qp(text) and qp(html), when the caller has them already."""
    seed = hashlib.sha256(message_id.encode("ascii")).hexdigest()[:24].encode("ascii")
    alt = b"--=_alt_" + seed
    head = "".join([f"{name}: {value}{CRLF}" for name, value in headers]).encode("ascii")
    if attachment is None:
        pieces = [head, _ALTERNATIVE, seed, b'"\r\n\r\n']
    else:
        pieces = [head, _MIXED, seed, b'"\r\n\r\n--=_mix_', seed, _MIXED_ALTERNATIVE, seed]
        pieces.append(b'"\r\n\r\n')
    text_qp, html_qp = encoded if encoded is not None else (qp(text), qp(html))
    pieces += [alt, _TEXT_HEAD, text_qp, b"\r\n", alt, _HTML_HEAD, html_qp, b"\r\n"]
    pieces += [alt, b"--\r\n"]
    if attachment is not None:
        pieces += [b"--=_mix_", seed, b"\r\n", attachment, b"\r\n--=_mix_", seed, b"--\r\n"]
    return b"".join(pieces)
