"""The set-wise contacts sheet gives exactly what the row-by-row one gives (issue 11).

A plain contacts CSV is read by DuckDB and judged a distinct cell at a time
(sources/read.py `stage_contacts`, validate.py `_contacts_staged`). Each test reads the same
source both ways and compares every contact (every field, in order), every reject (file,
row, column, value, reason, severity, in order), the merges, the people referrals create and
the referrals; on generated sheets made to be hostile: people on several rows (by address in
any case, by name), bad and odd addresses, control characters, blank names, opt-out words and
nonsense, Google labels, dates, long values, short and long lines, in the generic layout and
the Google, Outlook and LinkedIn ones, as a folder and as a single file.
"""

from __future__ import annotations

import random
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs import validate
from breadcrumbs.sources import read
from breadcrumbs.sync import run_sync
from breadcrumbs.validate import Validated
from tests.test_sync_staged import fingerprint, report_of

LAYOUTS = {
    # layout: header; each person is written into it by `cells`
    "generic": "email,name,first_name,last_name,company,title,relationship,referred_by,phone,"
    "opt_out,connected_on,notes,linkedin",
    "parts": "email,first_name,middle_name,last_name,company,relationship,opt_out",
    "google": "Name,Given Name,Family Name,E-mail 1 - Value,E-mail 2 - Value,Labels,"
    "Organization 1 - Name,Organization 1 - Title,Phone 1 - Value,Notes",
    "outlook": "First Name,Middle Name,Last Name,E-mail Address,E-mail 2 Address,Job Title,"
    "Company,Categories,Mobile Phone,Notes",
    "linkedin": "First Name,Last Name,Email Address,Company,Position,URL,Connected On",
}

EMAILS = [
    "ada@example.org",
    "ADA@Example.ORG",  # the same person as above, by address in another case
    "Ada@example.org",  # ... and another local case: kept as the first row wrote it
    "bo.sun+tag@mail.example.com",
    "cy_d-e@sub.Domain.co",
    "x@@example.com",
    "no-at-sign",
    "a..b@example.com",
    "a.@example.com",
    ".a@example.com",
    "a@localhost",
    "a@foo.test",
    "a@foo.Internal",
    "a@xn--bcher-kva.example",
    "a@a--b.example",
    "a@-bad.example",
    "a@bad-.example",
    "jörg@bücher.example",
    "Ann Lee <ann@example.com>",
    "Ann <ann@@example.com>",
    "first@example.com ::: second@example.com",
    "bad@@x ::: second@example.com",
    "one@example.com; two@example.com",
    "l" * 64 + "@example.com",
    "l" * 65 + "@example.com",
    "a@" + "d" * 63 + ".example",
    "a@" + "d" * 64 + ".example",
    "a@" + ".".join(["d" * 60] * 4) + ".com",  # 254 characters
    "ab@" + ".".join(["d" * 60] * 4) + ".com",  # 255
    "a@b.c",
    "a@b.co1",
    "a@b..com",
    "1@2.io",
    "a+b@c.museum",
    "é@example.com",
    "tab\tinside@example.com",
    "a@b.com.",
    "",
    "",
    "",
]
NAMES = [
    "Ada Adams",
    "ada  ADAMS",
    "Bo Sun",
    "Ann Lee",
    "Ann Lee",
    "Ｃｙ Dee",  # folds (NFKC) to "cy dee"
    "Cy Dee",
    "Evil\u202eName",
    "Bell\x07Ringer",
    "O'Brien",
    "Zoë Ünal",
    "",
    "",
    "",
    "N" * 600,
]
FLAGS = ["", "", "", "yes", "No", "opted out", "✓", "X", "maybe", "  ", "0", "unsubscribed"]
LABELS = ["", "friend", "* myContacts ::: Coworkers", "* starred", "a ::: b ::: * c", " ::: "]
DAYS = ["", "2022-10-20", "20 Oct 2022", "10/20/2022", "soon", "2022-02-30", "0999-01-01"]
COMPANIES = ["", "Acme", "ACME", "Globex", "Initech Ltd", "Globex  "]
PHONES = ["", "+1 555 0100", "+1 555 0100 ::: +1 555 0199", " ::: 5"]
REFERRERS = ["", "", "", "Ada Adams", "ada@example.org", "Ann Lee", "New Person", "x@@y", "Bo Sun"]


