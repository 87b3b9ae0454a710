"""The region of a destination number, the allow-list of outbound SMS and its packaged data."""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files

import pytest
from pydantic import ValidationError

from careline_platform import regions
from careline_platform.settings import Settings

DEFAULT = regions.DEFAULT_ALLOWED


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        pytest.param("+14155550101", {"US", "CA"}, id="us-san-francisco"),
        pytest.param("+16135550123", {"US", "CA"}, id="canada-ottawa"),
        pytest.param("+17875550100", {"US"}, id="puerto-rico-is-us"),
        pytest.param("+16715550100", {"US"}, id="guam-is-us"),
        pytest.param("+18765550100", {"JM"}, id="jamaica-876"),
        pytest.param("+16585550100", {"JM"}, id="jamaica-658"),
        pytest.param("+18095550100", {"DO"}, id="dominican-809"),
        pytest.param("+18295550100", {"DO"}, id="dominican-829"),
        pytest.param("+12685550100", {"AG"}, id="antigua-268"),
        pytest.param("+447700900123", set(), id="uk"),
        pytest.param("+1876555", set(), id="short-plus-one"),
        pytest.param("+10005550100", set(), id="area-code-starting-0"),
        pytest.param("4155550101", set(), id="no-plus"),
        pytest.param("+1 415 555 0101", set(), id="spaces"),
        pytest.param("", set(), id="empty"),
    ],
)
def test_a_number_belongs_to_the_regions_of_its_country_code_and_area_code(
    phone: str, expected: set[str]
) -> None:
    assert regions.classify(phone).regions == expected


@pytest.mark.parametrize(
    ("phone", "allowed"),
    [
        pytest.param("+14155550101", True, id="us"),
        pytest.param("+16135550123", True, id="canada"),
        pytest.param("+19395550100", True, id="puerto-rico"),
        pytest.param("+18765550100", False, id="jamaica"),
        pytest.param("+18495550100", False, id="dominican-849"),
        pytest.param("+447700900123", False, id="uk"),
        pytest.param("+1415555010", False, id="malformed"),
    ],
)
def test_the_default_allow_list_is_the_us_and_canada_only(phone: str, allowed: bool) -> None:
    assert regions.classify(phone).allowed_by(DEFAULT) is allowed


def test_an_allowed_caribbean_country_lets_its_numbers_through_and_only_them() -> None:
    allowed = regions.parse_allowed("US,CA,JM")
    assert regions.classify("+18765550100").allowed_by(allowed)
    assert not regions.classify("+18095550100").allowed_by(allowed)


def test_a_mainland_number_needs_both_us_and_ca_since_it_may_be_either() -> None:
    assert not regions.classify("+14155550101").allowed_by(frozenset({"US"}))
    assert not regions.classify("+14155550101").allowed_by(frozenset())


@pytest.mark.parametrize(
    ("phone", "label"),
    [
        ("+18765550100", "+1 876 (Jamaica, JM)"),
        ("+447700900123", "outside the North American Numbering Plan (+1)"),
        ("+1415555010", "not a valid +1 number"),
        ("not a number", "not an E.164 phone number"),
    ],
)
def test_the_label_names_the_region_and_never_the_number(phone: str, label: str) -> None:
    destination = regions.classify(phone)
    assert destination.label == label
    assert "5550100" not in destination.label and "900123" not in destination.label


def test_the_allow_list_setting_is_read_case_and_space_insensitively() -> None:
    assert regions.parse_allowed(" us , ca ,jm,") == {"US", "CA", "JM"}
    assert Settings(_env_file=None).sms_regions == {"US", "CA"}  # type: ignore[call-arg]
    assert Settings(_env_file=None, sms_allowed_regions="CA,US,DO").sms_regions == {"US", "CA", "DO"}  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("US,CA,GB", "unknown region(s) GB", id="outside-nanp"),
        pytest.param("US,CA,XX", "unknown region(s) XX", id="not-a-region"),
        pytest.param("US", "US and CA can only be allowed together", id="us-alone"),
        pytest.param("CA,JM", "US and CA can only be allowed together", id="ca-alone"),
    ],
)
def test_a_setting_the_classifier_cannot_honour_refuses_to_start(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        regions.parse_allowed(value)
    with pytest.raises(ValidationError, match=re.escape(problem)):
        Settings(_env_file=None, sms_allowed_regions=value)  # type: ignore[call-arg]


def packaged() -> dict[str, object]:
    text = files("careline_platform").joinpath("data", regions.DATA_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_data_names_its_sources_and_the_date_it_was_checked() -> None:
    data = packaged()
    assert data["checked"] == "2026-11-30"
    sources = data["source"]
    assert isinstance(sources, list)
    assert {s["url"] for s in sources} >= {
        "https://cnac.ca/about/na_numbering_plan.htm",
        "https://nationalnanpa.com/area_codes/index.html",
    }


def test_the_data_holds_each_area_code_once_in_nanp_form() -> None:
    data = packaged()
    entries = [*data["country"], *data["us_territory"]]  # type: ignore[misc]
    codes = [code for entry in entries for code in entry["area_codes"]]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[2-9][0-9]{2}", code) for code in codes)


def test_the_data_covers_the_eighteen_non_us_canada_members_of_the_nanp() -> None:
    """The members named on the Canadian Numbering Administrator's page, each with a region code."""
    table = regions.nanp_table()
    assert table.regions == {
        "AI", "AG", "BS", "BB", "BM", "VG", "KY", "DM", "DO",
        "GD", "JM", "MS", "KN", "LC", "VC", "SX", "TT", "TC", "US",
    }  # fmt: skip
    for mainland in ("212", "415", "613", "416", "604"):  # US and Canadian codes stay off it
        assert mainland not in table.areas
