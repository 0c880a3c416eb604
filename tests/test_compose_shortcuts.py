"""Compose's shortcuts for the shape it writes give what the general code gives.

verify_headers checks a header block of mime.build's own shape with one match, and the
quoted-printable encoder reuses the encoding of a line it has seen: for any block or
body, the answer must be the general code's.
"""

from __future__ import annotations

import binascii
from email.utils import formataddr

from hypothesis import example, given, settings
from hypothesis import strategies as st

from breadcrumbs.compose import message, mime
from breadcrumbs.errors import UnsafeHeaderError

HEADER_LINES = [
    "From: Jordan Rivera <jordan@example.com>",
    "To: Ann Lee <ann@example.com>",
    "To: ann@example.com",
    "To: Ann Lee <ann@example.com>, x@evil.example",
    "To: Bob <bob@example.com>",
    "to: Ann Lee <ann@example.com>",
    "Subject: Hello",
    "Subject: =?utf-8?b?w5xiZXI=?=",
    " =?utf-8?b?w5xiZXI=?=",
    "\t<ann@example.com>",
    "Date: Wed, 25 Nov 2026 09:30:00 +0000",
    "Message-ID: <a.breadcrumbs@example.com>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="=_alt_1"',
    "Bcc: x@evil.example",
    "From:",
    "To:",
    "Subject: two\rlines",
    "Date: caf\u00e9",
    "X",
]
OUR_ORDER = [0, 1, 6, 10, 11, 12, 13]


def outcome(check: object, *args: object) -> str:
    try:
        check(*args)  # type: ignore[operator]
    except UnsafeHeaderError as exc:
        return f"refused: {exc}"
    except IndexError:
        return "IndexError"
    return "passed"


@settings(max_examples=2000, deadline=None)
@given(
    lines=st.lists(st.sampled_from(range(len(HEADER_LINES))), min_size=1, max_size=9),
    to_addr=st.sampled_from(["ann@example.com", "bob@example.com"]),
)
@example(lines=OUR_ORDER, to_addr="ann@example.com")
@example(lines=[0, 1, 6, 8, 10, 11, 12, 13], to_addr="ann@example.com")
@example(lines=[0, 1, 9, 6, 10, 11, 12, 13], to_addr="ann@example.com")
@example(lines=[0, 3, 6, 10, 11, 12, 13], to_addr="ann@example.com")
def test_our_header_shape_is_judged_as_the_line_by_line_check_judges_it(
    lines: list[int], to_addr: str
) -> None:
    block = "\r\n".join(HEADER_LINES[i] for i in lines)
    raw = (block + "\r\n\r\nbody").encode("utf-8")
    decoded = raw[: raw.find(b"\r\n\r\n")].decode("ascii", "replace")
    assert outcome(message.verify_headers, raw, to_addr) == outcome(
        message._verify_header_lines, decoded, to_addr
    )


BODY = st.lists(
    st.sampled_from([*"ab .=\t\r\n\u00e9\u00b7", "\n\n", "x" * 40, " \n", ".\n"]),
    max_size=60,
).map("".join)


def plain_qp(text: str) -> bytes:
    """mime.qp before it reused lines: one encoding of the whole body."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    data = text.replace("\n", "\r\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


@settings(max_examples=3000, deadline=None)
@given(body=BODY, before=st.lists(BODY, max_size=3))
@example(body="a" * 100 + "\n\n" + "b" * 100, before=[])
@example(body="x \n\n.\n\nlast line " + "y" * 90, before=[])
@example(body="a\r\n\nb\r", before=[])
def test_quoted_printable_by_line_is_the_whole_bodys_encoding(body: str, before: list[str]) -> None:
    for seen in before:  # lines already encoded by earlier emails of the batch
        mime.qp(seen)
    assert mime.qp(body) == plain_qp(body)


@settings(max_examples=3000, deadline=None)
@given(
    name=st.text(st.sampled_from([*'Aa0 _.,"\\<>@()é\t']), max_size=12),
    address=st.sampled_from(["ann@example.com", "a.b+c@x-y.example"]),
)
@example(name="First1 Last1", address="person1@example.com")
@example(name="  ", address="ann@example.com")
def test_a_to_of_plain_words_is_written_as_formataddr_writes_it(name: str, address: str) -> None:
    assert message._to_header(name, address) == formataddr((name, address), charset="utf-8")
