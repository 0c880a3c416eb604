"""The outbox mailer, the default: one `.eml` file per email, needing no account.

Each file is written to a temporary name and renamed into place, so a file either holds
the whole message or does not exist; that is why an existing file counts as delivered when
a run reconciles. `X-Unsent: 1` makes Outlook and Thunderbird open it as a draft to send.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from breadcrumbs.errors import DeliveryFailed
from breadcrumbs.outbox_names import file_name, legacy_file_name
from breadcrumbs.records import Delivery, Mode, OutgoingEmail

__all__ = ["OutboxMailer", "file_name", "legacy_file_name"]


# Outlook and Thunderbird open a file starting with this as a draft to send.
UNSENT = b"X-Unsent: 1\r\n"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (a signal, a nearly full disk): finish the job."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class OutboxMailer:
    mode: Mode = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, email: OutgoingEmail) -> Path:
        return self.folder / file_name(email)

    def deliver(self, email: OutgoingEmail) -> Delivery:
        # Plain os calls on string paths: at 10,000 files a batch, Path objects and a buffered
        # file per email cost more than the writing (issue 11). O_EXCL: never write into a
        # file we did not just create.
        name = file_name(email)
        folder = os.path.join(os.fspath(self.folder), "")  # with its separator
        target = folder + name
        temporary = f"{folder}.{name}.{os.getpid()}.tmp"
        try:
            try:
                fd = os.open(temporary, _CREATE, 0o644)
            except FileNotFoundError:  # the first email, or the folder was removed meanwhile
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(temporary, _CREATE, 0o644)
            try:
                data = UNSENT + email.raw
                done = os.write(fd, data)
                if done < len(data):  # rarely: a signal, a nearly full disk
                    _write_all(fd, data[done:])
            finally:
                os.close(fd)
            os.replace(temporary, target)
        except OSError as exc:
            with contextlib.suppress(OSError):  # the folder itself may be what failed
                os.unlink(temporary)
            raise DeliveryFailed(f"cannot write {target}: {exc.strerror}") from None
        return Delivery("written", name)

    def message_in(self, name: str) -> bytes:
        """The message a file written by `deliver` holds (OSError if it is gone)."""
        data = (self.folder / name).read_bytes()
        return data[len(UNSENT) :] if data.startswith(UNSENT) else data

    def remove_partial_files(self) -> int:
        """Temporary files a killed run left behind (only called under the workspace lock,
        so no other run is writing one now). Never a finished .eml."""
        removed = 0
        for path in self.folder.glob(".*.tmp") if self.folder.is_dir() else []:
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        for target in (self.path_for(email), self.folder / legacy_file_name(email.key)):
            if target.exists():
                return Delivery("written", target.name)
        return None