def person(rng: random.Random, layout: str) -> list[str]:
    """One row of a contacts sheet in `layout`, from the hostile pools above."""
    name = rng.choice(NAMES)
    first, _, last = name.partition(" ")
    email = rng.choice(EMAILS).replace("\t", " ")
    company, title = rng.choice(COMPANIES), rng.choice(["", "CTO", "VP Sales"])
    notes = rng.choice(["", "met at the spring meetup", "long " * 130])
    label, phone = rng.choice(LABELS), rng.choice(PHONES)
    if layout == "generic":
        return [
            email,
            name,
            rng.choice(["", first]),
            last,
            company,
            title,
            label,
            rng.choice(REFERRERS),
            phone,
            rng.choice(FLAGS),
            rng.choice(DAYS),
            notes,
            rng.choice(["", "https://www.linkedin.com/in/x"]),
        ]
    if layout == "parts":
        return [email, first, rng.choice(["", "Q"]), last, company, label, rng.choice(FLAGS)]
    if layout == "google":
        second = rng.choice(["", "backup@example.com", "x@@"])
        return [name, first, last, email, second, label, company, title, phone, notes]
    if layout == "outlook":
        second = rng.choice(["", "backup@example.com"])
        return [first, "", last, email, second, title, company, label, phone, notes]
    return [first, last, email, company, title, "https://x.example/in/y", rng.choice(DAYS)]


def contacts_text(seed: int, layout: str, rows: int = 160, crlf: bool = False) -> str:
    """A plain contacts sheet (no quote character): people, repeats, short and long lines."""
    rng = random.Random(seed)
    people = [person(rng, layout) for _ in range(rows)]
    for _ in range(rows // 5):  # the same row again, or again with a cell changed
        again = list(rng.choice(people))
        if rng.random() < 0.5:
            again[rng.randrange(len(again))] = rng.choice(COMPANIES + NAMES[:3])
        people.insert(rng.randrange(len(people) + 1), again)
    for row in people:
        if rng.random() < 0.05:
            del row[rng.randrange(1, len(row)) :]  # fewer cells than the header
            if not "".join(row).strip():
                row[0] = "x"  # a blank line is read row by row (tested below)
        elif rng.random() < 0.05:
            row.extend(["an extra cell"] * rng.randint(1, 3))
    width = len(LAYOUTS[layout].split(","))
    for _ in range(2):  # nobody: no name and no email (a blank line is read row by row)
        people.insert(rng.randrange(len(people)), [" "] * (width - 1) + ["x"])
    end = "\r\n" if crlf else "\n"
    text = end.join(",".join(r) for r in [LAYOUTS[layout].split(","), *people]) + end
    assert '"' not in text
    return text


def records(out: Validated) -> tuple[object, ...]:
    return (
        [astuple(c) for c in out.contacts],
        [astuple(r) for r in out.rejects],
        out.merged,
        out.created,
        [astuple(r) for r in out.referrals],
    )


def both_ways(
    source: Path, monkeypatch: pytest.MonkeyPatch, staged: bool = True
) -> tuple[object, ...]:
    """Validate `source` row by row and set-wise; they must agree. `staged`: whether the
    set-wise read must take the staged path (else it must fall back to row by row)."""
    expected = records(validate.validate(read.read_source(str(source))))
    fell_back = []
    real = validate._rows_of

    def spy(sheet: object) -> object:
        fell_back.append(sheet)
        return real(sheet)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "_rows_of", spy)
    tables = read.read_source(str(source), stage=True)
    took = any(t.name == "contacts" and t.staged is not None for t in tables)
    got = records(validate.validate(tables))
    assert got == expected
    assert took and not fell_back if staged else not (took and not fell_back)
    return got


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("seed", [1, 2])
def test_a_hostile_contacts_sheet_judges_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, seed: int
) -> None:
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "contacts.csv").write_bytes(contacts_text(seed, layout, crlf=seed == 2).encode())
    contacts, rejects, merged, _, _ = both_ways(folder, monkeypatch)
    assert contacts and merged  # a sheet of people, some on several rows
    # Every kind of refusal the pools can make is made.
    if layout in ("generic", "parts"):
        reasons = {str(r[4]).split(":")[0] for r in rejects}  # type: ignore[attr-defined]
        assert {"invalid email", "no name and no email", "control characters in name"} <= reasons
        assert "not a yes/no value" in reasons and "conflict" in reasons


