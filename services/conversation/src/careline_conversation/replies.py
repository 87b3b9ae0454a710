"""What the line says: pure functions from what we know to the text of a reply."""

from __future__ import annotations

WELCOME = (
    "Hi, this is Careline, a text line for family caregivers. I'm here to listen and help you "
    "find support. I'm not an emergency service: in an emergency call 911. "
    "Reply HELP for help, STOP to opt out."
)

_ACKS = (
    ("tired", "That sounds exhausting. Rest matters for you too."),
    ("overwhelm", "That sounds like a lot to carry at once."),
    ("thank", "You're welcome. I'm glad you reached out."),
    ("stress", "Caregiving stress is real, and it makes sense you feel it."),
)


GENTLE = (
    "I'm glad you wrote. I'm here with you, and you can tell me anything. "
    "If things get hard again, you can call or text 988 any time."
)


def rules_reply(body: str, *, post_crisis: bool = False) -> str:
    """A warm, short reply without AI: acknowledge, reflect, offer a next step.

    In the day after a crisis there is no pitch of any kind: only presence and the 988 line.
    """
    if post_crisis:
        return GENTLE
    lowered = body.lower()
    for word, ack in _ACKS:
        if word in lowered:
            return f"{ack} Would a quick check-in on how you're doing help? Reply CHECK IN."
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
