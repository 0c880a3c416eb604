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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time
from email.utils import parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email

from breadcrumbs.reasons import few
from breadcrumbs.records import Reject
from breadcrumbs.sources.dates import parse_date, parse_time
from breadcrumbs.sources.read import Cell, Table
from breadcrumbs.sources.staged import StagedSheet

if TYPE_CHECKING:
    import duckdb

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
    # A conversations sheet DuckDB reads (sources/staged.py), judged by `validate_staged`
    # once the store is open; its records stay in the store's temporary tables.
    staged: StagedRun | None = None


@dataclass
class StagedRun:
    sheet: StagedSheet
    people: _Contacts  # everyone known before its rows are read
    slash_dates: str
    reject_at: int  # where its rejects go among the others: the order a per-row read gives
    done: bool = False  # judged: _st_interactions and _st_referrals hold its records
    interactions: int = 0
    referrals: int = 0
    # The judgement's outcome beside its records (`_reuse`): rows merged, contacts created,
    # rejects made; `key` what it was judged from; `reused`: the outcome is the last sync's,
    # whose tables hold its records (only the sheet's free text is read from `_st_all`).
    merged: int = 0
    created: int = 0
    rejects: int = 0
    key: str = ""
    reused: bool = False
    # A reused judgement's view of the rejects table: the rows before and after its block.
    stored_rejects: tuple[list[tuple[object, ...]], list[tuple[object, ...]]] = ([], [])


@lru_cache(maxsize=1 << 18)
def fold_name(name: str) -> str:
    if name.isascii():  # NFKC leaves ASCII as it is, and casefold is lower there
        return " ".join(name.lower().split())
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


