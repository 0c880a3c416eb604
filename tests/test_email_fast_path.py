"""The fast path for plain addresses never accepts what email-validator would refuse."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.validate import plain_email

LOCAL = st.text(alphabet="abcXYZ019._+-!#%&'*/=?^`{|}~\"", min_size=1, max_size=70)
LABEL = st.text(alphabet="abcxyzABC019-_", min_size=1, max_size=70)
TLD = st.sampled_from(
    [
        "com",
        "org",
        "net",
        "io",
        "example",
        "invalid",
        "test",
        "local",
        "c0m",
        "x",
        "Com",
        "xn--p1ai",
        "arpa",
        "onion",
        "internal",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(local=LOCAL, labels=st.lists(LABEL, min_size=0, max_size=3), tld=TLD)
def test_a_plain_address_is_one_email_validator_accepts_the_same_way(
    local: str, labels: list[str], tld: str
) -> None:
    """Whatever the fast path accepts, email-validator accepts, normalised identically."""
    address = f"{local}@{'.'.join([*labels, tld])}"
    fast = plain_email(address)
    if fast is None:
        return
    try:
        slow = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:  # pragma: no cover - the failure this test exists for
        raise AssertionError(f"fast path accepted {address!r}: {exc}") from None
    assert fast == slow


def test_the_fast_path_takes_the_common_addresses() -> None:
    """Everyday addresses take the fast path; odd ones are left to email-validator."""
    assert plain_email("Jane.Doe+jobs@Mail.Example.COM") == "Jane.Doe+jobs@mail.example.com"
    assert plain_email("o'brien@example.com") is None
    assert plain_email("jane@example.invalid") is None
