"""Which region a destination phone number is in, and whether outbound SMS may go there.

Outbound SMS go only to the regions of ``SMS_ALLOWED_REGIONS`` (by default the US and Canada),
because texts to some destinations cost far more than others and are what SMS pumping fraud
makes a service send. +1 is not only the US and Canada: the North American Numbering Plan also
covers 18 Caribbean and Atlantic countries (Jamaica, the Dominican Republic, ...), whose area
codes come from the package data ``data/nanp_regions.toml`` (its sources and the date it was
checked are in the file). US territories (Puerto Rico, Guam, ...) are the US.

Every other +1 area code is taken as the US or Canada, which the data does not tell apart: such
a number is allowed only when both are. A new non-US/CA area code missing from the data would
therefore be texted; an explicit list of every US and Canadian code would fail closed instead,
but go stale the other way (refusing caregivers on each new US overlay), and no complete
official list of those could be checked. Numbers outside +1 belong to no known region.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

US, CA = "US", "CA"
DEFAULT_ALLOWED = frozenset({US, CA})
DATA_FILE = "nanp_regions.toml"
_NANP = re.compile(r"^\+1([2-9][0-9]{2})[0-9]{7}$")


@dataclass(frozen=True)
class Destination:
    """Where a number goes: the region codes it may belong to (none when unknown) and a label
    for logs and job errors that never contains the number itself."""

    regions: frozenset[str]
    label: str

    def allowed_by(self, allowed: frozenset[str]) -> bool:
        """True only when every region the number may be in is allowed (unknown: never)."""
        return bool(self.regions) and self.regions <= allowed


@dataclass(frozen=True)
class NanpTable:
    """Area code -> (region code, name) for the NANP outside the mainland US and Canada."""

    areas: dict[str, tuple[str, str]]

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(region for region, _name in self.areas.values())


@cache
def nanp_table() -> NanpTable:
    """The packaged table, read once per process."""
    text = files("careline_platform").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    areas: dict[str, tuple[str, str]] = {}
    for country in data["country"]:
        for code in country["area_codes"]:
            areas[code] = (country["region"], country["name"])
    for territory in data["us_territory"]:
        for code in territory["area_codes"]:
            areas[code] = (US, territory["name"])
    return NanpTable(areas)


def classify(phone: str) -> Destination:
    """The region of an E.164 number (``+18765550100`` -> Jamaica)."""
    if not phone.startswith("+1"):
        if re.fullmatch(r"\+[1-9][0-9]{6,14}", phone):
            return Destination(frozenset(), "outside the North American Numbering Plan (+1)")
        return Destination(frozenset(), "not an E.164 phone number")
    match = _NANP.fullmatch(phone)
    if match is None:
        return Destination(frozenset(), "not a valid +1 number")
    area = match.group(1)
    known = nanp_table().areas.get(area)
    if known is None:
        return Destination(DEFAULT_ALLOWED, f"+1 {area} (US or Canada)")
    region, name = known
    return Destination(frozenset({region}), f"+1 {area} ({name}, {region})")


def parse_allowed(text: str | Iterable[str]) -> frozenset[str]:
    """The region codes of a ``SMS_ALLOWED_REGIONS`` value ("US,CA"); ValueError naming what is
    wrong when a code is unknown, or when only one of US and CA is given."""
    items = text.split(",") if isinstance(text, str) else list(text)
    codes = frozenset(item.strip().upper() for item in items if item.strip())
    known = DEFAULT_ALLOWED | nanp_table().regions
    unknown = sorted(codes - known)
    if unknown:
        names, allowed = ", ".join(unknown), ", ".join(sorted(known))
        raise ValueError(f"unknown region(s) {names}: only NANP regions can be allowed ({allowed})")
    if len(codes & DEFAULT_ALLOWED) == 1:
        raise ValueError("US and CA can only be allowed together: +1 numbers do not tell them apart")
    return codes
