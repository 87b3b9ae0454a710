"""Conversation's pure rules that are not the turn itself: crisis paging and the on-call roster."""
