"""Unit tests of the profile service's pure domain modules."""
