"""Is the elevator pitch short and plain? The seed: no more than 30 seconds, in words anyone
understands. Speaking pace is about 150 words a minute; plainness is Flesch reading ease,
with syllables counted by Pyphen's hyphenation dictionary (bundled, no downloads).
"""

from __future__ import annotations

import re
from functools import lru_cache

WORDS_PER_MINUTE = 150
MAX_SECONDS = 30
MIN_READING_EASE = 50.0  # below 50 reads like a technical paper ("fairly difficult")


@lru_cache(maxsize=1)
def _dictionary() -> object:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    hyphenated = _dictionary().inserted(word.lower())  # type: ignore[attr-defined]
    return max(1, hyphenated.count("-") + 1)


def reading_ease(text: str) -> float:
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    sentences = max(1, len(re.findall(r"[.!?]+(\s|$)", text.strip())))
    if not words:
        return 100.0
    total = sum(syllables(w) for w in words)
    return 206.835 - 1.015 * (len(words) / sentences) - 84.6 * (total / len(words))


def speaking_seconds(text: str) -> float:
    return len(text.split()) / WORDS_PER_MINUTE * 60


def check_pitch(pitch: str) -> list[str]:
    """Warnings, in words a user can act on; empty when the pitch is fine."""
    if not pitch.strip():
        return ["[me] pitch is empty: write the 30-second version of what you do and want"]
    warnings = []
    seconds = speaking_seconds(pitch)
    if seconds > MAX_SECONDS:
        warnings.append(
            f"the pitch takes about {seconds:.0f} seconds to say ({len(pitch.split())} words); "
            f"keep it under {MAX_SECONDS} seconds (about 75 words)"
        )
    ease = reading_ease(pitch)
    if ease < MIN_READING_EASE:
        warnings.append(
            f"the pitch reads hard for someone outside your field (reading ease {ease:.0f}, "
            f"aim for {MIN_READING_EASE:.0f} or more): shorter sentences, everyday words"
        )
    return warnings
