"""A caregiver's time zone from their ZIP code.

The table (``zip3_timezones.csv``, shipped in this package) maps each 3-digit ZIP prefix to
the IANA zone where most of that prefix lives. It is state-level work, refined only where a
state is split along well-known lines (Florida's western panhandle, Tennessee, Kentucky,
Indiana, the Dakotas, Nebraska's panhandle, El Paso, Idaho, eastern Oregon); a caregiver near
a time-zone line may be an hour off. Military prefixes (APO/FPO: 090-098, 340, 962-966) and
unassigned prefixes are absent, so their ZIPs give None and the caller's default applies.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from importlib.resources import files

TABLE_FILE = "zip3_timezones.csv"
_ZIP = re.compile(r"(\d{5})(?:-\d{4})?")


def time_zone_for_zip(zip5: str) -> str | None:
    """The IANA time zone of a US ZIP code ("10001" or ZIP+4), or None when unknown."""
    match = _ZIP.fullmatch(zip5.strip())
    if match is None:
        return None
    return zip3_table().get(match.group(1)[:3])


@cache
def zip3_table() -> dict[str, str]:
    """3-digit ZIP prefix -> IANA zone, read from the packaged CSV once per process."""
    text = files("careline_profile.domain").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return {row["zip3"]: row["time_zone"] for row in csv.DictReader(io.StringIO(text))}
