"""Careline operator CLI: jobs and dead letters across the four services."""
