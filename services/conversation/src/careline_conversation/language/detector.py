"""The language detector: lingua, restricted to English and Spanish, built once per process.

Lingua's high-accuracy mode is the one that works on text-message lengths (its low-accuracy
mode keeps only trigram models and, by its own documentation, loses accuracy under 120
characters; on ``evals/language`` it lost 3 points on texts of three words or more).
Its cost is in the models, not the builder: building takes a millisecond, and the English and
Spanish models load on the first detection, about 1.5 to 2 s of CPU and some 95 MB of resident
memory, once per process. So the detector is built lazily and cached (tests share one per
process), the service warms it in a worker thread at start (``warm_in_background``: lingua
releases the GIL while it loads, so the event loop keeps running), and the handler calls
``detect_language`` through a thread too, so a message that arrives before the models are in
waits without blocking other caregivers' messages. After that a detection takes well under a
millisecond, and the handler asks only for a caregiver's first messages.
"""

from __future__ import annotations

import asyncio
import re
from functools import cache
from typing import TYPE_CHECKING

from careline_conversation.domain.language import Detection, Language

if TYPE_CHECKING:
    from lingua import LanguageDetector

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_KEEP = re.compile(r"[^\w\s'\u2019¿¡?!.,]|\d|_")
_warming: set[asyncio.Future[None]] = set()


@cache
def detector() -> LanguageDetector:
    """The one detector of this process (English and Spanish only, high accuracy)."""
    from lingua import Language as Lingua
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Lingua.ENGLISH, Lingua.SPANISH).build()


def words(text: str) -> list[str]:
    """The words of a text message: letters (accented or not) and inner apostrophes; no
    numbers, emojis or links."""
    return _WORD.findall(_URL.sub(" ", text))


def detect_language(text: str) -> Detection:
    """The language ``text`` is most likely in, how sure the detector is, and its word count.

    Emojis, digits and links are dropped first (they say nothing about the language); Spanish
    punctuation (¿ ¡) stays, since it is a signal.
    """
    counted = words(text)
    if not counted:
        return Detection(None, 0.0, 0)
    cleaned = " ".join(_KEEP.sub(" ", _URL.sub(" ", text)).split())
    values = detector().compute_language_confidence_values(cleaned)
    best = values[0]
    code: Language = "es" if best.language.iso_code_639_1.name == "ES" else "en"
    return Detection(code, float(best.value), len(counted))


def warm() -> None:
    """Load the models now (a detection of a few words), so the first caregiver does not wait."""
    detect_language("warm up the detector")


async def warm_in_background() -> None:
    """Start loading the models in a worker thread and return at once (a start-up step)."""
    future = asyncio.get_running_loop().run_in_executor(None, warm)
    _warming.add(future)
    future.add_done_callback(_warming.discard)


async def detect_in_thread(text: str) -> Detection:
    """``detect_language`` off the event loop (the first call may wait for the models)."""
    return await asyncio.to_thread(detect_language, text)
