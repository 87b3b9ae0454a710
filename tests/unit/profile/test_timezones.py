"""ZIP code to time zone, from the packaged 3-digit prefix table."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import pytest

from careline_profile.domain.timezones import time_zone_for_zip, zip3_table


@pytest.mark.parametrize(
    ("zip5", "time_zone"),
    [
        ("10001", "America/New_York"),
        ("60601", "America/Chicago"),
        ("80202", "America/Denver"),
        ("85001", "America/Phoenix"),
        ("94110", "America/Los_Angeles"),
        ("96813", "Pacific/Honolulu"),
        ("99501", "America/Anchorage"),
        ("00901", "America/Puerto_Rico"),
        ("33101", "America/New_York"),
        ("75201", "America/Chicago"),
        ("02108", "America/New_York"),
        ("98101", "America/Los_Angeles"),
        ("32501", "America/Chicago"),  # Pensacola: Florida's western panhandle
        ("79901", "America/Denver"),  # El Paso
        ("37902", "America/New_York"),  # Knoxville, east Tennessee
        ("37203", "America/Chicago"),  # Nashville
        ("10001-1234", "America/New_York"),  # ZIP+4
    ],
)
def test_known_zips(zip5: str, time_zone: str) -> None:
    """Well-known ZIPs land in their city's zone."""
    assert time_zone_for_zip(zip5) == time_zone


@pytest.mark.parametrize("zip5", ["", "1234", "123456", "abcde", "00001", "09001", "96201"])
def test_malformed_unassigned_and_military_zips_are_unknown(zip5: str) -> None:
    """Not five digits, an unassigned prefix or an APO/FPO prefix gives None."""
    assert time_zone_for_zip(zip5) is None


def test_every_zone_in_the_table_is_a_valid_zoneinfo_key() -> None:
    """Each zone name loads with zoneinfo."""
    zones = {row.time_zone for row in zip3_table().values()}
    assert zones <= available_timezones()
    for name in zones:
        ZoneInfo(name)


def test_table_covers_the_states_from_005_to_999() -> None:
    """Prefixes are three digits from 005 to 999, with every state's block present."""
    table = zip3_table()
    assert len(table) > 850
    assert all(len(prefix) == 3 and prefix.isdigit() and "005" <= prefix <= "999" for prefix in table)
    for prefix in ("005", "100", "149", "600", "629", "800", "816", "850", "900", "961", "967", "995", "999"):
        assert prefix in table
