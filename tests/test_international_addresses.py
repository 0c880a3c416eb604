"""International domains reach the domain the user wrote: the address validate keeps goes
into the To header as IDNA 2008 ASCII, email-validator's own, and back again (issue #8, 3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import idna
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.compose.message import Composer
from breadcrumbs.errors import UnsafeHeaderError
from breadcrumbs.profile import Me, Profile
from breadcrumbs.records import Due
from breadcrumbs.settings import Workspace
from breadcrumbs.validate import normalise_email
from tests.follow_up_support import ME, play, recipients, write_profile, write_sheet

COMPOSER = Composer(Profile(me=Me(**ME)), date(2026, 11, 25))
PLANNED_AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def to_header_of(stored: str) -> str:
    """The bare address in the To header of the thank-you composed for `stored`."""
    due = Due(
        key="thank-you:i:1",
        kind="thank-you",
        contact_id="c:1",
        email=stored,
        name="Max Muster",
        first_name="Max",
        for_date=date(2026, 11, 24),
        conversation_kind="coffee",
    )
    composed = COMPOSER.compose(due, PLANNED_AT)
    message = cast(EmailMessage, message_from_bytes(composed.email.raw, policy=policy.default))
    to = message["To"].addresses
    assert len(to) == 1
    assert composed.email.to_addr == to[0].addr_spec
    return str(to[0].addr_spec)


def back_to_unicode(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{idna.decode(domain)}"


@pytest.mark.parametrize(
    ("written", "header"),
    [
        ("max@straße.de", "max@xn--strae-oqa.de"),
        ("max@xn--strae-oqa.de", "max@xn--strae-oqa.de"),
        ("max@XN--STRAE-OQA.DE", "max@xn--strae-oqa.de"),
        ("max@Straße.DE", "max@xn--strae-oqa.de"),
        ("eleni@ς.gr", "eleni@xn--3xa.gr"),
        ("eleni@ΣΑΣ.gr", "eleni@xn--mxa9ab.gr"),
        ("ann@bücher.example.com", "ann@xn--bcher-kva.example.com"),
        ("Max@STRASSE.de", "Max@strasse.de"),
    ],
)
def test_an_international_domain_is_addressed_as_written(written: str, header: str) -> None:
    """ß and ς stay themselves (IDNA 2008): straße.de is never sent to strasse.de."""
    stored = normalise_email(written)
    assert to_header_of(stored) == header
    assert back_to_unicode(header) == stored


def test_the_user_s_own_international_address_signs_as_idna_2008() -> None:
    """The From header of a sender at straße.de names straße.de too."""
    composer = Composer(Profile(me=Me(**{**ME, "email": "jordan@straße.de"})), date(2026, 11, 25))
    due = Due("intro:c:1", "intro", "c:1", "bob@example.com", "Bob", "Bob", referrer_name="Ann")
    raw = composer.compose(due, PLANNED_AT).email.raw
    message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    assert message["From"].addresses[0].addr_spec == "jordan@xn--strae-oqa.de"


def test_a_mailbox_name_in_other_letters_is_refused_not_mangled() -> None:
    """A non-ASCII local part would need SMTPUTF8: the email is refused, never rewritten."""
    with pytest.raises(UnsafeHeaderError, match="SMTPUTF8"):
        to_header_of(normalise_email("müller@example.com"))


def test_an_xn_address_in_the_sheet_reaches_the_outbox_unchanged(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """From the sheet to the .eml file: the domain the user typed, in its ASCII form."""
    write_profile(workspace)
    write_sheet(
        workspace,
        "email,name\nmax@xn--strae-oqa.de,Max Muster\neleni@ς.gr,Eleni Pappa\n",
        "date,contact,kind\n2026-11-24,Max Muster,coffee\n2026-11-24,Eleni Pappa,call\n",
    )
    play(workspace, monkeypatch, "2026-11-25")
    assert recipients(workspace) == ["eleni@xn--3xa.gr", "max@xn--strae-oqa.de"]


# Letters IDNA 2003 and 2008 treat differently (ß, ς, and the joiners), others that both
# map the same way, capitals, digits and hyphens: whatever email-validator accepts must
# leave in the ASCII form it gives, and decode back to the address validate stored.
LABEL = st.text(alphabet="abzßςσΣöüéçåAZ09-\u200d", min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(
    local=st.text(alphabet="abcXYZ019._+-", min_size=1, max_size=20),
    labels=st.lists(LABEL, min_size=1, max_size=3),
    tld=st.sampled_from(["de", "gr", "com", "xn--p1ai", "COM"]),
)
def test_every_accepted_address_goes_out_as_email_validator_s_ascii_form(
    local: str, labels: list[str], tld: str
) -> None:
    """The round trip: written → stored → To header → decoded equals what was stored."""
    written = f"{local}@{'.'.join([*labels, tld])}"
    try:
        stored = normalise_email(written)
        expected = validate_email(written, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return
    assert expected is not None  # the local part is ASCII here
    header = to_header_of(stored)
    assert header == expected
    assert back_to_unicode(header) == stored
