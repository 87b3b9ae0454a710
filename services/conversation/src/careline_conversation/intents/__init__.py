"""What a caregiver's text is about, and the vetted tips the rules agent answers it with."""

from careline_conversation.intents.classifier import Classification, classify, intents

__all__ = ["Classification", "classify", "intents"]
