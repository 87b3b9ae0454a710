"""`make bench-scale` works: the harness, at a tiny size, measures every figure the README quotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # started first (tests/conftest.py)
@pytest.mark.timeout(300)
def test_tiny_bench_scale_writes_every_figure(tmp_path: Path) -> None:
    """60 then 120 caregivers, 10 due at each size: both scans start exactly the due ones and read
    no one else, and the report holds the scan, rollup, backfill, capacity and round-trip figures."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench_scale.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=290,
        cwd=ROOT,
        env={**os.environ, "CARELINE_ZYGOTE": "1"},  # its services forked warm, as the suite's are
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert [s["size"] for s in result["sizes"]] == [60, 120]
    for size in result["sizes"]:
        assert size["profiles"] == size["size"]  # every seeded caregiver arrived through the backfill
        assert size["scan"]["started"] == size["scan"]["read"] == 10  # the due ones, and only they
        assert size["rescan"]["read"] == 0  # nobody is read twice
        assert size["scan_ms"] > 0 and size["rollup_ms"] > 0 and size["scan_round_trips"] > 0
        assert size["backfill"]["users"] > 0 and size["backfill"]["users_per_s"] > 0
    assert result["scan_ratio"] > 0 and result["targets"][0]["name"] == "scan_ratio"
    assert result["steps"] and all(s["replied"] == s["messages"] for s in result["steps"])
    assert result["capacity_texts_per_s"] >= 1  # the line answers one text a second within 1 s
    trips = result["round_trips"]
    assert trips["texts"] > 0 and trips["gross_per_text"] > 0
    assert set(trips["by_service"]) == {"ingress", "conversation", "billing", "profile"}
    assert trips["by_service"]["conversation"] > 0  # the turn reads and writes its state
    table = (tmp_path / "result.md").read_text()
    assert "| 120 |" in table and "scan ratio" in table and "round trips per inbound text" in table
