"""Conversation's pure rules: the turn and what it decides from (onboarding, replies, rate
limits, resources), crisis paging and the on-call roster. No I/O here; the safety checks the
turn relies on are their own package (``careline_conversation.safety``)."""
