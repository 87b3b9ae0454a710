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


def checkout_message(url: str) -> str:
    """The once-a-day note to a caregiver whose trial or subscription ended."""
    return (
        "Your Careline trial has ended. To keep talking with me, you can subscribe here: "
        f"{url} . In a crisis, call or text 988 any time."
    )
