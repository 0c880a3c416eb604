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
    """Quoted-printable body with CRLF line ends (soft breaks keep lines under 76)."""
    data = text.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


def attachment_part(content_type: str, filename: str, body: bytes) -> bytes:
    head = (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}"
        f'Content-Disposition: attachment; filename="{filename}"{CRLF}{CRLF}'
    )
    return head.encode("ascii") + qp(body.decode("utf-8"))


def build(
    headers: list[tuple[str, str]],
    text: str,
    html: str,
    message_id: str,
    attachment: bytes | None = None,
) -> bytes:
    """The whole message: headers, then multipart/alternative (text, HTML), and, when given,
    a pre-built attachment part inside multipart/mixed."""
    seed = hashlib.sha256(message_id.encode("ascii")).hexdigest()[:24]
    alt = f"=_alt_{seed}"
    alternative = b"".join(
        [
            f'--{alt}{CRLF}Content-Type: text/plain; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}".encode("ascii"),
            qp(text),
            CRLF.encode("ascii"),
            f'--{alt}{CRLF}Content-Type: text/html; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}".encode("ascii"),
            qp(html),
            CRLF.encode("ascii"),
            f"--{alt}--{CRLF}".encode("ascii"),
        ]
    )
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    if attachment is None:
        lines.append(f'Content-Type: multipart/alternative; boundary="{alt}"')
        body = alternative
    else:
        mixed = f"=_mix_{seed}"
        lines.append(f'Content-Type: multipart/mixed; boundary="{mixed}"')
        body = b"".join(
            [
                f"--{mixed}{CRLF}Content-Type: multipart/alternative; "
                f'boundary="{alt}"{CRLF}{CRLF}'.encode("ascii"),
                alternative,
                f"--{mixed}{CRLF}".encode("ascii"),
                attachment,
                CRLF.encode("ascii"),
                f"--{mixed}--{CRLF}".encode("ascii"),
            ]
        )
    return (CRLF.join(lines) + CRLF + CRLF).encode("ascii") + body
