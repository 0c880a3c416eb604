"""Which column is which: header folding, aliases, export signatures (sources/headers.py)."""

from __future__ import annotations

import pytest

from breadcrumbs.sources.headers import find_header_row, fold, map_headers


@pytest.mark.parametrize(
    ("header", "folded"),
    [
        ("Email", "email"),
        ("  EMAIL  ", "email"),
        ("E-mail", "e_mail"),
        ("E-mail 1 - Value", "e_mail_1_value"),
        ("e_mail_1_value", "e_mail_1_value"),
        ("\ufeffEmail Address", "email_address"),
        ("Email:", "email"),
        ("First  Name", "first_name"),
        ("Referred-By", "referred_by"),
        (None, ""),
    ],
)
def test_a_header_folds_case_spacing_and_punctuation_away(header: object, folded: str) -> None:
    """Headers compare after folding case, spaces, punctuation and Excel's BOM."""
    assert fold(header) == folded


def _canonical(table: str, header: str) -> str | None:
    return map_headers(table, [header]).columns.get(0)


@pytest.mark.parametrize(
    ("table", "header", "canonical"),
    [
        ("contacts", "Email", "email"),
        ("contacts", "E-mail", "email"),
        ("contacts", "e-mail", "email"),
        ("contacts", "Email Address", "email"),
        ("contacts", "EMAIL ADDRESS", "email"),
        ("contacts", "E-mail Address", "email"),
        ("contacts", "Mail", "email"),
        ("contacts", "Name", "name"),
        ("contacts", "Full Name", "name"),
        ("contacts", "First Name", "first_name"),
        ("contacts", "first name", "first_name"),
        ("contacts", "Given Name", "first_name"),
        ("contacts", "Last Name", "last_name"),
        ("contacts", "Surname", "last_name"),
        ("contacts", "Organization", "company"),
        ("contacts", "Employer", "company"),
        ("contacts", "Job Title", "title"),
        ("contacts", "Position", "title"),
        ("contacts", "How we know", "relationship"),
        ("contacts", "Circle", "relationship"),
        ("contacts", "Referred By", "referred_by"),
        ("contacts", "Introduced by", "referred_by"),
        ("contacts", "Mobile", "phone"),
        ("contacts", "Phone Number", "phone"),
        ("contacts", "Comments", "notes"),
        ("contacts", "Opt-Out", "opt_out"),
        ("contacts", "Unsubscribed", "opt_out"),
        ("contacts", "Do not email", "opt_out"),
        ("interactions", "Date", "date"),
        ("interactions", "When", "date"),
        ("interactions", "Who", "contact"),
        ("interactions", "Contact Email", "contact"),
        ("interactions", "Type", "kind"),
        ("interactions", "Subject", "topic"),
        ("interactions", "What we discussed", "topic"),
        ("interactions", "Private notes", "notes"),
        ("interactions", "Who else", "referrals"),
        ("interactions", "Suggested contacts", "referrals"),
        ("prospects", "Organisation", "company"),
        ("prospects", "Position", "role"),
        ("prospects", "Status", "stage"),
        ("prospects", "Want referral", "referral_wanted"),
        ("prospects", "Can share", "share"),
    ],
)
def test_a_header_alias_names_its_canonical_column(table: str, header: str, canonical: str) -> None:
    """Common aliases of each canonical column are recognised, whatever their case."""
    assert _canonical(table, header) == canonical


@pytest.mark.parametrize("header", ["Birthday", "Favourite colour", "Address 1 - Street", ""])
def test_an_unknown_header_maps_to_nothing(header: str) -> None:
    """A column Breadcrumbs has no use for is ignored, not guessed at."""
    assert _canonical("contacts", header) is None


@pytest.mark.parametrize(
    ("header", "export"),
    [
        (
            [
                "First Name",
                "Last Name",
                "URL",
                "Email Address",
                "Company",
                "Position",
                "Connected On",
            ],
            "linkedin",
        ),
        (["First Name", "Last Name", "Organization Name", "E-mail 1 - Value"], "google"),
        (["Name", "Given Name", "Family Name", "E-mail 1 - Value"], "google"),
        (["Title", "First Name", "Last Name", "Company", "Job Title", "E-mail Address"], "outlook"),
        (["email", "name", "company"], "generic"),
    ],
)
def test_an_export_is_recognised_by_its_signature_headers(header: list[str], export: str) -> None:
    """LinkedIn, Google Contacts and Outlook exports are told apart by their headers."""
    assert map_headers("contacts", header).export == export


def test_outlooks_title_column_is_an_honorific_not_the_job() -> None:
    """In an Outlook export `Title` ("Dr.") is ignored and `Job Title` is the title."""
    header = ["Title", "First Name", "Last Name", "Job Title", "E-mail Address"]
    columns = map_headers("contacts", header).columns
    assert 0 not in columns
    assert columns[3] == "title"


def test_a_users_sheet_that_looks_like_linkedins_export_keeps_its_email_column() -> None:
    """`email, first name, last name, connected on` carries LinkedIn's signature by chance:
    the addresses must still be read, or every person in it becomes unmailable."""
    mapping = map_headers("contacts", ["email", "first_name", "last_name", "connected_on"])
    assert mapping.columns == {
        0: "email",
        1: "first_name",
        2: "last_name",
        3: "connected_on",
    }


def test_a_real_linkedin_export_maps_only_its_own_columns() -> None:
    """LinkedIn's own export reads its Email Address and URL; nothing else is guessed."""
    header = [
        "First Name",
        "Last Name",
        "URL",
        "Email Address",
        "Company",
        "Position",
        "Connected On",
    ]
    columns = map_headers("contacts", header).columns
    assert columns == {
        0: "first_name",
        1: "last_name",
        2: "linkedin",
        3: "email",
        4: "company",
        5: "title",
        6: "connected_on",
    }


def test_a_backup_email_column_comes_after_the_first_in_preference() -> None:
    """Outlook's E-mail 2 Address is mapped to email after E-mail Address, as a fallback."""
    header = ["E-mail 2 Address", "Job Title", "E-mail Address"]
    columns = map_headers("contacts", header).columns
    assert [i for i, c in columns.items() if c == "email"] == [2, 0]


def test_a_sheet_with_name_and_first_last_keeps_all_three() -> None:
    """A sheet with Name and First/Last Name maps all of them; validate prefers Name."""
    columns = map_headers("contacts", ["Name", "First Name", "Last Name", "Email"]).columns
    assert sorted(columns.values()) == ["email", "first_name", "last_name", "name"]


@pytest.mark.parametrize(
    ("records", "index"),
    [
        ([["email", "name"], ["a@example.com", "A"]], 0),
        ([["Contacts of Sam, 2026"], [], ["Email", "Name", "Company"]], 2),
        (
            [
                ["Notes:"],
                ["When exporting your connection data, you may notice ..."],
                [],
                ["First Name", "Last Name", "URL", "Email Address", "Company", "Connected On"],
            ],
            3,
        ),
        ([["Name"], ["Ada"]], 0),  # a one-column list of people is still a header
        ([["alpha", "beta"], ["1", "2"]], None),
    ],
)
def test_the_header_row_is_found_past_a_preamble(
    records: list[list[object]], index: int | None
) -> None:
    """Title rows and LinkedIn's "Notes:" preamble are skipped to the real header row."""
    assert find_header_row(records, "contacts") == index
