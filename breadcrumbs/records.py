"""The records that pass between stages: a due email, the email composed from it, and the
outgoing message a mailer delivers.

They live apart from the stages so that every stage may import them and no stage imports
another sideways: detect makes `Due`, compose makes `Composed`, the ledger and the mailers
take `OutgoingEmail`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar, overload

from breadcrumbs.collector import collector_paused

T = TypeVar("T")

Mode = Literal["outbox", "drafts", "send"]
DeliveredState = Literal["written", "drafted", "sent"]


@dataclass(frozen=True)
class OutgoingEmail:
    key: str  # the ledger key, e.g. "thank-you:i:3f2a..." — also names outbox files
    to_addr: str  # the bare recipient address, already validated
    subject: str
    message_id: str  # "<...@...>", deterministic per ledger row
    raw: bytes  # the complete RFC 5322 message, CRLF line endings
    planned_at: datetime  # when the ledger row was created (UTC), bounds mailbox searches
    # Outbox only: the file name the ledger recorded when it planned the email without its
    # message (store/ledger.py plan); None: the name comes from the message itself.
    file_name: str | None = None


@dataclass(frozen=True)
class Delivery:
    state: DeliveredState
    provider_id: str | None = None  # Gmail message or draft id; outbox file name
    stored_message_id: str | None = None  # the Message-ID the provider kept, if it says


@dataclass(frozen=True)
class Due:
    """One email the rules say should go now, with everything its template may use."""

    key: str
    kind: str  # "thank-you" | "intro" | "monthly"
    contact_id: str
    email: str
    name: str
    first_name: str
    company: str = ""
    title: str = ""
    for_date: date | None = None  # the conversation's date, for thank-yous
    conversation_kind: str = ""
    topic: str = ""
    referrals: tuple[str, ...] = ()
    referrer_name: str = ""
    referrer_first_name: str = ""
    referrer_company: str = ""
    reason: str = ""  # why it is due, in words, for `breadcrumbs due`
    # Monthly updates: the month ("YYYY-MM"; for_date is its first day), the last
    # conversation (its kind and topic above), and the people this reader referred that
    # something came of lately: (name, talked on, written to on), the days as ISO text or ""
    # (plain strings, so the ledger's JSON copy of a Due gives them back as they were).
    month: str = ""
    last_talked_on: date | None = None
    referred: tuple[tuple[str, str, str], ...] = ()


@dataclass
class Composed:
    due: Due
    email: OutgoingEmail
    text: str
    html: str = field(repr=False)


@dataclass(slots=True)
class Reject:
    """A refused row or cell, a merged conflict or a warning: file, row, column and why.
    Here, not in validate.py, because a follow-up reports the last sync's rejects without
    validating anything (and without importing email-validator)."""

    file: str
    row: int
    column: str
    value: str
    reason: str
    severity: str  # "row" refused, "cell" refused, "conflict" merged, "warning" loaded


_UNBUILT: Any = object()
_BATCH = 1024  # items built at a time when a Lazy is iterated


class Lazy(Sequence[T]):
    """A list whose items are built from fetched rows, each the first time it is read.

    Detect fetches every list whole (who is due, who waits, who is going cold), but a run
    reads few of their items: the daily cap's worth is composed, forty waiting are shown.
    Building a record from its row (a frozen dataclass, a reason in words) costs more than
    fetching the row, so `rows` are kept as fetched and `make` builds an item when it is
    read, once. Read whole, it is the list built up front: equal to it, item for item.
    """

    __slots__ = ("_built", "_make", "rows")

    def __init__(self, rows: list[Any], make: Callable[[Any], T]) -> None:
        self.rows = rows
        self._make = make
        self._built: list[Any] = [_UNBUILT] * len(rows)

    @classmethod
    def of(cls, items: Iterable[T]) -> Lazy[T]:
        """Items already built, as a Lazy."""
        return cls(list(items), _itself)

    def made_by(self, make: Callable[[Any], T]) -> bool:
        """Whether `rows` are rows `make` builds items from (not items, nor another list's)."""
        return self._make is make

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self.rows)))]
        item = self._built[index]
        if item is _UNBUILT:
            item = self._built[index] = self._make(self.rows[index])
        return item

    def __iter__(self) -> Iterator[T]:
        rows, built = self.rows, self._built
        for start in range(0, len(rows), _BATCH):
            end = min(start + _BATCH, len(rows))
            self._build(start, end)
            yield from built[start:end]

    def _build(self, start: int, end: int) -> None:
        """Build the items from `start` to `end` without cyclic garbage collection: none
        of them is in a cycle, and each full collection walked every fetched row again (a
        third of building 100,000 items). Only while building: the reader's own work on
        the items goes on with collection as it was."""
        built, rows, make = self._built, self.rows, self._make
        with collector_paused():
            for n in range(start, end):
                if built[n] is _UNBUILT:
                    built[n] = make(rows[n])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lazy | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[T]) -> Lazy[T]:
        return _joined(self, other)

    def __radd__(self, other: Sequence[T]) -> Lazy[T]:
        return _joined(other, self)

    def __repr__(self) -> str:
        return f"Lazy({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lazy.of, (list(self),))


def _itself(item: T) -> T:
    return item


def _joined(first: Sequence[T], second: Sequence[T]) -> Lazy[T]:
    """Both, in order, each item still built when read (and once: by its own list)."""
    n = len(first)
    return Lazy(list(range(n + len(second))), lambda i: first[i] if i < n else second[i - n])
