"""Ingress's pure rules: what a verified webhook becomes, with no I/O (unit-tested)."""
