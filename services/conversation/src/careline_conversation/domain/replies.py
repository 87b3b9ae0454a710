"""What the line says: pure functions from what we know to the text of a reply."""

from __future__ import annotations

WELCOME = (
    "Hi, this is Careline, a text line for family caregivers. I'm here to listen and help you "
    "find support. I'm not an emergency service: in an emergency call 911. "
    "Reply HELP for help, STOP to opt out."
)

GENTLE = (
    "I'm glad you wrote. I'm here with you, and you can tell me anything. "
    "If things get hard again, you can call or text 988 any time."
)


# Distress gets warmth and an open question, never a questionnaire pitch: someone who says they
# are exhausted is heard first. Words are matched on the lower-cased message.
_DISTRESS = (
    (
        (
            "exhaust",
            "tired",
            "no sleep",
            "can't sleep",
            "cant sleep",
            "drained",
            "worn out",
            "burnt out",
            "burned out",
        ),
        "That sounds exhausting, and it makes sense you feel worn down.",
    ),
    (("overwhelm", "too much", "drowning", "so much"), "That sounds like a lot to carry at once."),
    (
        ("stress", "anxious", "anxiety", "scared", "worried", "afraid"),
        "That sounds really stressful, and your worry makes sense.",
    ),
    (
        ("cry", "crying", "cried", "sad", "heartbroken", "grief", "lonely", "alone"),
        "I'm sorry it hurts this much. You don't have to carry it alone.",
    ),
    (
        ("angry", "frustrat", "resent", "furious", "snapped"),
        "Feeling angry and worn out is human, especially with this much on you.",
    ),
)
_OPEN_QUESTION = " I'm here to listen. What's weighing on you most right now?"


def rules_reply(body: str, *, post_crisis: bool = False) -> str:
    """A warm, short reply without AI: acknowledge, reflect, offer a next step.

    Distress is answered with warmth and an open question, never a check-in pitch; in the day
    after a crisis there is no pitch of any kind, only presence and the 988 line.
    """
    if post_crisis:
        return GENTLE
    lowered = body.lower()
    for words, ack in _DISTRESS:
        if any(word in lowered for word in words):
            return ack + _OPEN_QUESTION
    if "thank" in lowered:
        return "You're welcome. I'm glad you reached out. I'm here whenever you want to talk."
    return (
        "Thanks for telling me. Caring for someone takes a lot. "
        "Would a quick check-in on how you're doing help? Reply CHECK IN."
    )


def checkout_message(url: str) -> str:
    """The once-a-day note to a caregiver whose trial or subscription ended."""
    return (
        "Your Careline trial has ended. To keep talking with me, you can subscribe here: "
        f"{url} . In a crisis, call or text 988 any time."
    )
