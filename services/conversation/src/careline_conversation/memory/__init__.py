"""The caregiver's memory: facts the line keeps about them (``facts``), read from their own
words by a small extractor (``extract``) or stored by the OpenAI agent's ``remember`` tool, and
how relevant past messages and catalogue entries are picked for a reply (``similarity``)."""
