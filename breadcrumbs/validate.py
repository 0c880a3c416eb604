"""Validate stage: rows in, records and rejects out.

Python touches each row here because each needs judgement (an address check, a date, a
merge). Every refusal is kept as a Reject naming file, row, column, value and reason; the
good rows always load. Identifiers are stable across syncs: a contact is its normalised
email, else its normalised name; a conversation is its contact, date and kind. The store
then gives each contact the id of the person it is (store/identity.py), which an edited
address or a fixed name does not change.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time
from email.utils import parseaddr
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from breadcrumbs.records import Reject
from breadcrumbs.sources.dates import parse_date, parse_time
from breadcrumbs.sources.read import Cell, Table

TRUE = {
    "yes",
    "y",
    "true",
    "t",
    "1",
    "x",
    "✓",
    "✔",
    "opt out",
    "opted out",
    "opt-out",
    "opted-out",
    "unsubscribed",
    "do not email",
    "stop",
}
FALSE = {"no", "n", "false", "f", "0", "-", "none"}
# Characters that must never reach a header: C0/C1 controls, line and paragraph separators,
# and the bidi overrides that make a name read differently from what it is.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(slots=True)
class Contact:
    contact_id: str
    email: str | None
    name: str
    first_name: str
    company: str
    title: str
    relationship: str
    phone: str
    notes: str
    linkedin: str
    connected_on: date | None
    opt_out: bool
    mailable: bool
    unmailable_reason: str | None
    source_file: str
    source_row: int
    referred_by: str = ""  # the raw cell, resolved once every contact is known
    from_reference: bool = False  # created because a referral or conversation named them


@dataclass(slots=True)
class Interaction:
    interaction_id: str
    contact_id: str
    date: date
    kind: str
    topic: str
    notes: str
    source_file: str
    source_row: int
    time: time | None = None  # when it started, if the sheet says: mail after it thanks it


@dataclass(slots=True)
class Referral:
    referrer_id: str
    referred_id: str
    interaction_id: str | None
    seq: int


@dataclass(slots=True)
class Prospect:
    prospect_id: str
    company: str
    role: str
    stage: str
    referral_wanted: bool
    share: bool
    notes: str
    source_file: str
    source_row: int


@dataclass
class Validated:
    contacts: list[Contact] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    prospects: list[Prospect] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    merged: int = 0  # rows folded into an earlier row for the same person
    created: int = 0  # contacts created because someone referred them


@lru_cache(maxsize=1 << 18)
def fold_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def has_control(text: str) -> bool:
    return bool(_CONTROL.search(text))


# Plain addresses (letters, digits and . _ + - before the @; a dotted, lower-case-able ASCII
# domain with a letters-only TLD) are the vast majority. email-validator costs about 70 µs
# an address; this check about 1 µs, and it accepts only a subset of what email-validator
# accepts, normalised the same way (tests/test_validate.py checks that with Hypothesis).
# Anything else goes to email-validator.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9_+-]|\.(?!\.))*(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Special-use names (RFC 6761 and friends) email-validator refuses as undeliverable.
_SPECIAL_TLDS = {
    "arpa",
    "invalid",
    "local",
    "localhost",
    "onion",
    "test",
    "internal",
    "home",
    "lan",
    "corp",
    "localdomain",
    "intranet",
    "private",
    "alt",
}


def plain_email(text: str) -> str | None:
    """The normalised address if `text` is a plain address, else None (undecided)."""
    if len(text) > 254 or not _PLAIN_EMAIL.fullmatch(text):
        return None
    local, _, domain = text.partition("@")
    domain = domain.lower()
    # "--" is IDNA's business ("xn--"): email-validator judges those, so they go there.
    if len(local) > 64 or "--" in domain or domain.rsplit(".", 1)[-1] in _SPECIAL_TLDS:
        return None
    return f"{local}@{domain}"


@lru_cache(maxsize=65536)
def normalise_email(text: str) -> str:
    """The address as it will be written, or EmailNotValidError. No DNS look-ups."""
    return plain_email(text) or validate_email(text, check_deliverability=False).normalized


def parse_bool(value: Cell) -> bool | None:
    text = str(value).strip().casefold() if value is not None else ""
    if text in TRUE:
        return True
    if text in FALSE or not text:
        return False
    return None


def _text(value: Cell) -> str:
    if type(value) is str:  # nearly every cell: the rest below
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed into Excel comes back as 5550100.0
    return str(value).strip()


def _hash_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{prefix}:{digest}"


def interaction_id_of(contact_id: str, when: date, kind: str) -> str:
    """A conversation is its person, date and kind (its thank-you is keyed by this)."""
    return _hash_id("i", contact_id, when.isoformat(), kind)


class AmbiguousName(Exception):
    """A conversation or referral names someone by a name that several contacts share."""

    def __init__(self, name: str, contacts: list[Contact], text: str | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.contacts = contacts
        self._text = text

    def reason(self) -> str:
        if self._text is None:
            self._text = self._reason()
        return self._text

    def _reason(self) -> str:
        which = ", ".join(
            f"{c.email or 'one with no email'} ({c.source_file} row {c.source_row})"
            for c in self.contacts
        )
        return (
            f"ambiguous name: {len(self.contacts)} contacts are named {self.name!r}: {which}; "
            "write the email to say which"
        )


@lru_cache(maxsize=1 << 20)  # a million-row sheet names about 270,000 distinct people
def _reference(reference: str) -> tuple[str | None, str, str]:
    """What a contact cell names: the lower-cased address if it has one, the folded name and
    the name as written. The same cell recurs on many rows of a sheet: parsed once."""
    display, address = parseaddr(reference) if "<" in reference else ("", reference)
    name = display or reference
    email = address.strip().lower() if "@" in address else None
    return email, fold_name(name), name.strip()


class _Contacts:
    """Contacts by identity, with the look-ups that resolve a referral or a conversation."""

    def __init__(self) -> None:
        self.by_id: dict[str, Contact] = {}
        self.by_email: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}
        # An ambiguous name's contacts and reason, by name and how many share it (by_name
        # only grows, so the count says which).
        self._ambiguous: dict[tuple[str, str, int], tuple[list[Contact], str]] = {}

    def add(self, contact: Contact) -> None:
        self.by_id[contact.contact_id] = contact
        if contact.email:
            self.by_email.setdefault(contact.email.lower(), contact.contact_id)
        if contact.name:
            self.by_name.setdefault(fold_name(contact.name), []).append(contact.contact_id)

    def find(self, reference: str) -> str | None:
        """The contact a cell names, None if nobody; AmbiguousName if a name is shared
        (issue #8: it went silently to the first contact of that name)."""
        email, folded, name = _reference(reference)
        if email is not None:
            found = self.by_email.get(email)
            if found:
                return found
        named = self.by_name.get(folded)
        if not named:
            return None
        if len(named) > 1:
            key = (name, folded, len(named))
            known = self._ambiguous.get(key)
            if known is None:
                contacts = [self.by_id[i] for i in named]
                known = self._ambiguous[key] = (contacts, AmbiguousName(name, contacts).reason())
            # Raised as made, never held in a local: no frame-traceback cycle per row.
            raise AmbiguousName(name, known[0], known[1])
        return named[0]


def validate(tables: list[Table], slash_dates: str = "month-first") -> Validated:
    out = Validated()
    people = _Contacts()
    for table in tables:
        for number, column, reason in table.unread:
            out.rejects.append(Reject(table.file, number, column, "", reason, "row"))
    for table in tables:
        if table.name == "contacts":
            _contacts(table, out, people)
    _resolve_referred_by(out, people)
    for table in tables:
        if table.name == "interactions":
            _interactions(table, out, people, slash_dates)
        elif table.name == "prospects":
            _prospects(table, out)
    out.contacts = list(people.by_id.values())
    _reference.cache_clear()  # this sheet's cells: no use to the next sync, and large
    return out


def _name_of(row: dict[str, Cell]) -> str:
    name = _text(row.get("name"))
    if name:
        return name
    parts = [_text(row.get(k)) for k in ("first_name", "middle_name", "last_name")]
    return " ".join(p for p in parts if p)


def _pick_email(cell: str, file: str, number: int, out: Validated) -> str | None:
    """The first valid address in a cell; Google joins several with ' ::: '."""
    candidates = [c.strip() for c in re.split(r":::|;|\s,\s|\n", cell) if c.strip()]
    for candidate in candidates:
        _, address = parseaddr(candidate) if "<" in candidate else ("", candidate)
        try:
            return normalise_email(address)
        except EmailNotValidError:
            continue
    reason = "invalid email"
    if len(candidates) == 1:
        try:
            normalise_email(candidates[0])
        except EmailNotValidError as exc:
            reason = f"invalid email: {exc}"
    out.rejects.append(Reject(file, number, "email", cell, reason, "cell"))
    return None


def _labels(value: str) -> str:
    # Google writes "* myContacts ::: Coworkers"; the starred system labels mean nothing here.
    parts = [p.strip() for p in value.split(":::")]
    return ", ".join(p for p in parts if p and not p.startswith("*"))


def _contacts(table: Table, out: Validated, people: _Contacts) -> None:
    first_row: dict[str, int] = {}
    for number, row in table.rows:
        file = table.file
        name = _name_of(row)
        email_cell = _text(row.get("email"))
        email = _pick_email(email_cell, file, number, out) if email_cell else None
        if not name and not email:
            why = "no name, and no valid email" if email_cell else "no name and no email"
            out.rejects.append(Reject(file, number, "name", "", why, "row"))
            continue
        mailable, unmailable = True, None
        if not email:
            mailable, unmailable = False, "no valid email address"
        if has_control(name):
            out.rejects.append(
                Reject(
                    file,
                    number,
                    "name",
                    name,
                    "control characters in name: loaded but never mailed",
                    "cell",
                )
            )
            mailable, unmailable = False, "control characters in name"
        opt_out = parse_bool(row.get("opt_out"))
        if opt_out is None:
            out.rejects.append(
                Reject(
                    file,
                    number,
                    "opt_out",
                    _text(row.get("opt_out")),
                    "not a yes/no value: treated as opted out",
                    "warning",
                )
            )
            opt_out = True
        connected_on = None
        if row.get("connected_on") is not None:
            # Only informative (LinkedIn's "Connected On"): never worth a reject.
            with contextlib.suppress(ValueError):
                connected_on = _parse_date(row["connected_on"], "month-first")
        relationship = _text(row.get("relationship"))
        if table.export == "google":
            relationship = _labels(relationship)
        contact_id = f"e:{email.lower()}" if email else f"n:{fold_name(name)}"
        contact = Contact(
            contact_id=contact_id,
            email=email,
            name=name or (email or "").split("@")[0],
            first_name=_text(row.get("first_name")) or (name.split()[0] if name else ""),
            company=_text(row.get("company")),
            title=_text(row.get("title")),
            relationship=relationship,
            phone=_text(row.get("phone")).split(":::")[0].strip(),
            notes=_text(row.get("notes")),
            linkedin=_text(row.get("linkedin")),
            connected_on=connected_on,
            opt_out=opt_out,
            mailable=mailable,
            unmailable_reason=unmailable,
            source_file=file,
            source_row=number,
            referred_by=_text(row.get("referred_by")),
        )
        earlier = people.by_id.get(contact_id)
        if earlier is None:
            people.add(contact)
            first_row[contact_id] = number
            continue
        out.merged += 1
        _merge(earlier, contact, first_row[contact_id], out)


def _merge(earlier: Contact, later: Contact, first: int, out: Validated) -> None:
    """Same person twice: the first row's values win; blanks are filled; disagreements shown."""
    for attr in ("name", "company"):
        a, b = getattr(earlier, attr), getattr(later, attr)
        if a and b and fold_name(a) != fold_name(b):
            out.rejects.append(
                Reject(
                    later.source_file,
                    later.source_row,
                    attr,
                    b,
                    f"conflict: same person as row {first}, whose {attr} {a!r} is kept",
                    "conflict",
                )
            )
    for attr in ("company", "title", "relationship", "phone", "notes", "linkedin", "referred_by"):
        if not getattr(earlier, attr) and getattr(later, attr):
            setattr(earlier, attr, getattr(later, attr))
    # Opting out anywhere counts; an unmailable row keeps the person unmailable.
    earlier.opt_out = earlier.opt_out or later.opt_out
    if not later.mailable and earlier.mailable:
        earlier.mailable, earlier.unmailable_reason = False, later.unmailable_reason


# A referral written as `Name <address>`, read without judging the address.
_BRACKETED = re.compile(r'\s*"?([^"<>]*?)"?\s*<([^<>]*)>\s*')


def _referred_contact(
    reference: str, source: Contact | Interaction, out: Validated, people: _Contacts, column: str
) -> str | None:
    """Find the contact a referral names, creating them (no email yet) if new."""
    try:
        found = people.find(reference)
    except AmbiguousName as exc:
        out.rejects.append(
            Reject(source.source_file, source.source_row, column, reference, exc.reason(), "cell")
        )
        return None
    if found:
        return found
    bracketed = "<" in reference
    display, address = parseaddr(reference) if bracketed else ("", reference)
    if bracketed and not address:
        # parseaddr gives no address at all for a broken one ("Bob <bob@@example.com>"),
        # which made Bob a person without one and refused nothing: take what is in the <>.
        match = _BRACKETED.fullmatch(reference)
        if match:
            display, address = match.group(1), match.group(2)
    email, bad_address = None, False
    if "@" in address or (bracketed and address.strip()):
        try:
            email = normalise_email(address.strip())
        except EmailNotValidError as exc:
            # As a contacts row with a bad address: the cell is refused, the person named
            # is kept (someone to call), never mailed until a good address is given.
            kept = f": {display.strip()} is kept, unmailable" if display.strip() else ""
            out.rejects.append(
                Reject(
                    source.source_file,
                    source.source_row,
                    column,
                    reference,
                    f"invalid email in a referral ({exc}){kept}",
                    "cell",
                )
            )
            if not display.strip():
                return None
            bad_address = True
    name = display.strip() or ("" if email else reference)
    if has_control(name):
        out.rejects.append(
            Reject(
                source.source_file,
                source.source_row,
                column,
                reference,
                "control characters in a referral",
                "cell",
            )
        )
        return None
    contact = Contact(
        contact_id=f"e:{email.lower()}" if email else f"n:{fold_name(name)}",
        email=email,
        name=name or (email or "").split("@")[0],
        first_name=name.split()[0] if name else "",
        company="",
        title="",
        relationship="referral",
        phone="",
        notes="",
        linkedin="",
        connected_on=None,
        opt_out=False,
        mailable=bool(email),
        unmailable_reason=(
            None if email else "no valid email address" if bad_address else "no email address yet"
        ),
        source_file=source.source_file,
        source_row=source.source_row,
        from_reference=True,
    )
    people.add(contact)
    out.created += 1
    return contact.contact_id


def _resolve_referred_by(out: Validated, people: _Contacts) -> None:
    for contact in list(people.by_id.values()):
        if not contact.referred_by:
            continue
        referrer = _referred_contact(contact.referred_by, contact, out, people, "referred_by")
        if referrer and referrer != contact.contact_id:
            out.referrals.append(Referral(referrer, contact.contact_id, None, len(out.referrals)))


_REFERRAL_SPLIT = re.compile(r"[;\n]")


@lru_cache(maxsize=1 << 16)
def _date_text(text: str, slash_dates: str) -> date | str:
    """A date cell's text read once per distinct text: the date, or why it is unreadable."""
    try:
        return parse_date(text, slash_dates)
    except ValueError as exc:
        return str(exc)


def _parse_date(value: Cell, slash_dates: str) -> date:
    """parse_date, remembered for text cells (a sheet repeats its dates many times over)."""
    if type(value) is not str:
        return parse_date(value, slash_dates)
    read = _date_text(value, slash_dates)
    if isinstance(read, str):
        raise ValueError(read)
    return read


def _interactions(table: Table, out: Validated, people: _Contacts, slash_dates: str) -> None:
    seen: dict[str, Interaction] = {}
    waiting: list[tuple[int, dict[str, Cell]]] = []
    for number, row in table.rows:
        if not _interaction(table.file, number, row, out, people, slash_dates, seen, False):
            waiting.append((number, row))
    # A conversation with someone who was only named in another row's referrals cell: that
    # row created them above, whatever order the sheet is in.
    for number, row in waiting:
        _interaction(table.file, number, row, out, people, slash_dates, seen, True)


def _interaction(
    file: str,
    number: int,
    row: dict[str, Cell],
    out: Validated,
    people: _Contacts,
    slash_dates: str,
    seen: dict[str, Interaction],
    last_try: bool,
) -> bool:
    """Load one conversation row; False means its contact is unknown (try again later)."""
    who = _text(row.get("contact"))
    if not who:
        out.rejects.append(Reject(file, number, "contact", "", "no contact named", "row"))
        return True
    try:
        contact_id = people.find(who)
    except AmbiguousName as exc:
        out.rejects.append(Reject(file, number, "contact", who, exc.reason(), "row"))
        return True
    if contact_id is None:
        if last_try:
            out.rejects.append(
                Reject(
                    file,
                    number,
                    "contact",
                    who,
                    "unknown contact: add them to contacts first",
                    "row",
                )
            )
        return last_try
    raw_date = row.get("date")
    try:
        when = _parse_date(raw_date, slash_dates)
    except ValueError as exc:
        out.rejects.append(
            Reject(file, number, "date", _text(raw_date), f"unparseable date: {exc}", "row")
        )
        return True
    kind = fold_name(_text(row.get("kind"))) or "conversation"
    interaction_id = interaction_id_of(contact_id, when, kind)
    referrals = _text(row.get("referrals"))
    cells = [c.strip() for c in _REFERRAL_SPLIT.split(referrals) if c.strip()] if referrals else []
    interaction = seen.get(interaction_id)
    if interaction is not None:
        out.merged += 1  # the same conversation entered twice: one thank-you, all referrals
    else:
        interaction = Interaction(
            interaction_id,
            contact_id,
            when,
            kind,
            _text(row.get("topic")),
            _text(row.get("notes")),
            file,
            number,
        )
        interaction.time = _time_of(file, number, row, out)
        seen[interaction_id] = interaction
        out.interactions.append(interaction)
    for cell in cells:
        referred = _referred_contact(cell, interaction, out, people, "referrals")
        if referred and referred != contact_id:
            out.referrals.append(Referral(contact_id, referred, interaction_id, len(out.referrals)))
    return True


def _time_of(file: str, number: int, row: dict[str, Cell], out: Validated) -> time | None:
    """The optional time a conversation started; an unreadable one is dropped, not the row."""
    raw = row.get("time")
    if raw is None or not _text(raw):
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        out.rejects.append(
            Reject(file, number, "time", _text(raw), f"unreadable time: {exc}", "cell")
        )
        return None


def _prospects(table: Table, out: Validated) -> None:
    seen: set[str] = set()
    for number, row in table.rows:
        company = _text(row.get("company"))
        if not company:
            out.rejects.append(Reject(table.file, number, "company", "", "no company", "row"))
            continue
        role = _text(row.get("role"))
        flags = {}
        for column, default in (("referral_wanted", False), ("share", True)):
            value = parse_bool(row.get(column)) if row.get(column) is not None else default
            if value is None:
                # Unsure whether a prospect may be named: keep it private.
                out.rejects.append(
                    Reject(
                        table.file,
                        number,
                        column,
                        _text(row.get(column)),
                        "not a yes/no value: read as no",
                        "warning",
                    )
                )
                value = False
            flags[column] = value
        prospect_id = _hash_id("p", fold_name(company), fold_name(role))
        if prospect_id in seen:
            out.merged += 1
            continue
        seen.add(prospect_id)
        out.prospects.append(
            Prospect(
                prospect_id,
                company,
                role,
                _text(row.get("stage")),
                flags["referral_wanted"],
                flags["share"],
                _text(row.get("notes")),
                table.file,
                number,
            )
        )