# The same as _PLAIN_EMAIL for DuckDB's regular expressions (RE2: no look-around): a local
# part that starts with a letter or digit and has no two dots in a row and none at its end.
# The contacts sheet's plain addresses are decided in SQL with it (`_contact_rows`), the
# length, `--` and special-use checks of `plain_email` beside it; tests/test_contacts_staged.py
# holds the two to the same answers.
_PLAIN_SQL = (
    r"[A-Za-z0-9][A-Za-z0-9_+-]*(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


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


def _forget_cells() -> None:
    """This sheet's cells: no use to the next sync, and large."""
    _reference.cache_clear()
    _parseaddr.cache_clear()


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
        which = few(
            f"{c.email or 'one with no email'} ({c.source_file} row {c.source_row})"
            for c in self.contacts
        )
        return (
            f"ambiguous name: {len(self.contacts)} contacts are named {self.name!r}: {which}; "
            "write the email to say which"
        )


# `Name Words <plain@address>`: most bracketed cells. parseaddr gives the words joined by one
# space and the address as written (tests/test_sync_staged.py checks it with Hypothesis).
_SIMPLE_NAMED = re.compile(
    r" *([\w'.-]+(?: +[\w'.-]+)*) *"
    r"<([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)> *"
)


@lru_cache(maxsize=1 << 18)
def _parseaddr(reference: str) -> tuple[str, str]:
    """parseaddr of a cell with a `<`, once per text: a contact cell's look-up and the
    contact a referral creates both need it (parseaddr costs about 40 µs a cell)."""
    simple = _SIMPLE_NAMED.fullmatch(reference)
    if simple is not None:
        return " ".join(simple.group(1).split()), simple.group(2)
    return parseaddr(reference)


@lru_cache(maxsize=1 << 20)  # a million-row sheet names about 270,000 distinct people
def _reference(reference: str) -> tuple[str | None, str]:
    """What a contact cell names: the lower-cased address if it has one, and the name as
    written (`find` folds it only if the address finds nobody). The same cell recurs on many
    rows of a sheet: parsed once."""
    display, address = _parseaddr(reference) if "<" in reference else ("", reference)
    email = address.strip().lower() if "@" in address else None
    return email, display or reference


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
        email, name = _reference(reference)
        if email is not None:
            found = self.by_email.get(email)
            if found:
                return found
        folded = fold_name(name)
        named = self.by_name.get(folded)
        if not named:
            return None
        if len(named) > 1:
            name = name.strip()
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
        if table.name == "contacts" and table.staged is not None:
            if not _contacts_staged(table.staged, table.export, out, people):
                _contacts(_rows_of(table.staged), out, people)
        elif table.name == "contacts":
            _contacts(table, out, people)
    _resolve_referred_by(out, people)
    for table in tables:
        if table.name == "interactions" and table.staged is not None:
            out.staged = StagedRun(table.staged, people, slash_dates, len(out.rejects))
        elif table.name == "interactions":
            _interactions(table, out, people, slash_dates)
        elif table.name == "prospects":
            _prospects(table, out)
    out.contacts = list(people.by_id.values())
    if out.staged is None:  # else the staged sheet looks the same cells up again
        _forget_cells()  # this sheet's cells: no use to the next sync, and large
    return out


def _name_of(row: dict[str, Cell]) -> str:
    name = _text(row.get("name"))
    if name:
        return name
    parts = [_text(row.get(k)) for k in ("first_name", "middle_name", "last_name")]
    return " ".join(p for p in parts if p)


def _pick_email(cell: str, file: str, number: int, out: Validated) -> str | None:
    """The first valid address in a cell; Google joins several with ' ::: '."""
    email, reason = _email_of(cell)
    if reason is not None:
        out.rejects.append(Reject(file, number, "email", cell, reason, "cell"))
    return email


def _email_of(cell: str) -> tuple[str | None, str | None]:
    """An email cell's address, or None and why it has none (the cell's reject)."""
    candidates = [c.strip() for c in re.split(r":::|;|\s,\s|\n", cell) if c.strip()]
    for candidate in candidates:
        _, address = parseaddr(candidate) if "<" in candidate else ("", candidate)
        try:
            return normalise_email(address), None
        except EmailNotValidError:
            continue
    reason = "invalid email"
    if len(candidates) == 1:
        try:
            normalise_email(candidates[0])
        except EmailNotValidError as exc:
            reason = f"invalid email: {exc}"
    return None, reason


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


def _rows_of(sheet: StagedSheet) -> Table:
    """A staged sheet read row by row after all."""
    from breadcrumbs.sources.read import _read_csv, understand

    return understand(_read_csv(sheet.path, sheet.name, sheet.file))


# The contacts sheet, set-wise (issue 11): DuckDB reads the file (sources/read.py
# `stage_contacts`); each distinct email, name, opt-out, label and date cell is judged once
# here by the functions `_contacts` uses; SQL puts the rows together and finds the rows to
# refuse. Only the people come back as Contact records (the conversations are judged against
# them, and the load gives them their person ids), a row each, in the sheet's order; rows of
# the same person are merged by `_merge`, as row by row. Anything DuckDB reads otherwise
# than the csv module would is read row by row instead.
_CONTACT_CELLS = (
    "email",
    "name",
    "first_name",
    "middle_name",
    "last_name",
    "company",
    "title",
    "relationship",
    "referred_by",
    "phone",
    "notes",
    "opt_out",
    "linkedin",
    "connected_on",
)


def _contacts_staged(sheet: StagedSheet, export: str, out: Validated, people: _Contacts) -> bool:
    """Judge a staged contacts sheet into `out` and `people`; False (nothing changed): read
    it row by row instead."""
    from breadcrumbs.store.database import duckdb  # the engine, without its Python layer

    con = duckdb.connect()
    try:
        got = _contact_rows(con, sheet, export)
    except duckdb.Error:
        got = None
    finally:
        con.close()
    if got is None:
        return False
    rows, refused = got
    file = sheet.file
    rejects: list[tuple[int, int, Reject]] = []
    for row_no, cell, why, dropped, name, control, opt_text, bad_opt in refused:
        if why is not None:
            rejects.append((row_no, 0, Reject(file, row_no, "email", cell, why, "cell")))
        if dropped:
            why = "no name, and no valid email" if cell is not None else "no name and no email"
            rejects.append((row_no, 1, Reject(file, row_no, "name", "", why, "row")))
            continue
        if control:
            why = "control characters in name: loaded but never mailed"
            rejects.append((row_no, 2, Reject(file, row_no, "name", name, why, "cell")))
        if bad_opt:
            why = "not a yes/no value: treated as opted out"
            rejects.append((row_no, 3, Reject(file, row_no, "opt_out", opt_text, why, "warning")))
    # The same person on several rows: merged into the first, as row by row.
    conflicts = Validated()
    first_row: dict[str, int] = {}
    by_id, add = people.by_id, people.add
    # One object per distinct value of the columns most people share (DuckDB makes one per
    # row; a row-by-row read shares them: 30 MiB at 100,000 people, issue 11).
    same = {file: file}.setdefault
    same_day: dict[date, date] = {}
    for (
        cid,
        email,
        name,
        first,
        company,
        title,
        label,
        phone,
        notes,
        linkedin,
        day,
        opt_out,
        mailable,
        unmailable,
        row_no,
        referred_by,
    ) in rows:
        contact = Contact(
            cid,
            email,
            name,
            same(first, first),
            same(company, company),
            same(title, title),
            same(label, label),
            phone,
            notes,
            linkedin,
            day if day is None else same_day.setdefault(day, day),
            opt_out,
            mailable,
            unmailable if unmailable is None else same(unmailable, unmailable),
            file,
            row_no,
            referred_by,
        )
        earlier = by_id.get(contact.contact_id)
        if earlier is None:
            add(contact)
            first_row[contact.contact_id] = contact.source_row
            continue
        out.merged += 1
        count = len(conflicts.rejects)
        _merge(earlier, contact, first_row[contact.contact_id], conflicts)
        rejects.extend(
            (contact.source_row, 4 + k, r) for k, r in enumerate(conflicts.rejects[count:])
        )
    rejects.sort(key=lambda r: (r[0], r[1]))
    out.rejects.extend(r for _, _, r in rejects)
    return True


# The conversations sheet's canonical columns, as `_st_all` holds them.
_SHEET_CELLS = ("contact", "date", "kind", "topic", "notes", "referrals", "time")


def _read_staged(
    con: duckdb.DuckDBPyConnection, create: str, sheet: StagedSheet, names: tuple[str, ...]
) -> bool:
    """`create` (a CREATE ... TABLE statement's head) filled from the staged file: the
    canonical columns `names`, each the first non-blank of the file's columns for it, every
    line kept (its number is its place: DuckDB keeps the file's order,
    preserve_insertion_order), with how many cells it had and whether it is blank. False
    when DuckDB split a line otherwise than the csv module would."""
    width = sheet.width + 8  # room for cells past the header's, read and ignored

    def column(name: str) -> str:
        sources = sheet.columns.get(name, [])
        if not sources:
            return f"NULL::VARCHAR AS {name}"
        firsts = ", ".join(f"nullif(trim(c{i}), '')" for i in sources)
        return f"coalesce({firsts}) AS {name}"

    raw = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    every = ", ".join(f"c{i}" for i in range(width))
    cells = " + ".join(f"(c{i} IS NOT NULL)::INTEGER" for i in range(width))
    table = create.split()[-1]
    con.execute(
        f"""{create} AS
        SELECT {", ".join(column(c) for c in names)},
               {cells} AS cells, trim(concat({every}, '')) = '' AS blank
        FROM read_csv($path, delim=$delim, quote='', escape='', header=false, skip=1,
                      all_varchar=true, null_padding=true, auto_detect=false,
                      strict_mode=false, nullstr='{_NULL}', columns={{{raw}}},
                      new_line='{sheet.new_line.encode("unicode_escape").decode()}')""",
        {"path": str(sheet.path), "delim": sheet.delimiter},
    )
    shape = con.execute(f"SELECT count(*), coalesce(sum(cells - 1), 0) FROM {table}").fetchone()
    return not (
        shape is None or shape[0] != sheet.lines or sheet.width - 1 + shape[1] != sheet.delimiters
    )


def _contact_rows(
    con: duckdb.DuckDBPyConnection, sheet: StagedSheet, export: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] | None:
    """The sheet's people as Contact's fields (one per kept row, in the sheet's order) and
    its rows with something to refuse; None if DuckDB split the file otherwise."""
    if not _read_staged(con, "CREATE TEMP TABLE c_all", sheet, _CONTACT_CELLS):
        return None  # DuckDB split a line otherwise than the csv module would
    # A row is numbered as the csv module numbers it (the header is row 1); `_name_of`'s name;
    # whether its email cell is a plain address (`plain_email`'s, decided here: see _PLAIN_SQL).
    special = ", ".join(f"'{t}'" for t in sorted(_SPECIAL_TLDS))
    con.execute(
        f"""CREATE TEMP VIEW c_v AS
        SELECT rowid + 2 AS row_no, *,
               coalesce(name, nullif(concat_ws(' ', first_name, middle_name, last_name), ''))
                 AS nm,
               coalesce(length(email) <= 254 AND regexp_full_match(email, '{_PLAIN_SQL}')
                        AND length(split_part(email, '@', 1)) <= 64
                        AND NOT contains(lower(split_part(email, '@', 2)), '--')
                        AND lower(regexp_extract(email, '[.]([A-Za-z]+)$', 1))
                            NOT IN ({special}), false) AS plain
        FROM c_all WHERE NOT blank"""
    )

    def distinct(expression: str) -> list[str]:
        return [
            str(r[0])
            for r in con.execute(
                f"SELECT DISTINCT {expression} FROM c_v WHERE {expression} IS NOT NULL"
            ).fetchall()
        ]

    # Each distinct cell judged once, by `_contacts`'s own functions.
    emails = distinct("CASE WHEN NOT plain THEN email END")
    judged = [_email_of(e) for e in emails]
    _table(
        con,
        "c_email",
        "t VARCHAR, email VARCHAR, why VARCHAR, cid VARCHAR, local VARCHAR",
        [
            emails,
            [a for a, _ in judged],
            [w for _, w in judged],
            [f"e:{a.lower()}" if a else None for a, _ in judged],
            [a.split("@")[0] if a else None for a, _ in judged],
        ],
    )
    names = distinct("nm")
    _table(
        con,
        "c_name",
        "t VARCHAR, cid VARCHAR, control BOOLEAN, first VARCHAR",
        [
            names,
            [f"n:{fold_name(n)}" for n in names],
            [has_control(n) for n in names],
            [n.split()[0] for n in names],
        ],
    )
    flags = distinct("opt_out")
    _table(con, "c_opt", "t VARCHAR, yes BOOLEAN", [flags, [parse_bool(f) for f in flags]])
    days = distinct("connected_on")
    read: list[date | None] = []
    for text in days:
        try:
            read.append(_parse_date(text, "month-first"))
        except ValueError:  # only informative (LinkedIn's "Connected On"): never a reject
            read.append(None)
    _table(con, "c_day", "t VARCHAR, d DATE", [days, read])
    labels = distinct("relationship") if export == "google" else []
    _table(con, "c_label", "t VARCHAR, label VARCHAR", [labels, [_labels(t) for t in labels]])
    con.execute(
        """CREATE TEMP VIEW c_r AS
        SELECT v.row_no, v.email AS cell, coalesce(p.address, e.email) AS address, e.why, v.nm,
               coalesce('e:' || lower(p.address), e.cid, n.cid) AS contact_id,
               coalesce(v.nm, split_part(p.address, '@', 1), e.local) AS name,
               coalesce(v.first_name, n.first, '') AS first_name,
               coalesce(v.company, '') AS company, coalesce(v.title, '') AS title,
               coalesce(l.label, v.relationship, '') AS relationship,
               trim(split_part(coalesce(v.phone, ''), ':::', 1)) AS phone,
               coalesce(v.notes, '') AS notes, coalesce(v.linkedin, '') AS linkedin,
               d.d AS connected_on, coalesce(n.control, false) AS control,
               v.opt_out AS opt_text, v.opt_out IS NOT NULL AND o.yes IS NULL AS bad_opt,
               coalesce(o.yes, v.opt_out IS NOT NULL) AS opt_out,
               coalesce(v.referred_by, '') AS referred_by,
               v.nm IS NULL AND p.address IS NULL AND e.email IS NULL AS dropped
        FROM c_v v
        CROSS JOIN LATERAL (SELECT CASE WHEN v.plain THEN split_part(v.email, '@', 1) || '@'
                                        || lower(split_part(v.email, '@', 2)) END AS address) p
        LEFT JOIN c_email e ON e.t = v.email AND NOT v.plain
        LEFT JOIN c_name n ON n.t = v.nm
        LEFT JOIN c_opt o ON o.t = v.opt_out
        LEFT JOIN c_day d ON d.t = v.connected_on
        LEFT JOIN c_label l ON l.t = v.relationship"""
    )
    refused = con.execute(
        """SELECT row_no, cell, why, dropped, nm, control, opt_text, bad_opt FROM c_r
        WHERE why IS NOT NULL OR dropped OR control OR bad_opt ORDER BY row_no"""
    ).fetchall()
    rows = con.execute(
        """SELECT contact_id, address, name, first_name, company, title, relationship, phone,
               notes, linkedin, connected_on, opt_out, NOT control AND address IS NOT NULL,
               CASE WHEN control THEN 'control characters in name'
                    WHEN address IS NULL THEN 'no valid email address' END,
               row_no::INTEGER, referred_by
        FROM c_r WHERE NOT dropped ORDER BY row_no"""
    ).fetchall()
    return rows, refused


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
    display, address = _parseaddr(reference) if bracketed else ("", reference)
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


# ---------------------------------------------------------------------------------------------
# The conversations sheet, set-wise (issue 11): DuckDB reads the file into a temporary table;
# each distinct contact, date, kind, time and referral cell is judged once here, by the same
# functions as above; rows whose every cell is decided become records by joins, inside DuckDB.
# The result is exactly what `_interactions` gives, or that is what runs instead: whenever a
# contact a referral creates would change what a cell elsewhere finds (so the sheet's order
# would matter), the sheet is read row by row after all.

_NULL = "\x01"  # stands for an empty cell in the look-up tables (no staged file holds it)


def validate_staged(con: duckdb.DuckDBPyConnection, out: Validated, bounded: bool = False) -> None:
    """Judge the staged conversations sheet on the store's connection (its temp tables).
    `bounded`: DuckDB's memory is limited for this sync, and running out is the caller's
    to handle (the sync is done again without the limit), not a reason to read row by row."""
    from breadcrumbs.store.database import duckdb  # the engine, without its Python layer

    run = out.staged
    if run is None or run.done:
        return
    try:
        decided = _staged(con, out, run)
    except duckdb.OutOfMemoryException:
        if bounded:
            _forget_cells()
            raise
        decided = False
    except duckdb.Error:  # a file DuckDB reads otherwise than expected: row by row
        decided = False
    _forget_cells()
    if not decided:
        _drop_scratch(con)
        _per_row_instead(out, run)


def _per_row_instead(out: Validated, run: StagedRun) -> None:
    from breadcrumbs.sources.read import _read_csv, understand

    table = understand(_read_csv(run.sheet.path, run.sheet.name, run.sheet.file))
    tail = out.rejects[run.reject_at :]
    del out.rejects[run.reject_at :]
    _interactions(table, out, run.people, run.slash_dates)
    out.rejects.extend(tail)
    out.contacts = list(run.people.by_id.values())
    out.staged = None
    _forget_cells()


def _undecided(why: str) -> bool:
    """Not decided set-wise (`why` says what for whoever debugs it): read row by row."""
    return False


def _look(people: _Contacts, text: str) -> tuple[str | None, str | None]:
    """What `find` says of a cell: (contact id, None), (None, why it is ambiguous), or
    (None, None) for nobody."""
    try:
        return people.find(text), None
    except AmbiguousName as exc:
        return None, exc.reason()


def _copy(people: _Contacts) -> _Contacts:
    copy = _Contacts()
    copy.by_id = dict(people.by_id)
    copy.by_email = dict(people.by_email)
    copy.by_name = {k: list(v) for k, v in people.by_name.items()}
    copy._ambiguous = dict(people._ambiguous)
    return copy


def _table(
    con: duckdb.DuckDBPyConnection, name: str, columns: str, data: Sequence[Sequence[object]]
) -> None:
    """A temporary look-up table from Python lists, one per column (`columns`: name type, ...)."""
    parts = [c.strip().split() for c in columns.split(",")]
    unnests = ", ".join(f"unnest(${i}::{t}[]) AS {n}" for i, (n, t) in enumerate(parts, 1))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {unnests}", list(data))


def _staged(con: duckdb.DuckDBPyConnection, out: Validated, run: StagedRun) -> bool:
    sheet, file = run.sheet, run.sheet.file
    if not _read_staged(con, "CREATE OR REPLACE TEMP TABLE _st_all", sheet, _SHEET_CELLS):
        return _undecided("shape")  # DuckDB split a line otherwise than the csv module would
    # A row is numbered as the csv module numbers it: the header is row 1, no line is blank
    # or split (stage_csv); blank rows are skipped, their numbers kept.
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _st AS SELECT rowid + 2 AS row_no, contact, date, kind, "
        'topic, notes, referrals, "time" FROM _st_all WHERE NOT blank'
    )
    from breadcrumbs.judged import key as judgement_key
    from breadcrumbs.judged import reuse as reuse_judgement

    run.key = judgement_key(con, out, run)
    if reuse_judgement(con, out, run):
        return True  # judged as the last sync judged it: its tables hold the outcome

    # Each distinct cell judged once, against everyone known before the sheet.
    whos = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT contact FROM _st WHERE contact IS NOT NULL"
        ).fetchall()
    ]
    found = {w: _look(run.people, w) for w in whos}
    dates = [r[0] for r in con.execute("SELECT DISTINCT date FROM _st").fetchall()]
    read: list[date | str] = []
    for text in dates:
        try:
            read.append(_parse_date(text, run.slash_dates))
        except ValueError as exc:
            read.append(str(exc))
    if any(isinstance(d, date) and d.year < 1000 for d in read):
        return _undecided("year")  # an id's date: DuckDB and isoformat agree from 1000 on
    _table(
        con,
        "_st_dates",
        "t VARCHAR, d DATE, why VARCHAR",
        [
            [_NULL if t is None else t for t in dates],
            [d if isinstance(d, date) else None for d in read],
            [d if isinstance(d, str) else None for d in read],
        ],
    )
    kinds = [r[0] for r in con.execute("SELECT DISTINCT kind FROM _st").fetchall()]
    _table(
        con,
        "_st_kinds",
        "t VARCHAR, kind VARCHAR",
        [
            [_NULL if k is None else k for k in kinds],
            [fold_name(k or "") or "conversation" for k in kinds],
        ],
    )

    # Row by row, a conversation whose contact is not known yet waits for a second pass, in
    # case a later row's referral creates them. A contact cell that only finds someone a
    # referral created (`late`) is such a row when that referral comes after it: its pass is
    # worked out from where the creation happened, and checked against a new judgement until
    # the two agree.
    late: dict[str, str] = {}  # contact cell -> the created contact it finds in the end
    passes: dict[int, int] = {}  # row -> 0, 1 (second pass) or 2 (still unknown then)
    for _ in range(4):
        judged = _judge(con, out, run, file, whos, found, late, passes)
        if judged is None:
            return False
        sim, scratch, outcome, created_at = judged
        wanted: dict[str, str] = {}
        for w in whos:
            now = _look(sim, w)
            if now == found[w]:
                continue
            if found[w] == (None, None) and now[0] in created_at:
                wanted[w] = str(now[0])
                continue
            return _undecided(f"contact {w!r}")  # a referral changed whom this cell names
        rows = (
            con.execute(
                "SELECT s.row_no, s.contact FROM _st s "
                "WHERE s.contact IN (SELECT unnest($1::VARCHAR[]))",
                [list(wanted)],
            ).fetchall()
            if wanted
            else []
        )
        should: dict[int, int] = {}
        for row_no, who in rows:
            key = created_at[wanted[who]]
            should[row_no] = 0 if key < (0, row_no, -1) else 1 if key < (1, row_no, -1) else 2
        if wanted == late and should == passes:
            break
        late, passes = wanted, should
    else:
        return _undecided("passes")
    # Every cell is judged: what the look-ups remembered, and the cells, are no use now, and
    # Python's memory adds to DuckDB's at the joins below (peak memory, issue 11).
    del found, whos, late, passes, judged, dates, read, kinds
    _forget_cells()

    # Rejects, in the order a row-by-row read gives them: (pass, row, cell, reject). Each
    # fetched row brings its own copy of a text many rows share (an ambiguous name's reason
    # runs to 400 characters, on 120,000 rows of a million): one copy of each is kept.
    rejects: list[tuple[tuple[int, int, int, int], Reject]] = []
    texts: dict[str, str] = {}
    once = texts.setdefault
    for row_no, who, cid, why, text, bad, step in con.execute(
        f"""SELECT s.row_no, s.contact, w.cid, w.why, s.date, d.why, coalesce(p.pass, 0)
        FROM _st s
        LEFT JOIN _st_who w ON w.contact = s.contact
        LEFT JOIN _st_pass p ON p.row_no = s.row_no
        LEFT JOIN _st_dates d ON d.t = coalesce(s.date, '{_NULL}')
        WHERE s.contact IS NULL OR w.cid IS NULL OR d.d IS NULL OR p.pass = 2"""
    ).fetchall():
        if who is None:
            r, order = Reject(file, row_no, "contact", "", "no contact named", "row"), 0
        elif why is not None:
            r, order = Reject(file, row_no, "contact", once(who, who), once(why, why), "row"), 0
        elif cid is None or step == 2:
            unknown = "unknown contact: add them to contacts first"
            r, order = Reject(file, row_no, "contact", once(who, who), unknown, "row"), 1
        else:
            why = f"unparseable date: {bad}"
            r = Reject(file, row_no, "date", once(text or "", text or ""), once(why, why), "row")
            order = step
        rejects.append(((order, row_no, 0, 0), r))
    del texts, once
    # Each scratch table dropped once its last reader has run: DuckDB holds them in memory.
    _drop(con, "_st_all", "_st_who", "_st_pass", "_st_dates", "_st_kinds")
    for row_no, step, text, bad in con.execute(
        'SELECT v.row_no, v.pass, v."time", t.why FROM _st_v v JOIN _st_win w USING (iid, row_no) '
        'JOIN _st_times t ON t.t = v."time" WHERE t.why IS NOT NULL'
    ).fetchall():
        r = Reject(file, row_no, "time", text, f"unreadable time: {bad}", "cell")
        rejects.append(((step, row_no, 0, 0), r))
    refused = [c for c, (rid, why) in outcome.items() if why]
    _table(
        con,
        "_st_refused",
        "cell VARCHAR, every BOOLEAN",
        [refused, [outcome[c][0] is None for c in refused]],
    )
    for row_no, step, idx, at_row, cell in con.execute(
        """SELECT o.row_no, o.pass, o.idx, o.at_row, o.cell
        FROM _st_occ o JOIN _st_refused r USING (cell)
        QUALIFY r.every OR (o.pass, o.row_no, o.idx) = min((o.pass, o.row_no, o.idx))
                                                       OVER (PARTITION BY o.cell)"""
    ).fetchall():
        for k, template in enumerate(outcome[cell][1]):
            r = Reject(
                file, at_row, template.column, template.value, template.reason, template.severity
            )
            rejects.append(((step, row_no, idx, k), r))
    _drop(con, "_st_refused")
    rejects.sort(key=lambda pair: pair[0])

    # The records, inside DuckDB.
    named = [c for c, (rid, _) in outcome.items() if rid is not None]
    _table(con, "_st_rid", "cell VARCHAR, rid VARCHAR", [named, [outcome[c][0] for c in named]])
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _st_referrals AS
        SELECT o.cid AS referrer_id, r.rid AS referred_id, o.iid AS interaction_id,
               ($r0 + row_number() OVER (ORDER BY o.pass, o.row_no, o.idx) - 1)::INTEGER AS seq
        FROM _st_occ o JOIN _st_rid r USING (cell) WHERE r.rid <> o.cid""",
        {"r0": len(out.referrals)},
    )
    _drop(con, "_st_occ", "_st_rid")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _st_interactions AS
        SELECT v.iid AS interaction_id, v.cid AS contact_id, v.d AS date, v.kind,
               coalesce(v.topic, '') AS topic, coalesce(v.notes, '') AS notes,
               $file AS source_file, v.row_no::INTEGER AS source_row, t.tm AS time,
               v.pass AS pass
        FROM _st_v v JOIN _st_win w USING (iid, row_no) LEFT JOIN _st_times t ON t.t = v."time"
        ORDER BY v.pass, v.row_no
        """,  # the per-row path's order, every time: the joins' order varied between runs,
        # so the table's physical order (what ties in a list fall back to) did too
        {"file": file},
    )
    row = con.execute(
        "SELECT (SELECT count(*) FROM _st_v), (SELECT count(*) FROM _st_interactions), "
        "(SELECT count(*) FROM _st_referrals)"
    ).fetchone()
    assert row is not None
    _drop_scratch(con)
    run.merged, run.created, run.rejects = int(row[0]) - int(row[1]), scratch.created, len(rejects)
    out.merged += run.merged
    out.created += run.created
    run.interactions, run.referrals, run.done = int(row[1]), int(row[2]), True
    out.rejects[run.reject_at : run.reject_at] = [r for _, r in rejects]
    out.contacts = list(sim.by_id.values())
    run.people = sim
    return True


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    _drop(con, *_SCRATCH)


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Scratch tables no later statement reads (`_st_all` takes the view over it along)."""
    for table in tables:
        if table == "_st_all":
            con.execute("DROP VIEW IF EXISTS _st")
        con.execute(f"DROP TABLE IF EXISTS {table}")


_SCRATCH = (
    "_st_all",
    "_st_who",
    "_st_pass",
    "_st_dates",
    "_st_kinds",
    "_st_v",
    "_st_win",
    "_st_times",
    "_st_occ",
    "_st_refused",
    "_st_rid",
)

Key = tuple[int, int, int]


def _judge(
    con: duckdb.DuckDBPyConnection,
    out: Validated,
    run: StagedRun,
    file: str,
    whos: list[str],
    found: dict[str, tuple[str | None, str | None]],
    late: dict[str, str],
    passes: dict[int, int],
) -> tuple[_Contacts, Validated, dict[str, tuple[str | None, list[Reject]]], dict[str, Key]] | None:
    """The sheet's conversations and referral cells for one guess of which rows wait for the
    second pass: everyone afterwards, the referral cells' outcomes, and where (pass, row,
    cell) each contact a referral created was created. None: the sheet's order matters in a
    way this does not follow (read row by row instead)."""
    _table(
        con,
        "_st_who",
        "contact VARCHAR, cid VARCHAR, why VARCHAR",
        [whos, [late.get(w, found[w][0]) for w in whos], [found[w][1] for w in whos]],
    )
    _table(con, "_st_pass", "row_no BIGINT, pass INTEGER", [list(passes), list(passes.values())])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _st_v AS
        SELECT s.row_no, coalesce(p.pass, 0) AS pass, w.cid, d.d, k.kind,
               'i:' || left(sha1(w.cid || chr(31) || CAST(d.d AS VARCHAR) || chr(31) || k.kind), 16)
                 AS iid,
               s.topic, s.notes, s."time", s.referrals
        FROM _st s JOIN _st_who w ON w.contact = s.contact
        LEFT JOIN _st_pass p ON p.row_no = s.row_no
        JOIN _st_dates d ON d.t = coalesce(s.date, '{_NULL}')
        JOIN _st_kinds k ON k.t = coalesce(s.kind, '{_NULL}')
        WHERE w.cid IS NOT NULL AND d.d IS NOT NULL AND coalesce(p.pass, 0) < 2"""
    )
    # The first row of each conversation is the one kept (later ones are merged into it).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _st_win AS "
        "SELECT iid, arg_min(row_no, (pass, row_no)) AS row_no FROM _st_v GROUP BY iid"
    )
    times = [
        str(r[0])
        for r in con.execute(
            'SELECT DISTINCT v."time" FROM _st_v v JOIN _st_win w USING (iid, row_no) '
            'WHERE v."time" IS NOT NULL'
        ).fetchall()
    ]
    when: list[time | str] = []
    for text in times:
        try:
            when.append(parse_time(text))
        except ValueError as exc:
            when.append(str(exc))
    _table(
        con,
        "_st_times",
        "t VARCHAR, tm TIME, why VARCHAR",
        [
            times,
            [t if isinstance(t, time) else None for t in when],
            [t if isinstance(t, str) else None for t in when],
        ],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _st_occ AS
        WITH parts AS (
            SELECT v.row_no, v.pass, v.iid, v.cid,
                   unnest(string_split(v.referrals, ';')) AS cell,
                   generate_subscripts(string_split(v.referrals, ';'), 1) AS idx
            FROM _st_v v WHERE v.referrals IS NOT NULL)
        SELECT p.row_no, p.pass, p.idx, trim(p.cell) AS cell, p.iid, p.cid, w.row_no AS at_row
        FROM parts p JOIN _st_win w USING (iid) WHERE trim(p.cell) <> ''"""
    )
    firsts = con.execute(
        "SELECT cell, arg_min(at_row, (pass, row_no, idx)), min((pass, row_no, idx)) "
        "FROM _st_occ GROUP BY cell ORDER BY min((pass, row_no, idx))"
    ).fetchall()

    # Referral cells in the order the sheet first names them: the contacts they create are
    # created in that order, as row by row; `sim` is everyone afterwards.
    sim, scratch = _copy(run.people), Validated()
    outcome: dict[str, tuple[str | None, list[Reject]]] = {}
    created_at: dict[str, Key] = {}
    seen: dict[str, tuple[str | None, str | None]] = {}  # what each cell found the first time
    for cell, at_row, first in firsts:
        count, made = len(scratch.rejects), scratch.created
        stub = Interaction("", "", date.min, "", "", "", file, int(at_row))
        rid = _referred_contact(cell, stub, scratch, sim, "referrals")
        outcome[cell] = (rid, scratch.rejects[count:])
        if scratch.created > made and rid is not None:
            created_at[rid] = tuple(int(k) for k in first)  # type: ignore[assignment]
        # Nobody was created unless `rid` is: looked up now, the cell finds what it found.
        seen[cell] = (rid, None) if rid is not None else _look(sim, cell)
    # Every later mention finds what the first found or created, or is refused the same way:
    # so it does once every contact is created (the tables only grow in between).
    for cell, first_found in seen.items():
        if _look(sim, cell) != first_found:
            _undecided(f"referral {cell!r}")
            return None
    return sim, scratch, outcome, created_at


def materialize_staged(con: duckdb.DuckDBPyConnection, out: Validated) -> None:
    """The staged records as Python records after all (identity's rewrite needs them):
    conversations in the order a row-by-row read makes them, referrals by seq."""
    run = out.staged
    if run is None or not run.done:
        return
    if run.reused:  # the last sync's records, in its tables
        from breadcrumbs.judged import materialize

        materialize(con, out)
        drop_staged(con, out)
        return
    out.interactions.extend(
        Interaction(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        for r in con.execute(
            "SELECT interaction_id, contact_id, date, kind, topic, notes, source_file, "
            "source_row, time FROM _st_interactions ORDER BY pass, source_row"
        ).fetchall()
    )
    out.referrals.extend(
        Referral(*r)
        for r in con.execute(
            "SELECT referrer_id, referred_id, interaction_id, seq FROM _st_referrals ORDER BY seq"
        ).fetchall()
    )
    drop_staged(con, out)


def forget_staged(con: duckdb.DuckDBPyConnection, out: Validated) -> None:
    """Every temporary table of the staged sheet, wherever its judgement or load stopped."""
    _drop_scratch(con)
    con.execute("DROP TABLE IF EXISTS _st_interactions")
    con.execute("DROP TABLE IF EXISTS _st_referrals")


def drop_staged(con: duckdb.DuckDBPyConnection, out: Validated) -> None:
    if out.staged is not None and out.staged.done:
        _drop_scratch(con)  # a reused judgement's `_st_all`
        con.execute("DROP TABLE IF EXISTS _st_interactions")
        con.execute("DROP TABLE IF EXISTS _st_referrals")
    out.staged = None
