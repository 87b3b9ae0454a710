"""A caregiver's time zone from their ZIP code.

The 3-digit prefix table is shared with the conversation service (which needs the state) and
lives in ``careline_platform.zip3``, with its sources and its limits; this module is the
profile service's view of it: the zone only.
"""

from __future__ import annotations

from careline_platform.zip3 import time_zone_for_zip, zip3_table

__all__ = ["time_zone_for_zip", "zip3_table"]
