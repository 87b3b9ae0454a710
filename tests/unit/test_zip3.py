"""ZIP code to state and time zone, from the shared 3-digit prefix table (careline_platform.zip3).

The known ZIPs below are checked against the USPS L002 3-Digit ZIP Code Prefix Matrix (which
prefixes exist) and the Census Bureau's 2020 ZCTA relationship files (which state a prefix's
ZIPs are in), as recorded in the module docstring.
"""

from __future__ import annotations

from importlib.resources import files

import pytest

from careline_platform.zip3 import TABLE_FILE, lookup, state_for_zip, time_zone_for_zip, zip3_table


@pytest.mark.parametrize(
    ("zip5", "state"),
    [
        ("60614", "IL"),  # Chicago, Lincoln Park
        ("10001", "NY"),
        ("94110", "CA"),
        ("77002", "TX"),
        ("33101", "FL"),
        ("02108", "MA"),
        ("01001", "MA"),  # 010: sorted at Hartford CT, but the ZIPs are in Massachusetts
        ("39901", "GA"),  # 399: sorted at Tallahassee FL, but Atlanta's IRS ZIPs are Georgia
        ("05501", "MA"),  # 055: Andover IRS, inside Vermont's 050-059 block
        ("20500", "DC"),
        ("20101", "VA"),  # 201: Northern Virginia, inside DC's 200-205 block
        ("00901", "PR"),
        ("00802", "VI"),
        ("96910", "GU"),
        ("96813", "HI"),
        ("99501", "AK"),
        ("79901", "TX"),  # El Paso
        ("88510", "TX"),  # 885: El Paso, inside New Mexico's block
        ("60614-1234", "IL"),  # ZIP+4
    ],
)
def test_known_zips_are_in_their_state(zip5: str, state: str) -> None:
    assert state_for_zip(zip5) == state


@pytest.mark.parametrize("zip5", ["", "6061", "606145", "abcde", "00001", "09001", "34001", "96201"])
def test_malformed_unassigned_and_military_zips_have_no_state(zip5: str) -> None:
    """Not five digits, an unassigned prefix or an APO/FPO prefix gives None, never a guess."""
    assert lookup(zip5) is None
    assert state_for_zip(zip5) is None


def test_state_and_zone_come_from_the_same_row() -> None:
    assert time_zone_for_zip("60614") == "America/Chicago"
    assert time_zone_for_zip("32501") == "America/Chicago"  # Pensacola: Florida's western panhandle
    assert state_for_zip("32501") == "FL"


def test_every_row_names_a_known_state_and_every_state_is_present() -> None:
    """50 states, DC, Puerto Rico, the Virgin Islands and Guam: 54 codes, two letters each."""
    states = {row.state for row in zip3_table().values()}
    assert len(states) == 54
    assert all(len(code) == 2 and code.isupper() for code in states)
    assert {"IL", "CA", "TX", "FL", "NY", "DC", "PR", "VI", "GU"} <= states


def test_the_csv_ships_inside_the_package() -> None:
    """The table is package data of the shared library, so every service's wheel has it."""
    resource = files("careline_platform").joinpath("data", TABLE_FILE)
    assert resource.is_file()
    assert resource.read_text(encoding="utf-8").startswith("zip3,state,time_zone\n")