def test_a_single_contacts_file_and_a_folder_with_conversations_load_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = tmp_path / "people.csv"
    single.write_text(contacts_text(3, "google"))
    both_ways(single, monkeypatch)
    # A whole sync: the conversations are judged against the people the sheet gave.
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "contacts.csv").write_text(contacts_text(4, "generic"))
    talks = ["date,contact,kind,referrals"]
    rng = random.Random(4)
    for day in range(300):
        who, named = rng.choice(NAMES + EMAILS[:6]), rng.choice(REFERRERS)
        talks.append(f"2026-{1 + day % 12:02d}-{1 + day % 28:02d},{who},call,{named}")
    (folder / "interactions.csv").write_text("\n".join(talks) + "\n")
    reports = []
    for name, stage in (("per-row", False), ("set-wise", True)):
        from breadcrumbs.settings import Workspace
        from breadcrumbs.workspace import init_workspace

        ws = Workspace(tmp_path / name)
        init_workspace(ws)
        with monkeypatch.context() as m:
            if not stage:
                m.setattr(read, "stage_contacts", lambda *_: None)
            reports.append((report_of(run_sync(ws, str(folder))), fingerprint(ws)))
    assert reports[0] == reports[1]


@pytest.mark.parametrize(
    ("why", "text"),
    [
        ("a quoted cell", 'email,name\na@example.com,"Lee, Ann"\n'),
        ("a blank line of commas", "email,name\na@example.com,Ann\n,\nb@example.com,Bo\n"),
        ("a tab in a cell", "email,name\na@example.com,Ann\tLee\n"),
        ("a byte-order mark", "\ufeffemail,name\na@example.com,Ann\n"),
        ("a lone carriage return", "email,name\r\na@example.com,Ann\nb@example.com,Bo\r\n"),
        ("no name column", "company,title\nAcme,CTO\n"),
    ],
)
def test_a_contacts_sheet_duckdb_would_read_otherwise_is_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str, text: str
) -> None:
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "contacts.csv").write_bytes(text.encode())
    if why == "no name column":  # refused with the same words either way
        with pytest.raises(read.SourceError, match="no email and no name column"):
            read.read_source(str(folder), stage=True)
        return
    both_ways(folder, monkeypatch, staged=False)


def test_a_line_duckdb_splits_otherwise_falls_back_inside_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the header's cells and the room kept for more: DuckDB's count disagrees."""
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "contacts.csv").write_text("email,name\na@example.com,Ann" + ",x" * 12 + "\n")
    tables = read.read_source(str(folder), stage=True)
    assert tables[0].staged is not None
    both_ways(folder, monkeypatch, staged=False)


# Addresses made of the characters that decide plainness: the SQL test against plain_email.
@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="aZ9._+-@é", min_size=1, max_size=10),
            st.tuples(
                st.text(alphabet="aZ9._+-", min_size=1, max_size=8),
                st.text(alphabet="aZ9.-", min_size=1, max_size=8),
                st.sampled_from(["com", "Co", "test", "LOCAL", "io", "c", "x1"]),
            ).map(lambda t: f"{t[0]}@{t[1]}.{t[2]}"),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_address_is_judged_the_same_in_sql_and_in_python(emails: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as m:
        single = Path(scratch) / "people.csv"
        single.write_text("email,name\n" + "".join(f"{e},Someone\n" for e in emails))
        if read.stage_contacts(single, "people.csv") is None:
            return  # "@" alone and the like never make a plain file unplain; this is rare
        both_ways(single, m)


ODD = ['"', "\x00", "\x01", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0"]
ODD += ["\u1680", "\u205f", "\u3000", *(chr(c) for c in range(0x2000, 0x200B))]
ODD += ["\u2028", "\u2029", "\u202f"]


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("other", ["", "Zoë ", "\u2010"])  # ASCII only, or other text too
def test_a_sheet_with_a_quote_a_nul_or_odd_whitespace_is_never_staged(
    tmp_path: Path, odd: str, other: str
) -> None:
    """stage_csv's one-pass look for odd bytes refuses what each search refused."""
    from breadcrumbs.sources import staged

    plain = tmp_path / "plain.csv"
    plain.write_text(f"email,name\na@example.com,{other}Ann Lee\n")
    assert staged.stage_csv(plain, "contacts", "plain.csv") is not None
    path = tmp_path / "contacts.csv"
    path.write_text(f"email,name\na@example.com,{other}Ann{odd}Lee\n")
    assert staged.stage_csv(path, "contacts", "contacts.csv") is None


