"""The ledger's JSON of a Due (ledger.due_to_json), written field by field, is byte for byte
what the standard library's JSON encoder writes for it: the ledger's copy of every email's
facts must not change (issue 11 made it cheaper, not different)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.records import Due
from breadcrumbs.store.ledger import due_from_json, due_to_json


def encoder_json(due: Due) -> str:
    """What due_to_json wrote before: a dict of the fields, dates as ISO text, encoded."""
    values = {
        f.name: (v.isoformat() if isinstance(v, date) else v)
        for f in fields(Due)
        for v in [getattr(due, f.name)]
    }
    return json.JSONEncoder().encode(values)


_TEXT = st.text(max_size=12)
_DAYS = st.none() | st.dates()
_DUES = st.builds(
    Due,
    key=_TEXT,
    kind=st.sampled_from(["thank-you", "intro", "monthly"]) | _TEXT,
    contact_id=_TEXT,
    email=_TEXT,
    name=_TEXT,
    first_name=_TEXT,
    company=_TEXT,
    title=_TEXT,
    for_date=_DAYS,
    conversation_kind=_TEXT,
    topic=_TEXT,
    referrals=st.lists(_TEXT, max_size=3).map(tuple),
    referrer_name=_TEXT,
    month=_TEXT,
    last_talked_on=_DAYS,
    referred=st.lists(st.tuples(_TEXT, _TEXT, _TEXT), max_size=3).map(tuple),
)


@settings(max_examples=400, deadline=None)
@given(_DUES)
def test_a_dues_json_is_the_encoders(due: Due) -> None:
    assert due_to_json(due) == encoder_json(due)
    assert due_from_json(due_to_json(due)) == due


@settings(max_examples=100, deadline=None)
@given(
    _DUES,
    st.sampled_from(["topic", "referrals", "referred", "title"]),
    st.one_of(
        st.integers(),
        st.booleans(),
        st.floats(allow_nan=False),
        st.lists(_TEXT, max_size=2),
        st.tuples(st.integers()),
    ),
)
def test_a_due_holding_a_value_of_another_type_is_written_as_the_encoder_writes_it(
    due: Due, field: str, value: Any
) -> None:
    odd = Due(**{**{f.name: getattr(due, f.name) for f in fields(Due)}, field: value})
    assert due_to_json(odd) == encoder_json(odd)
