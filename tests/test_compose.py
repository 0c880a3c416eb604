"""Composing: the default emails say what the seed asks, values never become markup or
headers, and the message is exactly what we set (breadcrumbs/compose/message.py, templates/)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from breadcrumbs.compose.message import (
    DEFAULT_TEMPLATES,
    Composer,
    check_header_value,
    message_id,
    vcard,
    verify_headers,
)
from breadcrumbs.errors import TemplateError, UnsafeHeaderError
from breadcrumbs.profile import Etiquette, Me, Profile
from breadcrumbs.records import Composed, Due
from breadcrumbs.settings import Workspace
from tests.follow_up_support import (
    ME,
    SAMPLE_PITCH,
    html_of,
    outbox,
    play,
    read_message,
    text_of,
    write_profile,
    write_sheet,
)

TODAY = date(2026, 11, 25)
PLANNED_AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
ENCODED_WORD = "=?utf-8?q?hi=0ABcc:=20x@evil.example?="
HEADERS = ["content-type", "date", "from", "message-id", "mime-version", "subject", "to"]


def profile(vcard_on: bool = True) -> Profile:
    return Profile(
        me=Me(**ME, pitch=SAMPLE_PITCH, signature="Data engineer"),
        etiquette=Etiquette(vcard=vcard_on),
    )


def thank_you(**values: object) -> Due:
    fields: dict[str, object] = {
        "key": "thank-you:i:1",
        "kind": "thank-you",
        "contact_id": "e:ann@example.com",
        "email": "ann@example.com",
        "name": "Ann Lee",
        "first_name": "Ann",
        "company": "Acme Analytics",
        "for_date": date(2026, 11, 24),
        "conversation_kind": "coffee",
        "topic": "the data platform at Acme",
    }
    fields.update(values)
    return Due(**fields)  # type: ignore[arg-type]


def intro(**values: object) -> Due:
    fields: dict[str, object] = {
        "key": "intro:e:bob@example.com",
        "kind": "intro",
        "contact_id": "e:bob@example.com",
        "email": "bob@example.com",
        "name": "Bob Stone",
        "first_name": "Bob",
        "company": "Globex",
        "referrer_name": "Ann Lee",
        "referrer_first_name": "Ann",
        "referrer_company": "Acme Analytics",
    }
    fields.update(values)
    return Due(**fields)  # type: ignore[arg-type]


def compose(due: Due, templates: Path | None = None, vcard_on: bool = True) -> Composed:
    dirs = (templates, DEFAULT_TEMPLATES) if templates else (DEFAULT_TEMPLATES,)
    return Composer(profile(vcard_on), TODAY, dirs).compose(due, PLANNED_AT)


def parsed(composed: Composed) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(composed.email.raw, policy=policy.default))


def override(tmp_path: Path, kind: str, source: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}.md.j2").write_text(source, encoding="utf-8")
    return folder


def test_the_default_thank_you_holds_the_seeds_four_parts() -> None:
    """Thanks, what you look for, referrals welcome, and full contact information."""
    text = text_of(parsed(compose(thank_you())))
    assert "Thank you for meeting me for coffee on Tuesday, November 24." in text
    assert "the data platform at Acme" in text
    assert "I'm looking for a data-platform role in Columbus" in text
    assert "I'd be grateful for the name" in text
    for detail in ("Jordan Rivera", "jordan@example.com", "614-555-0100", ME["linkedin"]):
        assert detail in text


def test_a_thank_you_never_carries_the_private_notes(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notes on the conversation and on the contact stay out of both parts."""
    write_profile(workspace)
    write_sheet(
        workspace,
        """
        email,name,notes
        ann@example.com,Ann Lee,CONTACT-SECRET thinks her boss is leaving
        """,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-24,ann@example.com,coffee,dbt at Acme,TALK-SECRET offer coming in January,
        """,
    )
    play(workspace, monkeypatch, "2026-11-25")
    [path] = outbox(workspace)
    raw = path.read_bytes()
    message = read_message(path)
    for secret in ("CONTACT-SECRET", "TALK-SECRET", "January"):
        assert secret.encode() not in raw
        assert secret not in text_of(message)
        assert secret not in html_of(message)


@pytest.mark.parametrize(
    ("referrals", "sentence"),
    [
        (("Bob Stone",), "suggesting I talk to Bob Stone."),
        (("Bob Stone", "Cy Park"), "suggesting I talk to Bob Stone and Cy Park."),
        (
            ("Bob Stone", "Cy Park", "Di Moss"),
            "suggesting I talk to Bob Stone, Cy Park, and Di Moss.",
        ),
    ],
)
def test_the_thank_you_names_the_referrals_they_gave(
    referrals: tuple[str, ...], sentence: str
) -> None:
    """Both parts say "Thanks, too, for suggesting I talk to X and Y"."""
    message = parsed(compose(thank_you(referrals=referrals)))
    assert sentence in " ".join(text_of(message).split())
    assert sentence in " ".join(html_of(message).split())


def test_the_intro_says_who_referred_them() -> None:
    """It says "You were referred to me by Ann Lee", gives the pitch, asks for a brief call."""
    message = parsed(compose(intro()))
    text = " ".join(text_of(message).split())
    assert "You were referred to me by Ann Lee at Acme Analytics" in text
    assert SAMPLE_PITCH in text
    assert "15 minutes" in text
    assert message["Subject"] == "Ann Lee suggested I reach out"


def test_the_text_part_shows_apostrophes_and_ampersands_as_written() -> None:
    """Plain text is not HTML: no &#39; and no &amp; in what the recipient reads."""
    due = thank_you(topic="Haddad & Co.'s books", company="Haddad & Co.")
    text = text_of(parsed(compose(due)))
    assert "Haddad & Co.'s books" in text
    assert "&#39;" not in text and "&amp;" not in text


@pytest.mark.parametrize(
    ("topic", "shown", "never"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script"),
        ("*x* and __y__", "*x* and __y__", "<em>"),
        ("[a](http://evil.example)", "[a](http://evil.example)", "<a "),
        ("# heading", "# heading", "<h1>"),
        ("`code`", "`code`", "<code>"),
        ("Ann & Bob's", "Ann &amp; Bob&#39;s", "&amp;amp;"),
        # Python-Markdown does not treat | and ~ as escapable: a backslash would show.
        ("R&D | ~ops~", "R&amp;D | ~ops~", "\\"),
    ],
)
def test_the_html_part_never_turns_a_cell_into_markup(topic: str, shown: str, never: str) -> None:
    """A topic is escaped for HTML and for Markdown: it reads exactly as it was typed."""
    html = html_of(parsed(compose(thank_you(topic=topic))))
    assert shown in html
    assert never not in html


def test_a_message_is_text_and_html_alternatives_with_a_vcard_attached() -> None:
    """multipart/mixed: multipart/alternative (text, HTML) then the sender's .vcf."""
    message = parsed(compose(thank_you()))
    assert message.get_content_type() == "multipart/mixed"
    alternative, card = cast(list[EmailMessage], list(message.iter_parts()))
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert card.get_content_type() == "text/vcard"
    assert card.get_filename() == "Jordan Rivera.vcf"
    content = card.get_content()
    assert content.startswith("BEGIN:VCARD\nVERSION:4.0\n") or content.startswith(
        "BEGIN:VCARD\r\nVERSION:4.0\r\n"
    )
    assert "FN:Jordan Rivera" in content and "EMAIL;TYPE=work:jordan@example.com" in content


def test_the_vcard_can_be_switched_off_in_the_profile(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[etiquette] vcard = false`: a plain multipart/alternative, no attachment."""
    write_profile(workspace, vcard=False)
    write_sheet(
        workspace,
        "email,name\nann@example.com,Ann Lee",
        "date,contact,kind\n2026-11-24,ann@example.com,call",
    )
    play(workspace, monkeypatch, "2026-11-25")
    message = read_message(outbox(workspace)[0])
    assert message.get_content_type() == "multipart/alternative"
    assert list(message.iter_attachments()) == []
    assert b"BEGIN:VCARD" not in outbox(workspace)[0].read_bytes()


def test_the_vcard_follows_rfc_6350() -> None:
    """BEGIN, VERSION 4.0, FN, N, EMAIL, END; CRLF lines of at most 75 octets; escaped text."""
    me = Me(**{**ME, "name": "Jordan Rivera, PhD; Esq", "looking_for": "x" * 200})
    card = vcard(Profile(me=me))
    lines = card.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCARD" and lines[1] == b"VERSION:4.0"
    assert lines[-2:] == [b"END:VCARD", b""]
    assert b"FN:Jordan Rivera\\, PhD\\; Esq" in card
    assert b"EMAIL;TYPE=work:jordan@example.com" in card
    assert all(len(line) <= 75 for line in lines)
    assert b"\n " in card  # the long NOTE is folded, not cut


def test_a_template_failing_for_one_contact_skips_only_that_email(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace override using an undefined value for one contact: that one is skipped,
    with the reason; the others are written."""
    write_profile(workspace)
    (workspace.templates).mkdir()
    (workspace.templates / "thank-you.md.j2").write_text(
        "Subject: Thanks, {{ contact.first_name }}\n\n"
        "{% if contact.company == 'Globex' %}Hi {{ contact.nickname }}{% else %}Hi{% endif %}\n",
        encoding="utf-8",
    )
    write_sheet(
        workspace,
        """
        email,name,company
        ann@example.com,Ann Lee,Acme
        bob@example.com,Bob Stone,Globex
        cy@example.com,Cy Park,Initech
        """,
        """
        date,contact,kind
        2026-11-24,ann@example.com,call
        2026-11-24,bob@example.com,call
        2026-11-24,cy@example.com,call
        """,
    )
    report = play(workspace, monkeypatch, "2026-11-25")
    by_to = {o.to: o for o in report.outcomes}
    assert by_to["bob@example.com"].state == "skipped"
    assert "nickname" in by_to["bob@example.com"].reason
    assert "thank-you.md.j2" in by_to["bob@example.com"].reason
    assert by_to["ann@example.com"].state == "written"
    assert by_to["cy@example.com"].state == "written"
    assert len(outbox(workspace)) == 2


def test_strict_undefined_refuses_a_missing_value_instead_of_writing_a_blank(
    tmp_path: Path,
) -> None:
    """`{{ conversation.place }}` is not in the context: an error naming it, not "at ."."""
    folder = override(
        tmp_path, "thank-you", "Subject: Hi\n\nSee you at {{ conversation.place }}.\n"
    )
    with pytest.raises(TemplateError, match="place"):
        compose(thank_you(), folder)


def test_a_constant_in_a_template_says_the_same_in_every_email_of_a_batch(
    tmp_path: Path,
) -> None:
    """`{{ "Warm regards" }}` is the same words in the second email as in the first (Jinja
    folds a constant at compile time: the compose hook must not run then)."""
    folder = override(
        tmp_path,
        "thank-you",
        'Subject: Hi {{ contact.first_name }}\n\n{{ "Warm regards" }}, {{ contact.name }}.\n',
    )
    composer = Composer(profile(True), TODAY, (folder, DEFAULT_TEMPLATES))
    first = composer.compose(thank_you(), PLANNED_AT)
    second = composer.compose(
        thank_you(key="thank-you:i:2", name="Bo Ek", first_name="Bo", email="bo@example.com"),
        PLANNED_AT,
    )
    assert "Warm regards, Ann Lee." in first.text
    assert "Warm regards, Bo Ek." in second.text
    assert "Warm regards, Bo Ek." in second.html


@pytest.mark.parametrize("literal", ["bctok0x", "bctok7x", "bctok999x", "bctok"])
def test_a_template_holding_the_value_marker_text_is_refused_not_filled(
    tmp_path: Path, literal: str
) -> None:
    """`bctok<n>x` marks where a value goes in the skeleton: a template that says it in its
    own words was filled with the first name ("Code Ann for Ann Lee") or crashed. It is
    refused, naming the template and what to do."""
    folder = override(
        tmp_path,
        "thank-you",
        f"Subject: Hi {{{{ contact.first_name }}}}\n\nCode {literal} for {{{{ contact.name }}}}.\n",
    )
    with pytest.raises(TemplateError, match=r"thank-you\.md\.j2: the text 'bctok' is reserved"):
        compose(thank_you(), folder)


def test_a_template_reads_its_values_as_a_dict_too_methods_first(tmp_path: Path) -> None:
    """`contact.get("company")` and `contact.items()` work as on a plain dict (a method
    wins over a key of its name): compose's faster attribute lookup keeps Jinja's order."""
    folder = override(
        tmp_path,
        "thank-you",
        "Subject: Hi\n\nAt {{ contact.get('company') }}: "
        "{% for key, value in contact.items() if key == 'name' %}{{ value }}{% endfor %}.\n",
    )
    text = compose(thank_you(), folder).text
    assert "At Acme Analytics: Ann Lee." in text


@pytest.mark.parametrize(
    "value",
    [
        "Ann\r\nBcc: victim@example.com",
        "Ann\nBcc: victim@example.com",
        "Ann\rBcc: victim@example.com",
        ENCODED_WORD,
        "Invoice \u202efdp.exe",
        "Ann\x00Lee",
        "Ann\u2028Lee",
        "Ann\x85Lee",
        "Ann\tLee",
    ],
)
def test_hostile_header_values_are_refused(value: str) -> None:
    """Control characters, line breaks, bidi overrides and encoded words never go in a header."""
    with pytest.raises(UnsafeHeaderError):
        check_header_value(value, "the name")


@pytest.mark.parametrize("value", ["Ann O'Neill", "José Núñez", "Zoë 🚀", "R&D = fun?", "a=b"])
def test_ordinary_header_values_pass(value: str) -> None:
    """Apostrophes, accents, emoji and a lone = or ? are fine."""
    assert check_header_value(value, "the name") == value


@pytest.mark.parametrize(
    ("template", "due"),
    [
        pytest.param(None, thank_you(name="Ann\r\nBcc: x@evil.example"), id="name-crlf"),
        pytest.param(None, thank_you(name=ENCODED_WORD), id="name-encoded-word"),
        pytest.param(None, thank_you(name="Ann \u202eexe.fdp"), id="name-rtl-override"),
        pytest.param(None, thank_you(first_name=ENCODED_WORD), id="first-name-in-subject"),
        pytest.param(
            "Subject: Hello from {{ contact.company }}\n\nHi\n",
            thank_you(company=ENCODED_WORD),
            id="company-encoded-word-in-subject",
        ),
        pytest.param(
            "Subject: Hello from {{ contact.company }}\n\nHi\n",
            thank_you(company="Acme\r\nBcc: x@evil.example"),
            id="company-crlf-in-subject",
        ),
        pytest.param(
            "Subject: Hello from {{ contact.company }}\n\nHi\n",
            thank_you(company="Acme\nBcc: x@evil.example"),
            id="company-lf-in-subject",
        ),
        pytest.param(
            "Subject: About {{ conversation.topic }}\n\nHi\n",
            thank_you(topic="dbt\nBcc: x@evil.example"),
            id="topic-lf-in-subject",
        ),
        pytest.param(
            "Subject: About {{ conversation.topic }}\n\nHi\n",
            thank_you(topic="dbt \u202eevil"),
            id="topic-rtl-in-subject",
        ),
    ],
)
def test_a_hostile_value_headed_for_a_header_refuses_the_email(
    tmp_path: Path, template: str | None, due: Due
) -> None:
    """Name, company or topic with CR/LF, an encoded word or an RTL override: refused."""
    folder = override(tmp_path, "thank-you", template) if template else None
    with pytest.raises(UnsafeHeaderError):
        compose(due, folder)


def test_a_line_break_in_a_body_value_stays_in_the_body(tmp_path: Path) -> None:
    """Only the subject refuses line breaks: a two-line topic in the body is fine."""
    folder = override(tmp_path, "thank-you", "Subject: Hi\n\nAbout {{ conversation.topic }}.\n")
    text = text_of(parsed(compose(thank_you(topic="dbt\nand Airflow"), folder)))
    assert "About dbt\nand Airflow." in text


def test_the_message_has_exactly_the_headers_we_set_and_one_recipient() -> None:
    """From, To, Subject, Date, Message-ID, MIME-Version, Content-Type; To is one address."""
    composed = compose(thank_you(name="Ann O'Neill-Lee, PhD"))
    message = parsed(composed)
    assert sorted(k.lower() for k in message) == HEADERS
    [to] = message["To"].addresses
    assert to.addr_spec == "ann@example.com"
    assert message["Message-ID"] == message_id("thank-you:i:1", "jordan@example.com")
    assert composed.email.message_id == message["Message-ID"]


def test_verify_headers_catches_an_extra_header() -> None:
    """A Bcc: that appeared in serialising (CVE-2024-6923) stops the email."""
    raw = compose(thank_you()).email.raw
    smuggled = raw.replace(b"\r\nSubject:", b"\r\nBcc: x@evil.example\r\nSubject:", 1)
    with pytest.raises(UnsafeHeaderError, match="bcc"):
        verify_headers(smuggled, "ann@example.com")


def test_verify_headers_catches_a_second_recipient() -> None:
    """To: with two addresses, or someone else's, stops the email."""
    raw = compose(thank_you()).email.raw
    doubled = raw.replace(b"<ann@example.com>", b"<ann@example.com>, x@evil.example", 1)
    with pytest.raises(UnsafeHeaderError, match="someone else"):
        verify_headers(doubled, "ann@example.com")
    for other in ("bob@example.com", "nn@example.com"):  # a colleague; a tail of the address
        with pytest.raises(UnsafeHeaderError, match="someone else"):
            verify_headers(raw, other)


@pytest.mark.parametrize("name", ["Ann Lee (@annlee)", "ann@example.com", "Ann @ Acme, x@y.z"])
def test_an_at_sign_in_the_display_name_is_a_name_not_a_recipient(name: str) -> None:
    """An @ inside the quoted display name passes the header check (it refused every one),
    and an address slipped in beside the real one is still refused."""
    raw = compose(thank_you(name=name)).email.raw
    verify_headers(raw, "ann@example.com")
    [to] = parsed(compose(thank_you(name=name)))["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "ann@example.com")
    doubled = raw.replace(b"<ann@example.com>", b"<ann@example.com>, x@evil.example", 1)
    with pytest.raises(UnsafeHeaderError, match="someone else"):
        verify_headers(doubled, "ann@example.com")


def test_message_ids_are_deterministic_per_key_and_sender() -> None:
    """The same key gives the same Message-ID on every run; another key another one."""
    first = compose(thank_you()).email.message_id
    again = Composer(profile(), date(2026, 12, 1)).compose(thank_you(), datetime.now(UTC))
    assert again.email.message_id == first
    assert compose(thank_you(key="thank-you:i:2")).email.message_id != first
    assert message_id("thank-you:i:1", "other@example.org") != first
    assert first.endswith("@example.com>") and first.startswith("<")


@pytest.mark.parametrize(
    "topic", ["{{first_name}}'s plans", "the {% if %} tag", "your {{ team", "{{ contact.name }}"]
)
def test_an_unfilled_placeholder_in_a_cell_skips_the_email(
    topic: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell pasted from another mail-merge ("Hi {{first_name}}") never goes out as it is."""
    write_profile(workspace)
    write_sheet(
        workspace,
        "email,name\nann@example.com,Ann Lee\n",
        f'date,contact,kind,topic\n2026-11-24,ann@example.com,call,"{topic}"\n',
    )
    report = play(workspace, monkeypatch, "2026-11-25")
    assert [(o.state, "unfilled placeholder" in o.reason) for o in report.outcomes] == [
        ("skipped", True)
    ]
    assert outbox(workspace) == []


def test_a_template_that_joins_values_shows_them_plainly_in_text_and_escaped_in_html(
    tmp_path: Path,
) -> None:
    """`join` under autoescape yields HTML; the text part still reads O'Brien, not &#39;."""
    (tmp_path / "thank-you.md.j2").write_text(
        "Subject: Hi {{ contact.first_name }}\n\n"
        "Thanks for {{ referrals | map(attribute='name') | join(', ') }}.\n",
        encoding="utf-8",
    )
    profile = Profile(me=Me(name="Sam Seeker", email="sam@example.com"))
    composer = Composer(profile, TODAY, (tmp_path,))
    due = Due(
        key="thank-you:i:1",
        kind="thank-you",
        contact_id="e:a",
        email="a@example.com",
        name="Ann",
        first_name="Ann",
        for_date=TODAY,
        conversation_kind="call",
        referrals=("O'Brien", "A & B <x>"),
    )
    composed = composer.compose(due, PLANNED_AT)
    assert "Thanks for O'Brien, A & B <x>." in composed.text
    assert "O&#39;Brien, A &amp; B &lt;x&gt;" in composed.html
