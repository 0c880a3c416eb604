"""The outbox mailer, the default: one `.eml` file per email, needing no account.

Each file is written to a temporary name and renamed into place, so a file either holds
the whole message or does not exist; that is why an existing file counts as delivered when
a run reconciles. `X-Unsent: 1` makes Outlook and Thunderbird open it as a draft to send.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from breadcrumbs.errors import DeliveryFailed
from breadcrumbs.records import Delivery, Mode, OutgoingEmail

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(key: str) -> str:
    """A name safe on any file system, unique per key: readable part plus a short hash."""
    readable = _UNSAFE_NAME.sub("_", key).strip("._")[:80]
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}.eml"


class OutboxMailer:
    mode: Mode = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, key: str) -> Path:
        return self.folder / file_name(key)

    def deliver(self, email: OutgoingEmail) -> Delivery:
        target = self.path_for(email.key)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(b"X-Unsent: 1\r\n")
                handle.write(email.raw)
            os.replace(temporary, target)
        except OSError as exc:
            with contextlib.suppress(OSError):  # the folder itself may be what failed
                temporary.unlink(missing_ok=True)
            raise DeliveryFailed(f"cannot write {target}: {exc.strerror}") from None
        return Delivery("written", target.name)

    def remove_partial_files(self) -> int:
        """Temporary files a killed run left behind (only called under the workspace lock,
        so no other run is writing one now). Never a finished .eml."""
        removed = 0
        for path in self.folder.glob(".*.tmp") if self.folder.is_dir() else []:
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        target = self.path_for(email.key)
        return Delivery("written", target.name) if target.exists() else None
