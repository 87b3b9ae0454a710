"""A US ZIP code's state and time zone, from its 3-digit prefix.

The table (``data/zip3.csv``, shipped in this package) has one row per prefix: the state,
district or territory (USPS code) and the IANA zone where most of that prefix lives. Both the
profile service (quiet hours in the caregiver's own zone) and the conversation service (resources
in the caregiver's state) read it, so it lives here once.

Where the columns come from:

- ``zip3``: the prefixes the USPS L002 "3-Digit ZIP Code Prefix Matrix" assigns to civilian
  addresses (https://fast.usps.com/fast/fastApp/resources/labelListFiles.action; an archived
  edition: https://pe.usps.com/Archive/HTML/DMMArchive20110102/L002.htm). Military prefixes
  (APO/FPO: 090-098, 340, 962-966) and unassigned prefixes are absent: their ZIPs give None.
  851 and 876 are also absent (the time-zone table never held them), so they give None too.
- ``state``: where the ZIPs of the prefix are, not where L002's sorting plant is (010-012 sort
  to Hartford CT but are Massachusetts; 398-399 sort to Tallahassee FL but are Georgia). Taken
  from a public compilation of L002 with the Census Bureau's 2020 ZCTA relationship files
  (https://www.census.gov/geographies/reference-files/time-series/geo/relationship-files.html),
  read on 2026-11-30, and checked here against the time-zone column (every state's prefixes fall
  in that state's zones). 969 is Guam and also the Northern Mariana Islands, Palau, Micronesia and
  the Marshall Islands; it is recorded as GU. A prefix is one state, so a ZIP in a prefix shared
  across a state line (Fishers Island NY, 06390, is in Connecticut's 063) gets the prefix's state.
- ``time_zone``: state-level work, refined only where a state is split along well-known lines
  (Florida's western panhandle, Tennessee, Kentucky, Indiana, the Dakotas, Nebraska's panhandle,
  El Paso, Idaho, eastern Oregon); a caregiver near a time-zone line may be an hour off.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

TABLE_FILE = "zip3.csv"
_ZIP = re.compile(r"(\d{5})(?:-\d{4})?")


@dataclass(frozen=True)
class Zip3:
    """What a 3-digit ZIP prefix tells: the USPS state code and the IANA time zone."""

    state: str
    time_zone: str


def zip3_of(zip5: str) -> str | None:
    """The 3-digit prefix of a US ZIP code ("10001" or ZIP+4), or None when malformed."""
    match = _ZIP.fullmatch(zip5.strip())
    return None if match is None else match.group(1)[:3]


def lookup(zip5: str) -> Zip3 | None:
    """State and time zone of a ZIP code, or None when malformed, military or unassigned."""
    prefix = zip3_of(zip5)
    return None if prefix is None else zip3_table().get(prefix)


def state_for_zip(zip5: str) -> str | None:
    """The USPS state code ("IL", "PR", "DC") of a ZIP code, or None when unknown."""
    found = lookup(zip5)
    return None if found is None else found.state


def time_zone_for_zip(zip5: str) -> str | None:
    """The IANA time zone of a ZIP code, or None when unknown."""
    found = lookup(zip5)
    return None if found is None else found.time_zone


@cache
def zip3_table() -> dict[str, Zip3]:
    """3-digit prefix -> Zip3, read from the packaged CSV once per process."""
    text = files("careline_platform").joinpath("data", TABLE_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {row["zip3"]: Zip3(row["state"], row["time_zone"]) for row in rows}
