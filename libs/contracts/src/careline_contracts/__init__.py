"""Careline's shared contracts: event models and subjects. Imported, never run."""