@pytest.mark.parametrize("text", [b"", b" ", b"\n", b" \r\n \t\x0b\x0c\n"])
def test_a_file_of_nothing_but_whitespace_is_never_staged(tmp_path: Path, text: bytes) -> None:
    from breadcrumbs.sources import staged

    path = tmp_path / "contacts.csv"
    path.write_bytes(text)
    assert staged.stage_csv(path, "contacts", "contacts.csv") is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["row", "cell", "warning", "conflict"]),
            st.sampled_from(["a", "a: x", "a: y", "b", "b:", ":c", "c: a", "", "x: y: z"]),
        ),
        max_size=40,
    )
)
def test_a_report_counts_its_reasons_as_it_always_did(rejects: list[tuple[str, str]]) -> None:
    """sync.SyncReport counts each distinct reason text once, then cuts it: the same counts,
    in the same order (what `breadcrumbs sync` prints), as cutting every reject's reason."""
    from collections import Counter

    from breadcrumbs.records import Reject
    from breadcrumbs.store.database import SyncCounts
    from breadcrumbs.sync import SyncReport

    report = SyncReport(
        "s", SyncCounts(1, 0, 0, 0, 0, 0, 0, 0), [Reject("f", 2, "c", "", r, s) for s, r in rejects]
    )
    rows = Counter(r.split(":")[0] for s, r in rejects if s == "row")
    others = Counter(r.split(":")[0] for s, r in rejects if s != "row")
    assert list(report.reasons.items()) == list(rows.items())
    assert list(report.notices.items()) == list(others.items())
    assert report.reasons.most_common() == rows.most_common()


@pytest.mark.parametrize("name", [b"Ren\xe9", b"Ren\xc3", b"\xff\xfe", b"Ren\xc3\xa9 \x80"])
def test_a_sheet_that_is_not_utf8_is_never_staged(tmp_path: Path, name: bytes) -> None:
    from breadcrumbs.sources import staged

    path = tmp_path / "contacts.csv"
    path.write_bytes(b"email,name\na@example.com," + name + b"\n")
    assert staged.stage_csv(path, "contacts", "contacts.csv") is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"date,contact,kind,topic", b"date;contact;kind;topic", b"email,name"]),
    st.lists(
        st.lists(
            st.sampled_from(
                [
                    *(b"a", b"Zo\xc3\xab", b" ", b",", b";", b"2026-01-02", b"\r", b"\r\n"),
                    *(b"\n", b"\t", b'"', b"\xe2\x80\x90", b"\xe2\x80\x83", b"\xc2\xa0", b"x\ry"),
                ]
            ),
            max_size=8,
        ).map(b"".join),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_stage_csv_counts_as_if_it_counted_the_whole_file(
    tmp_path_factory: pytest.TempPathFactory,
    header: bytes,
    lines: list[bytes],
    end: bytes,
    last_end: bool,
) -> None:
    """stage_csv counts line ends and delimiters in one pass's leftovers (`_NOT_KEPT`
    dropped): the same sheet, or the same refusal, as with nothing dropped (every count then
    over the whole file, as it was)."""
    from breadcrumbs.sources import staged

    path = tmp_path_factory.mktemp("sc") / "sheet.csv"
    path.write_bytes(header + end + end.join(lines) + (end if last_end else b""))
    name = "contacts" if header.startswith(b"email") else "interactions"
    got = staged.stage_csv(path, name, "sheet.csv")
    real = staged._NOT_KEPT
    try:
        staged._NOT_KEPT = b""  # keep every byte: the counts are the whole file's
        whole = staged.stage_csv(path, name, "sheet.csv")
    finally:
        staged._NOT_KEPT = real
    assert got == whole


@pytest.mark.parametrize(
    "text",
    [
        b"date;contact;kind\n2026-01-02;a@example.com;call\n2026-01-03;b@example.com;x;y\n",
        b"date,contact,kind\r\n2026-01-02,a@example.com,call\r\n2026-01-03,b,x,y\r\n",
        b"email,name\na@example.com,Ann\nb@example.com,Bo\n",
    ],
)
def test_a_plain_sheet_is_staged_with_its_lines_and_delimiters(tmp_path: Path, text: bytes) -> None:
    from breadcrumbs.sources import staged

    path = tmp_path / "sheet.csv"
    path.write_bytes(text)
    sheet = staged.stage_csv(path, "contacts" if text[:1] == b"e" else "interactions", "s.csv")
    assert sheet is not None
    assert sheet.lines == text.count(b"\n") - 1
    assert sheet.delimiters == text.count(sheet.delimiter.encode())


@pytest.mark.parametrize(
    "text",
    [
        b"email,name\na@x.com,A\rB\n",
        b"email,name\r\na@x.com,A\rn\n",
        # As many \r as \n, each \r a cell before its \n: no line end, though the bytes
        # stage_csv keeps (a comma, \r, \n) would show "\r\n" twice.
        b"email,name\rX\na@x.com,Ann\rY\n",
    ],
)
def test_a_lone_carriage_return_is_never_staged(tmp_path: Path, text: bytes) -> None:
    from breadcrumbs.sources import staged

    path = tmp_path / "contacts.csv"
    path.write_bytes(text)
    assert staged.stage_csv(path, "contacts", "contacts.csv") is None
