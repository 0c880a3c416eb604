"""Is the elevator pitch short and plain? Thirty seconds at 150 words a minute, and a
reading-ease score a non-specialist can follow (breadcrumbs/pitch.py)."""

from __future__ import annotations

import pytest

from breadcrumbs.pitch import check_pitch, reading_ease, speaking_seconds, syllables
from breadcrumbs.profile import load_profile
from breadcrumbs.workspace import SAMPLE_DIR

PLAIN = "I help small teams get their numbers right."  # 8 words, easy to read
JARGON = (
    "I architect scalable, cloud-native, event-driven data infrastructure leveraging "
    "distributed orchestration frameworks, facilitating enterprise-grade observability "
    "and governance."
)


def words(n: int) -> str:
    """A plain pitch of exactly n words, in short sentences."""
    sentence = PLAIN.split()
    out = [sentence[i % len(sentence)] for i in range(n)]
    return " ".join(w if (i + 1) % 8 else w.rstrip(".") + "." for i, w in enumerate(out))


@pytest.mark.parametrize(
    ("pitch", "warnings"),
    [
        pytest.param(words(75), [], id="75-words-is-30-seconds"),
        pytest.param(words(76), ["seconds to say (76 words)"], id="76-words-is-too-long"),
        pytest.param(words(100), ["takes about 40 seconds"], id="100-words"),
        pytest.param(JARGON, ["reads hard for someone outside your field"], id="jargon"),
        pytest.param(
            " ".join([JARGON] * 5),
            ["seconds to say", "reads hard"],
            id="long-and-jargon",
        ),
        pytest.param("", ["pitch is empty"], id="empty"),
        pytest.param("   \n ", ["pitch is empty"], id="blank"),
    ],
)
def test_check_pitch_warns_when_the_pitch_is_long_or_hard_to_follow(
    pitch: str, warnings: list[str]
) -> None:
    """Over 30 seconds said aloud, or a reading ease under 50: a warning saying what to do."""
    found = check_pitch(pitch)
    assert len(found) == len(warnings), found
    for warning, expected in zip(found, warnings, strict=True):
        assert expected in warning


def test_the_sample_pitch_passes_quietly() -> None:
    """The bundled job seeker's pitch is under 30 seconds and plain enough."""
    pitch = load_profile(SAMPLE_DIR / "profile.toml").me.pitch
    assert check_pitch(pitch) == []
    assert speaking_seconds(pitch) <= 30
    assert reading_ease(pitch) >= 50


@pytest.mark.parametrize(
    ("word", "count"),
    [("data", 2), ("help", 1), ("engineer", 3), ("infrastructure", 4), ("a", 1)],
)
def test_syllables_come_from_the_hyphenation_dictionary(word: str, count: int) -> None:
    """Pyphen's bundled en_US dictionary, no downloads; a word is at least one syllable."""
    assert syllables(word) == count


def test_reading_ease_ranks_plain_words_above_jargon() -> None:
    """Short sentences of short words score higher than one long sentence of long words."""
    assert reading_ease(PLAIN) > 80 > 0 > reading_ease(JARGON)
    assert reading_ease("") == 100.0
