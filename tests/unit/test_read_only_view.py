"""A handler that only reads cannot write by mistake: the type checker refuses it."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = """
from datetime import datetime
from careline_platform.uow import ReadDb, WriteDb
from careline_profile.repository import ProfileUow

async def snippet(read: ReadDb, write: WriteDb, uow: ProfileUow, now: datetime) -> None:
"""


def check(body: str, tmp_path: Path) -> tuple[int, str]:
    source = tmp_path / "snippet.py"
    source.write_text(PRELUDE + "".join(f"    {line}\n" for line in body.splitlines()))
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache"), str(source)]
    )
    return status, out + err


def test_writing_through_the_read_only_view_is_a_type_error(tmp_path: Path) -> None:
    status, report = check(
        'await read["user_profiles"].update_one({"_id": "u"}, {"$set": {"x": 1}})\n'
        'await uow.read().set_fields("u", {"x": 1}, now)',
        tmp_path,
    )
    assert status == 1, report
    assert '"ReadCollection" has no attribute "update_one"' in report
    assert '"ProfileReader" has no attribute "set_fields"' in report


def test_the_same_writes_inside_a_transaction_type_check(tmp_path: Path) -> None:
    status, report = check(
        'await write["user_profiles"].update_one({"_id": "u"}, {"$set": {"x": 1}})\n'
        "async with uow.begin() as tx:\n"
        '    await tx.repo.set_fields("u", {"x": 1}, tx.now)\n'
        "await uow.read().read_caregiver('u')",
        tmp_path,
    )
    assert status == 0, report
